"""Per-layer budgets: one sparsity and one number of shared values for every layer (biases too).

One global sparsity and one k for all layers leave storage on the table: the 64-300-100-10 MLP's
middle layer holds 60% of the weights and tolerates more pruning than its 1,000-weight output
layer, and its fp32 biases are ~1.6 KB of a ~5 KB packed file. These steps take one value per
layer, in ``lab.cost.weight_layers`` order (the Linear/Conv layers; a ``CoupledSystem``'s
coupling excluded), so a tuner can search them (``lab.tune``):

    prune_layers:0.9/0.97/0.6[:steps=4][:epochs=N][:lr=X]   magnitude pruning of layer l to sparsity s_l,
                                                            on the Zhu & Gupta schedule in ``steps`` steps,
                                                            fine-tuned with the masks held after each step
    kmeans_layers:8/4/16[:bias=8][:epochs=N][:lr=X]         k_l shared values in layer l (k-means,
                                                            centroid fine-tuning); ``bias=K`` also shares
                                                            each layer's biases into <= K values, which the
                                                            packed format then stores as a codebook

    model, report = prune_layers(model, LayerPruneConfig((0.9, 0.97, 0.6), steps=4), data=data)
    model, report = share_layers(model, LayerShareConfig((8, 4, 16), bias_clusters=8), data=data)

The pure parts are ``schedule`` (per-step targets) and ``parse_per_layer``; the recipe steps
(``lab.compress.recipe.STEPS``) call ``apply_prune_layers`` / ``apply_kmeans_layers``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..cost import MeasureConfig, Report, measure
from ..data.base import MultiTaskData
from .fit import FitConfig, fit
from .prune import apply_masks_inplace, check_sparsity, magnitude_mask
from .share import SharedWeight, finetune_codebooks, kmeans_codebook, shareable_layers

from .recipe_grammar import StepSpec
# ``options`` of the step functions is a ``lab.compress.recipe.RecipeOptions`` (recipe imports this module)

MAX_CLUSTERS = 1 << 16


def parse_per_layer(text: str, what: str, kind: type = float) -> tuple:
    """``"0.9/0.97/0.6"`` -> (0.9, 0.97, 0.6): one value per layer, ``/``-separated."""
    parts = [p.strip() for p in str(text).split("/")]
    try:
        values = tuple(kind(p) if kind is float else int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{what}: one {'number' if kind is float else 'integer'} per layer separated by '/', "
                         f"e.g. {'0.9/0.97/0.6' if kind is float else '8/4/16'}; got {text!r}") from None
    return values


def _check_layers(model: nn.Module, count: int, what: str) -> dict[str, nn.Module]:
    layers = shareable_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv weights, so {what} does not apply")
    if count != len(layers):
        raise ValueError(f"{what} gives {count} value(s) for the model's {len(layers)} layers {list(layers)}: "
                         "give one per layer, separated by '/'")
    return layers


# --- per-layer pruning -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerPruneConfig:
    """``sparsity``: the fraction of zeros for each layer, in [0, 1); ``steps`` >= 1 (1: one shot,
    more: the Zhu & Gupta cubic schedule from 0); ``finetune`` after each step (None: prune only)."""

    sparsity: tuple[float, ...]
    steps: int = 1
    finetune: FitConfig | None = None

    def __post_init__(self) -> None:
        if not self.sparsity:
            raise ValueError("per-layer pruning needs one sparsity per layer, got none")
        object.__setattr__(self, "sparsity", tuple(check_sparsity(s) for s in self.sparsity))
        if isinstance(self.steps, bool) or int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")


def schedule(final: tuple[float, ...], steps: int) -> list[tuple[float, ...]]:
    """Per-layer targets after each step t = 1..steps: s_l · (1 - (1 - t/steps)^3); the last is ``final``."""
    return [tuple(s * (1.0 - (1.0 - t / steps) ** 3) for s in final) for t in range(1, steps + 1)]


def prune_layers_inplace(model: nn.Module, config: LayerPruneConfig, data: MultiTaskData | None = None) -> dict[str, Tensor]:
    """Prune every layer to its own sparsity (step by step), fine-tuning with the masks held; returns the masks."""
    layers = _check_layers(model, len(config.sparsity), "prune_layers")
    params = {f"{name}.weight": layer.weight for name, layer in layers.items()}
    masks: dict[str, Tensor] = {}
    for t, targets in enumerate(schedule(config.sparsity, config.steps), start=1):
        masks = {name: magnitude_mask(p, s) for (name, p), s in zip(params.items(), targets)}
        apply_masks_inplace(params, masks)
        if config.finetune is not None and config.finetune.epochs > 0:
            if data is None:
                raise ValueError("fine-tuning after pruning needs data")
            ft = replace(config.finetune, seed=config.finetune.seed + t)
            fit(model, data, ft, after_step=lambda m, masks=masks: apply_masks_inplace(params, masks))
    return masks


def prune_layers(model: nn.Module, config: LayerPruneConfig, *, data: MultiTaskData | None = None,
                 measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A copy of ``model`` with layer l pruned to ``config.sparsity[l]``, and its Report."""
    pruned = copy.deepcopy(model)
    prune_layers_inplace(pruned, config, data)
    reached = {n: 1.0 - float(torch.count_nonzero(m.weight)) / m.weight.numel()
               for n, m in shareable_layers(pruned).items()}
    step = "prune_layers:" + "/".join(f"{s:g}" for s in config.sparsity)
    return pruned, measure(pruned, data, step, measure_config, extra={"layer_sparsity": reached})


