"""Structured pruning: remove whole neurons / channels so the network really gets smaller and faster.

Single networks and couplings without stage mixing go through Torch-Pruning
(https://github.com/VainF/Torch-Pruning, Fang et al. CVPR 2023): its dependency graph finds every
layer a removed channel touches (the next layer's inputs, BatchNorm, depthwise convs, residual adds)
and slices them all. Output layers (the classifier, every task head) keep their outputs.

Cross-stitch and attention couplings mix channel c of every module with channel c of the others
(x~_i = Σ_j W_ij x_j), which Torch-Pruning's tracer cannot follow through the mixing einsum. For
them the channels of a stage are pruned *tied*: channel c of stage s goes from every module at
once, ranked by the sum over modules of its weights' norm, with Torch-Pruning's layer functions
doing the slicing (stage layer outputs, next stage / head inputs, a per-channel W, the attention
projections). The system's ``config.widths`` is updated, so checkpoints reload.

    model, report = prune_channels(model, ChannelPruneConfig(ratio=0.5), data=data)
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, example_input, measure
from ..data.base import MultiTaskData
from ..seeding import generator, seeded
from ..validation import check_bool, check_float, check_optional_int, check_seed, normalise_fields, show
from .fit import FitConfig, check_finetune, fit

IMPORTANCES = ("l1", "l2", "random")


@dataclass(frozen=True)
class ChannelPruneConfig:
    """``ratio`` in [0, 1): fraction of channels/neurons removed from every prunable layer
    (at least one is kept). ``importance``: rank channels by L1 or L2 norm of their weights,
    or at random (a baseline). ``round_to``: keep a multiple of this many channels."""

    ratio: float = 0.5
    importance: Literal["l1", "l2", "random"] = "l2"
    global_pruning: bool = False
    round_to: int | None = None
    finetune: FitConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            ratio = check_float("ratio", self.ratio, min=0.0, max=1.0, max_open=True)
        except ValueError:
            raise ValueError(f"ratio must lie in [0, 1) (fraction of channels removed), got {show(self.ratio)}") from None
        if self.importance not in IMPORTANCES:
            raise ValueError(f"importance must be one of {IMPORTANCES}, got {show(self.importance)}")
        check_finetune(self.finetune)
        normalise_fields(self, {"ratio": ratio, "global_pruning": check_bool("global_pruning", self.global_pruning),
                                "round_to": check_optional_int("round_to", self.round_to, min=1, max=4096),
                                "seed": check_seed(self.seed)})


def output_layers(model: nn.Module) -> list[nn.Module]:
    """Layers whose outputs are the model's outputs: every task head's Linear, or the last Linear."""
    if hasattr(model, "heads"):
        return [m for head in model.heads for h in head.values() for m in h.modules() if isinstance(m, nn.Linear)]
    linears = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv1d))]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv layer to prune")
    return [linears[-1]]


def _importance(config: ChannelPruneConfig):
    import torch_pruning as tp

    if config.importance == "random":
        return tp.importance.RandomImportance()
    return tp.importance.MagnitudeImportance(p=1 if config.importance == "l1" else 2)


def _torch_pruning_inplace(model: nn.Module, config: ChannelPruneConfig, x: Tensor) -> None:
    import torch_pruning as tp

    ignored: list = output_layers(model)
    if hasattr(model, "coupling"):
        ignored += list(model.coupling.parameters())
    with seeded(config.seed), warnings.catch_warnings():     # RandomImportance draws torch.rand
        warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
        pruner = tp.pruner.MetaPruner(model, x, importance=_importance(config), pruning_ratio=config.ratio,
                                      global_pruning=config.global_pruning, ignored_layers=ignored,
                                      round_to=config.round_to)
        pruner.step()


def _stage_layer(stage: nn.Module) -> nn.Module:
    return next(m for m in stage.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)))


def _tied_channels_inplace(system: nn.Module, config: ChannelPruneConfig) -> None:
    """Prune channel c of stage s in every module at once (stage-mixing couplings)."""
    import torch_pruning as tp

    n, stages = system.num_modules, system.num_stages
    gen = generator(config.seed)
    for s in range(stages):
        layers = [_stage_layer(system.stacks[i][s]) for i in range(n)]
        channels = layers[0].weight.shape[0]
        keep = max(1, channels - int(math.floor(config.ratio * channels)))
        if config.round_to:
            keep = min(channels, max(config.round_to, int(round(keep / config.round_to)) * config.round_to))
        if keep == channels:
            continue
        if config.importance == "random":
            score = torch.rand(channels, generator=gen)
        else:
            p = 1 if config.importance == "l1" else 2
            score = sum(l.weight.detach().flatten(1).norm(p=p, dim=1) for l in layers)
        drop = sorted(torch.topk(score, channels - keep, largest=False).indices.tolist())
        keep_idx = [c for c in range(channels) if c not in set(drop)]
        for i in range(n):
            (tp.prune_linear_out_channels if isinstance(layers[i], nn.Linear) else tp.prune_conv_out_channels)(
                layers[i], drop)
            if s + 1 < stages:
                nxt = _stage_layer(system.stacks[i][s + 1])
                (tp.prune_linear_in_channels if isinstance(nxt, nn.Linear) else tp.prune_conv_in_channels)(nxt, drop)
            else:
                with torch.no_grad():
                    out = system.stacks[i][s](torch.zeros(1, *_stage_input_shape(system, i, s)))
                per_channel = math.prod(out.shape[2:]) if out.dim() > 2 else 1
                flat = [c * per_channel + k for c in drop for k in range(per_channel)]
                for task in system.heads[i].values():
                    tp.prune_linear_in_channels(_stage_layer(task), flat)
        if s + 1 == stages:                     # a pruned system's routed tasks read the last stage too
            for task in getattr(system, "route_heads", {}).values():
                tp.prune_linear_in_channels(_stage_layer(task), flat)
        coupling = system.coupling
        if hasattr(coupling, "W") and getattr(coupling, "per_channel", False):
            coupling.W[s] = nn.Parameter(coupling.W[s].detach()[..., keep_idx].clone())
        if hasattr(coupling, "edge_order") and coupling.per_channel:          # lab.coupling.edge_mix.EdgeMix
            coupling.w[s] = nn.Parameter(coupling.w[s].detach()[:, keep_idx].clone())
            if s + 1 == stages:
                for task in list(coupling.routes):
                    coupling.routes[task] = nn.Parameter(coupling.routes[task].detach()[:, keep_idx].clone())
        if hasattr(coupling, "query"):
            tp.prune_linear_in_channels(coupling.query[s], drop)
            tp.prune_linear_in_channels(coupling.key[s], drop)
    _sync_widths(system)


def _stage_input_shape(system: nn.Module, i: int, s: int) -> tuple[int, ...]:
    x = torch.zeros(1, *system.input_shape)
    with torch.no_grad():
        for stage in list(system.stacks[i])[:s]:
            x = stage(x)
    return tuple(x.shape[1:])


def _sync_widths(system: nn.Module) -> None:
    """Record the new stage widths in the system's config (so ``architecture()`` rebuilds it)."""
    widths = [tuple(_stage_layer(st).weight.shape[0] for st in stack) for stack in system.stacks]
    system.config = replace(system.config, widths=widths[0] if len(set(widths)) == 1 else tuple(widths))


