"""The lab's built-in search spaces (``SPACES``) and the builders behind them.

=========================  ======================  =============================================================
name                       kind                    what a trial does
=========================  ======================  =============================================================
``mlp_compression``        compression             per-layer prune + per-layer k-means (biases shared too) of
                                                   the trained 64-300-100-10 MLP on the digits
``coupling``               coupling                train a CoupledSystem on the four digit tasks: strategy,
                                                   stages, width, W init, optimiser, lr, epochs, weighting and
                                                   fixed task weights
``couple_then_compress``   couple_then_compress    train a system, then prune + share it layer by layer
=========================  ======================  =============================================================

``compression_space(model=..., run=...)`` builds the per-layer space of another reference network or
of a saved coupled run (one ``sparsity.<l>`` and ``clusters.<l>`` per layer, in ``weight_layers`` order).
"""
from __future__ import annotations

from typing import Any

from ..coupling.system import COUPLINGS
from ..data import DIGITS_TASKS
from ..weighting import WEIGHTINGS
from .spaces import Param, SearchSpace

CLUSTER_CHOICES = (2, 4, 8, 16, 32, 64)
BIAS_CHOICES = (0, 2, 4, 8, 16, 32)          # 0: keep the biases as they are (fp32)
ADAPTIVE_WEIGHTINGS = tuple(w for w in WEIGHTINGS if w not in ("equal", "fixed"))


def _compression_params(layers: int) -> tuple[Param, ...]:
    per_layer = []
    for i in range(layers):
        per_layer.append(Param(f"sparsity.{i}", "float", 0.5, 0.99, help=f"fraction of zeros in layer {i}"))
    for i in range(layers):
        per_layer.append(Param(f"clusters.{i}", "categorical", choices=CLUSTER_CHOICES,
                               help=f"shared values (k-means) in layer {i}: log2(k)-bit indices"))
    return (*per_layer,
            Param("bias_clusters", "categorical", choices=BIAS_CHOICES,
                  help="share each layer's biases into this many values (0: keep fp32 biases)"),
            Param("prune_steps", "int", 1, 8, help="pruning steps on the Zhu & Gupta schedule (1: one shot)"),
            Param("finetune_epochs", "int", 2, 20, help="fine-tuning epochs after each pruning step and for the centroids"),
            Param("finetune_lr", "float", 2e-4, 3e-3, log=True, help="fine-tuning learning rate after pruning"),
            Param("kmeans_lr", "float", 3e-5, 1e-3, log=True, help="learning rate of the centroid fine-tuning"))


def count_layers(model: str = "mlp", run: str | None = None) -> int:
    """Layers a compression space has one sparsity and one k for (``weight_layers`` minus the coupling)."""
    import torch

    from ..compress.share import shareable_layers
    from ..models import MODELS

    if run is not None:
        from ..runs import load_run

        system, _ = load_run(run)
        if system is None:
            raise ValueError(f"{run} holds no checkpoint.pt to compress")
        return len(shareable_layers(system))
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {list(MODELS)}")
    # only the layer count is needed: build on the meta device (no weights drawn, no RNG touched, and none of
    # build_model's seeded dispatch mode, whose first use imports torch._dynamo: ~0.8 s when SPACES is built)
    with torch.device("meta"):
        return len(shareable_layers(MODELS[model]((1, 8, 8), 10)))


def compression_space(model: str = "mlp", *, run: str | None = None, data_seed: int = 0, limit: int | None = None,
                      reference_epochs: int = 40, seed: int = 0, name: str | None = None) -> SearchSpace:
    """Per-layer compression of reference network ``model`` trained on the digits (``reference_epochs``,
    ``seed``), or of the CoupledSystem saved in ``run`` (a run folder)."""
    layers = count_layers(model, run)
    base: dict[str, Any] = {"model": model if run is None else "run", "run": run, "data_seed": data_seed,
                            "limit": limit, "reference_epochs": reference_epochs, "seed": seed, "layers": layers}
    what = f"the saved run {run}" if run else f"the {model} reference network"
    return SearchSpace(name or (f"{model}_compression" if run is None else "run_compression"), "compression",
                       _compression_params(layers), base,
                       f"per-layer sparsity and clusters (biases shared too) of {what} on the digits")


