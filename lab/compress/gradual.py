"""Gradual magnitude pruning on the Zhu & Gupta (2017) schedule, https://arxiv.org/abs/1710.01878.

Sparsity rises from s_i to s_f over n pruning steps, fine-tuning between steps:

    s_t = s_f + (s_i - s_f) · (1 - t / n)^3,    t = 0, 1, ..., n

so most weights go early, while many are left, and the last steps remove few. Every step prunes
the current weights to s_t (magnitude, per layer or global, masks held) and then trains
``epochs_per_step`` epochs. The Report's ``extra["schedule"]`` lists (step, target sparsity,
reached sparsity, test metric) so the curve can be checked and plotted.

    model, report = gradual_prune(model, GradualConfig(final_sparsity=0.95, steps=5), data=data)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Literal

from torch import nn

from ..cost import MeasureConfig, Report, evaluate_model, measure
from ..data.base import MultiTaskData
from ..validation import check_int, normalise_fields, show
from .fit import FitConfig, check_finetune
from .prune import PruneConfig, check_sparsity, prune_inplace, prunable_weights


@dataclass(frozen=True)
class GradualConfig:
    """Zhu & Gupta schedule from ``initial_sparsity`` to ``final_sparsity`` in ``steps`` steps,
    each followed by ``finetune`` training (its ``epochs`` per step)."""

    final_sparsity: float = 0.9
    initial_sparsity: float = 0.0
    steps: int = 5
    scope: Literal["layer", "global"] = "global"
    finetune: FitConfig = field(default_factory=lambda: FitConfig(epochs=2, lr=5e-4))

    def __post_init__(self) -> None:
        final = check_sparsity(self.final_sparsity, "final_sparsity")
        initial = check_sparsity(self.initial_sparsity, "initial_sparsity")
        if initial > final:
            raise ValueError(f"initial_sparsity {initial} is above final_sparsity {final}")
        if self.scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {show(self.scope)}")
        check_finetune(self.finetune, optional=False)
        normalise_fields(self, {"final_sparsity": final, "initial_sparsity": initial,
                                "steps": check_int("steps", self.steps, min=1, max=1000)})


def sparsity_schedule(config: GradualConfig) -> list[float]:
    """Target sparsity after each of the ``steps`` steps: s_t for t = 1..n (the last is s_f)."""
    si, sf, n = config.initial_sparsity, config.final_sparsity, config.steps
    return [sf + (si - sf) * (1.0 - t / n) ** 3 for t in range(1, n + 1)]


def reached_sparsity(model: nn.Module) -> float:
    params = prunable_weights(model)
    total = sum(p.numel() for p in params.values())
    return 1.0 - sum(int(p.count_nonzero()) for p in params.values()) / total


def gradual_prune(model: nn.Module, config: GradualConfig, *, data: MultiTaskData,
                  measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A copy of ``model`` pruned step by step on the schedule with fine-tuning in between."""
    if data is None:
        raise ValueError("gradual pruning fine-tunes between steps, so it needs data")
    pruned = copy.deepcopy(model)
    history = []
    for t, target in enumerate(sparsity_schedule(config), start=1):
        ft = replace(config.finetune, seed=config.finetune.seed + t)
        prune_inplace(pruned, PruneConfig(target, config.scope, finetune=ft), data)
        metrics = evaluate_model(pruned, data.test, data.tasks)
        history.append({"step": t, "target": target, "sparsity": reached_sparsity(pruned),
                        "metric": sum(metrics.values()) / len(metrics)})
    return pruned, measure(pruned, data, f"gradual:{config.final_sparsity:g}", measure_config,
                           extra={"schedule": history})
