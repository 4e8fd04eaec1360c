"""Per-layer sensitivity scan: test metric when one layer alone is pruned to each sparsity.

Han et al. (2015) pick per-layer sparsities from such curves: a layer whose accuracy falls early
is sensitive and gets pruned less. No fine-tuning: the scan shows raw damage.

    result = sensitivity_scan(model, SensitivityConfig(sparsities=(0.5, 0.7, 0.9)), data=data)
    result.curves["1.weight"]   # [(0.5, 0.97), (0.7, 0.96), (0.9, 0.81)]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..cost import evaluate_model
from ..data.base import MultiTaskData
from ..validation import check_bool, show
from .prune import check_sparsity, magnitude_mask, prunable_weights


@dataclass(frozen=True)
class SensitivityConfig:
    """Sparsities tried on every layer (each in [0, 1)); ``layers``: names to scan (None: all)."""

    sparsities: tuple[float, ...] = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
    layers: tuple[str, ...] | None = None
    include_coupling: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.sparsities, (str, bytes)) or not isinstance(self.sparsities, (list, tuple)) \
                or not self.sparsities or len(self.sparsities) > 1000:
            raise ValueError(f"sparsities must name 1 to 1000 values in [0, 1), got {show(self.sparsities)}")
        object.__setattr__(self, "sparsities", tuple(check_sparsity(s, f"sparsities[{i}]")
                                                     for i, s in enumerate(self.sparsities)))
        if self.layers is not None:
            if isinstance(self.layers, str) or not isinstance(self.layers, (list, tuple)) \
                    or not all(isinstance(n, str) for n in self.layers):
                raise ValueError(f"layers must be None or a list of layer names, got {show(self.layers)}")
            object.__setattr__(self, "layers", tuple(self.layers))
        check_bool("include_coupling", self.include_coupling)


@dataclass
class SensitivityResult:
    """``baseline``: metric before pruning; ``curves``: layer -> [(sparsity, metric), ...]."""

    baseline: float
    curves: dict[str, list[tuple[float, float]]]

    def rows(self) -> list[dict]:
        return [{"layer": name, **{f"s={s:g}": m for s, m in curve}} for name, curve in self.curves.items()]

    def max_sparsity(self, max_drop: float) -> dict[str, float]:
        """Per layer, the largest scanned sparsity whose metric stays within ``max_drop`` of the baseline."""
        return {name: max([s for s, m in curve if self.baseline - m <= max_drop], default=0.0)
                for name, curve in self.curves.items()}


@torch.no_grad()
def sensitivity_scan(model: nn.Module, config: SensitivityConfig, *, data: MultiTaskData) -> SensitivityResult:
    """Prune each layer alone to each sparsity, evaluate on the test split, restore (model unchanged)."""
    def mean_metric() -> float:
        metrics = evaluate_model(model, data.test, data.tasks)
        return sum(metrics.values()) / len(metrics)

    params = prunable_weights(model, config.include_coupling)
    unknown = [n for n in (config.layers or ()) if n not in params]
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown}; prunable layers are {list(params)}")
    baseline = mean_metric()
    curves = {}
    for name in config.layers or tuple(params):
        p = params[name]
        original = p.detach().clone()
        curve = []
        try:
            for s in config.sparsities:
                p.copy_(original * magnitude_mask(original, s))
                curve.append((s, mean_metric()))
        finally:
            p.copy_(original)
        curves[name] = curve
    return SensitivityResult(baseline, curves)