def prune_channels_inplace(model: nn.Module, config: ChannelPruneConfig, example: Tensor,
                           data: MultiTaskData | None = None) -> None:
    """Remove channels in place; fine-tune after if configured."""
    coupling = getattr(model, "coupling", None)
    if coupling is not None and getattr(coupling, "mixes_stages", False):
        with seeded(config.seed):       # its shape probes run dropout layers in training mode
            _tied_channels_inplace(model, config)
    else:
        _torch_pruning_inplace(model, config, example)
        if coupling is not None:
            _sync_widths(model)
    try:
        with torch.no_grad():
            model.eval()(example)
    except Exception as err:  # a structure we could not follow
        raise ValueError(f"structured pruning broke {type(model).__name__}: {err}") from err
    if config.finetune is not None and config.finetune.epochs > 0:
        if data is None:
            raise ValueError("fine-tuning after structured pruning needs data")
        fit(model, data, config.finetune)


def prune_channels(model: nn.Module, config: ChannelPruneConfig, *, data: MultiTaskData | None = None,
                   measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A copy of ``model`` with channels physically removed, and its Report."""
    pruned = copy.deepcopy(model)
    before = sum(p.numel() for p in model.parameters())
    prune_channels_inplace(pruned, config, example_input(model, data, 2), data)
    after = sum(p.numel() for p in pruned.parameters())
    return pruned, measure(pruned, data, f"channels:{config.ratio:g}", measure_config,
                           extra={"params_before": before, "params_after": after})
