"""Unstructured magnitude pruning, per layer or global (Han et al. 2015, https://arxiv.org/abs/1506.02626).

The weights of smallest magnitude are set to zero: in every layer (``scope="layer"``: each layer
reaches the sparsity) or over all layers at once (``scope="global"``: one threshold, layers keep
what they need). The mask is the one ``torch.nn.utils.prune.l1_unstructured`` /
``global_unstructured`` compute — exactly round(sparsity · n) zeros — computed here so it also
works on bare parameters such as a coupling's W; during optional fine-tuning it is re-applied
after every step, so pruned weights stay zero.

Targets are the weights of Linear and Conv layers. In a ``CoupledSystem`` the coupling (W, the
attention projections) is left alone unless ``include_coupling=True``. Biases and BatchNorm are
never pruned (they are a tiny share of the parameters).

    model, report = prune(model, PruneConfig(sparsity=0.9, scope="global"), data=data)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, measure, weight_layers
from ..data.base import MultiTaskData
from ..validation import check_bool, check_float, show
from .fit import FitConfig, check_finetune, fit


def check_sparsity(sparsity: float, name: str = "sparsity") -> float:
    """``sparsity`` as a float in [0, 1) (NumPy numbers accepted; bools, strings, NaN refused)."""
    try:
        return check_float(name, sparsity, min=0.0, max=1.0, max_open=True)
    except ValueError:
        raise ValueError(f"{name} must lie in [0, 1) (fraction of weights set to zero), got {show(sparsity)}") from None


@dataclass(frozen=True)
class PruneConfig:
    """``sparsity`` in [0, 1): fraction of the targeted weights set to zero.
    ``finetune``: optional training with the masks held (None: prune only)."""

    sparsity: float = 0.9
    scope: Literal["layer", "global"] = "global"
    include_coupling: bool = False
    finetune: FitConfig | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sparsity", check_sparsity(self.sparsity))
        if self.scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {show(self.scope)}")
        check_bool("include_coupling", self.include_coupling)
        check_finetune(self.finetune)


def magnitude_mask(weight: Tensor, sparsity: float) -> Tensor:
    """Keep-mask (bool, same shape) zeroing the round(sparsity · numel) smallest-magnitude entries."""
    check_sparsity(sparsity)
    k = int(round(sparsity * weight.numel()))
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    if k > 0:
        mask[torch.topk(weight.detach().abs().reshape(-1), k, largest=False).indices] = False
    return mask.reshape(weight.shape)


def global_magnitude_masks(weights: dict[str, Tensor], sparsity: float) -> dict[str, Tensor]:
    """Keep-masks with one magnitude threshold over all tensors: round(sparsity · total) zeros in all."""
    check_sparsity(sparsity)
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights.values()])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    k = int(round(sparsity * flat.numel()))
    if k > 0:
        keep[torch.topk(flat, k, largest=False).indices] = False
    masks, i = {}, 0
    for name, w in weights.items():
        masks[name] = keep[i:i + w.numel()].reshape(w.shape)
        i += w.numel()
    return masks


def coupling_parameter_ids(model: nn.Module) -> set[int]:
    params = model.coupling_parameters() if hasattr(model, "coupling_parameters") else []
    return {id(p) for p in params}


def prunable_weights(model: nn.Module, include_coupling: bool = False) -> dict[str, nn.Parameter]:
    """Parameters pruning acts on, by name: Linear/Conv weights (and W when ``include_coupling``)."""
    coupling = coupling_parameter_ids(model)
    out = {f"{name}.weight" if name else "weight": layer.weight for name, layer in weight_layers(model).items()
           if id(layer.weight) not in coupling}
    if include_coupling:
        names = {id(p): n for n, p in model.named_parameters()}
        out.update({names[i]: p for i, p in ((id(p), p) for p in model.parameters()) if i in coupling})
    if not out:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv weights, so this step does not apply to it")
    return out


def apply_masks_inplace(params: dict[str, nn.Parameter], masks: dict[str, Tensor]) -> None:
    with torch.no_grad():
        for name, p in params.items():
            p.mul_(masks[name].to(p.dtype))


def masks_for(model: nn.Module, sparsity: float, scope: str, include_coupling: bool = False) -> dict[str, Tensor]:
    params = prunable_weights(model, include_coupling)
    if scope == "global":
        return global_magnitude_masks(dict(params), sparsity)
    return {name: magnitude_mask(p, sparsity) for name, p in params.items()}


def prune_inplace(model: nn.Module, config: PruneConfig, data: MultiTaskData | None = None) -> dict[str, Tensor]:
    """Zero the weights in place (and fine-tune with the masks held if configured); returns the masks."""
    params = prunable_weights(model, config.include_coupling)
    masks = masks_for(model, config.sparsity, config.scope, config.include_coupling)
    apply_masks_inplace(params, masks)
    if config.finetune is not None and config.finetune.epochs > 0:
        if data is None:
            raise ValueError("fine-tuning after pruning needs data")
        fit(model, data, config.finetune, after_step=lambda m: apply_masks_inplace(params, masks))
    return masks


def layer_sparsity(model: nn.Module, include_coupling: bool = False) -> dict[str, float]:
    """Fraction of zeros in every prunable weight."""
    return {n: 1.0 - float(torch.count_nonzero(p)) / p.numel()
            for n, p in prunable_weights(model, include_coupling).items()}


def prune(model: nn.Module, config: PruneConfig, *, data: MultiTaskData | None = None,
          measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A pruned copy of ``model`` and its Report (the caller's model is not changed)."""
    pruned = copy.deepcopy(model)
    prune_inplace(pruned, config, data)
    step = f"prune:{config.sparsity:g}" + ("" if config.scope == "global" else ":layer")
    return pruned, measure(pruned, data, step, measure_config,
                           extra={"layer_sparsity": layer_sparsity(pruned, config.include_coupling)})