def _coupling_params(strategies: tuple[str, ...], weightings: bool = True) -> tuple[Param, ...]:
    params = [
        Param("strategy", "categorical", choices=strategies, help="how the modules exchange information"),
        Param("stages", "int", 1, 3, help="stages per module (and coupling matrices)"),
        Param("width", "categorical", choices=(16, 32, 64, 128), help="features of every stage"),
        Param("w_self", "float", 0.5, 1.0, help="initial W_ii (the rest of the row split among the others)"),
        Param("optimizer", "categorical", choices=("adam", "sgd")),
        Param("lr", "float", 3e-4, 3e-2, log=True, help="learning rate"),
        Param("epochs", "int", 5, 30, help="training epochs"),
    ]
    if weightings:
        params.append(Param("weighting", "categorical", choices=("fixed", *ADAPTIVE_WEIGHTINGS),
                            help="loss weighting (fixed: the task weights below)"))
        params += [Param(f"task_weight.{t}", "float", 0.1, 2.0, when=("weighting", ("fixed",)),
                         help=f"fixed lambda of task {t}") for t in DIGITS_TASKS]
    return tuple(params)


def coupling_space(*, data_seed: int = 0, limit: int | None = None, seed: int = 0,
                   strategies: tuple[str, ...] | None = None, name: str = "coupling") -> SearchSpace:
    """Train a CoupledSystem on the four digit tasks; accuracy is the mean over tasks."""
    strategies = tuple(strategies or COUPLINGS)
    base = {"data": "digits", "tasks": list(DIGITS_TASKS), "data_seed": data_seed, "limit": limit, "seed": seed}
    return SearchSpace(name, "coupling", _coupling_params(strategies), base,
                       "coupling strategy, architecture, optimiser, loss weighting and fixed task weights")


def couple_then_compress_space(*, data_seed: int = 0, limit: int | None = None, seed: int = 0,
                               strategies: tuple[str, ...] = ("cross_stitch", "attention", "shared", "independent"),
                               name: str = "couple_then_compress") -> SearchSpace:
    """Train a system (fixed equal task weights), then prune to one sparsity and share k values in every layer."""
    base = {"data": "digits", "tasks": list(DIGITS_TASKS), "data_seed": data_seed, "limit": limit, "seed": seed}
    params = (*_coupling_params(strategies, weightings=False),
              Param("sparsity", "float", 0.5, 0.97, help="fraction of zeros in every layer"),
              Param("clusters", "categorical", choices=CLUSTER_CHOICES[1:], help="shared values per layer"),
              Param("bias_clusters", "categorical", choices=BIAS_CHOICES, help="shared values of the biases (0: fp32)"),
              Param("finetune_epochs", "int", 1, 10, help="fine-tuning epochs after pruning and for the centroids"))
    return SearchSpace(name, "couple_then_compress", params, base,
                       "train a coupled system, then compress it layer by layer")


SPACES: dict[str, SearchSpace] = {
    "mlp_compression": compression_space("mlp"),
    "coupling": coupling_space(),
    "couple_then_compress": couple_then_compress_space(),
}


def get_space(name: str) -> SearchSpace:
    """A built-in space by name (see ``SPACES``)."""
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; choose from {list(SPACES)}")
    return SPACES[name]


def build_space(name: str, ranges: dict[str, str] | None = None, *, run: str | None = None,
                **base: Any) -> SearchSpace:
    """Space ``name`` with ``base`` settings changed (e.g. ``limit=300``) and ``ranges`` narrowed or fixed
    (``{"sparsity.1": "0.9:0.99"}``); ``run``: compress the CoupledSystem saved in that run folder
    (compression spaces). ValueError for an unknown name, setting, key or an empty range."""
    space = get_space(name)
    base = {k: v for k, v in base.items() if v is not None}
    if run is not None:
        if space.kind != "compression":
            raise ValueError(f"a saved run is compressed by a compression space, not {name!r} ({space.kind})")
        space = compression_space(run=run, **{k: v for k, v in base.items() if k in ("data_seed", "limit", "seed")})
        base = {}
    elif space.kind == "compression" and base.get("model", space.base["model"]) != space.base["model"]:
        space = compression_space(base.pop("model"), name=name)
    if base:
        space = space.with_base(**base)
    return space.with_ranges(ranges or {})