# --- per-layer sharing -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerShareConfig:
    """``clusters``: k_l >= 2 shared values for each layer's weights; ``bias_clusters``: share each
    layer's biases into at most this many values (None: biases stay as they are); ``finetune``:
    centroid training (None: off); ``seed`` for k-means."""

    clusters: tuple[int, ...]
    bias_clusters: int | None = None
    finetune: FitConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.clusters:
            raise ValueError("per-layer sharing needs one number of clusters per layer, got none")
        for k in (*self.clusters, *(() if self.bias_clusters is None else (self.bias_clusters,))):
            if isinstance(k, bool) or int(k) != k or not 2 <= k <= MAX_CLUSTERS:
                raise ValueError(f"clusters must be integers from 2 to {MAX_CLUSTERS}, got {k!r}")
        object.__setattr__(self, "clusters", tuple(int(k) for k in self.clusters))


def share_layers_inplace(model: nn.Module, config: LayerShareConfig, data: MultiTaskData | None = None) -> None:
    """Cluster layer l's non-zero weights into k_l values (and its biases, if asked), fine-tune the centroids, bake."""
    layers = _check_layers(model, len(config.clusters), "kmeans_layers")
    for (name, layer), k in zip(layers.items(), config.clusters):
        nonzero = int(torch.count_nonzero(layer.weight))
        if k > nonzero:
            raise ValueError(f"kmeans_layers: {k} clusters for layer {name!r}, which has only {nonzero} non-zero "
                             "weights; use fewer clusters or prune it less")
    shared: list[tuple[nn.Module, str]] = []
    for i, (layer, k) in enumerate(zip(layers.values(), config.clusters)):
        codebook, index, mask = kmeans_codebook(layer.weight, k, "linear", config.seed + i)
        parametrize.register_parametrization(layer, "weight", SharedWeight(codebook, index, mask))
        shared.append((layer, "weight"))
        bias = getattr(layer, "bias", None)
        if config.bias_clusters is not None and bias is not None:
            distinct = int(torch.unique(bias.detach()[bias.detach() != 0]).numel())
            kb = min(config.bias_clusters, distinct)
            if kb >= 2:
                codebook, index, mask = kmeans_codebook(bias, kb, "linear", config.seed + 1000 + i)
                parametrize.register_parametrization(layer, "bias", SharedWeight(codebook, index, mask))
                shared.append((layer, "bias"))
    try:
        finetune_codebooks(model, [getattr(layer.parametrizations, attr)[0].codebook for layer, attr in shared],
                           data, config.finetune)
    finally:
        for layer, attr in shared:
            parametrize.remove_parametrizations(layer, attr, leave_parametrized=True)


def share_layers(model: nn.Module, config: LayerShareConfig, *, data: MultiTaskData | None = None,
                 measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A copy of ``model`` with k_l shared values in layer l (biases too with ``bias_clusters``), and its Report."""
    shared = copy.deepcopy(model)
    share_layers_inplace(shared, config, data)
    step = "kmeans_layers:" + "/".join(str(k) for k in config.clusters)
    if config.bias_clusters is not None:
        step += f":bias={config.bias_clusters}"
    return shared, measure(shared, data, step, measure_config,
                           extra={"clusters": list(config.clusters), "bias_clusters": config.bias_clusters})


# --- the recipe steps ----------------------------------------------------------------------------
def _finetune(spec: StepSpec, options: "RecipeOptions", lr: float | None = None) -> FitConfig:
    ft = replace(options.finetune, seed=options.seed)
    if lr is not None:
        ft = replace(ft, lr=lr)
    try:
        if "epochs" in spec.options:
            ft = replace(ft, epochs=int(spec.options["epochs"]))
        if "lr" in spec.options:
            ft = replace(ft, lr=float(spec.options["lr"]))
    except ValueError:
        raise ValueError(f"step {spec.name!r}: epochs must be an integer and lr a number, got "
                         f"{ {k: spec.options[k] for k in ('epochs', 'lr') if k in spec.options} }") from None
    return ft


def _check_options(spec: StepSpec, allowed: set[str]) -> None:
    unknown = sorted(set(spec.options) - allowed)
    if unknown:
        raise ValueError(f"step {spec.name!r} does not take option(s) {unknown}; it takes {sorted(allowed)}")
    if spec.value is None:
        raise ValueError(f"step {spec.name!r} needs one value per layer, e.g. "
                         f"{spec.name}:{'0.9/0.97/0.6' if spec.name == 'prune_layers' else '8/4/16'}")


def _int_option(spec: StepSpec, key: str, default: int | None) -> int | None:
    if key not in spec.options:
        return default
    value = spec.options[key]
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"step {spec.name!r}: {key} must be an integer, got {value!r}") from None


def apply_prune_layers(model: nn.Module, spec: StepSpec, data: MultiTaskData | None,
                       options: "RecipeOptions") -> tuple[nn.Module, Report]:
    """The recipe step ``prune_layers:S1/S2/...[:steps=N][:epochs=E][:lr=X]``."""
    _check_options(spec, {"steps", "epochs", "lr"})
    cfg = LayerPruneConfig(parse_per_layer(spec.value, "prune_layers"), steps=_int_option(spec, "steps", 1),
                           finetune=_finetune(spec, options) if data is not None else None)
    return prune_layers(model, cfg, data=data, measure_config=options.measure)


def apply_kmeans_layers(model: nn.Module, spec: StepSpec, data: MultiTaskData | None,
                        options: "RecipeOptions") -> tuple[nn.Module, Report]:
    """The recipe step ``kmeans_layers:K1/K2/...[:bias=K][:epochs=E][:lr=X]`` (centroid lr default 1e-4)."""
    _check_options(spec, {"bias", "epochs", "lr"})
    cfg = LayerShareConfig(parse_per_layer(spec.value, "kmeans_layers", int), _int_option(spec, "bias", None),
                           finetune=_finetune(spec, options, lr=1e-4) if data is not None else None,
                           seed=options.seed)
    return share_layers(model, cfg, data=data, measure_config=options.measure)
