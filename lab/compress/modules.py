"""Module pruning: remove whole sub-modules chosen from W, and re-route their tasks.

A module's score says how much the system relies on it; the lowest-scoring modules are removed
(every stage of their layers, their edges), and each removed module's task head then reads the
W-mix of the remaining modules (its row of the last stage's W, :mod:`lab.coupling.pruned`). The
result is a ``PrunedSystem`` with fewer modules that trains, saves, reloads and exports.

Scores of module j (``module_scores``), in original indices:

* ``w``:         outgoing influence, sum over stages and receivers i (itself included) of |W^s_ij| times
                 the mean norm of module j's state after stage s on the validation split (what module j
                 actually sends; without data, |W| alone);
* ``gradient``:  sum over validation batches of |W_ij · ∂L/∂W_ij| over module j's column (Taylor);
* ``magnitude``: mean |weight| of module j's layers, ignoring W (the baseline that does not use W);
* ``random``:    seeded uniform scores.

    small, report = remove_modules(system, ModulePruneConfig(remove=1, score="w"), data=data)
    report.extra["removed"]      # [3]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..coupling.pruned import PrunedSystem
from ..coupling.restructure import check_prunable, coupling_value, restructure, structure_of
from ..coupling.system import CoupledSystem
from ..cost import MeasureConfig, Report, evaluate_model, measure
from ..data.base import MultiTaskData
from .edges import taylor_scores
from .fit import FitConfig, fit

MODULE_SCORES: tuple[str, ...] = ("w", "gradient", "magnitude", "random")
ModuleScore = Literal["w", "gradient", "magnitude", "random"]


@dataclass(frozen=True)
class ModulePruneConfig:
    """Remove ``remove`` modules (>= 1) with the lowest ``score``; ``finetune`` afterwards (None: off)."""

    remove: int = 1
    score: ModuleScore = "w"
    finetune: FitConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.remove, bool) or not isinstance(self.remove, int) or self.remove < 1:
            raise ValueError(f"remove must be an integer >= 1 (modules to remove), got {self.remove!r}")
        if self.score not in MODULE_SCORES:
            raise ValueError(f"module score must be one of {list(MODULE_SCORES)}, got {self.score!r}")

    def describe(self) -> str:
        return f"modules:{self.remove}" + ("" if self.score == "w" else f":{self.score}")


@torch.no_grad()
def state_norms(system: CoupledSystem, data: MultiTaskData, batch_size: int = 1024) -> list[dict[int, float]]:
    """Per stage, {module (original index): mean L2 norm per example of its state after the stage, before
    the mix} on the validation split."""
    structure = structure_of(system)
    sums = [{m: 0.0 for m in structure.modules} for _ in structure.edges]
    stages = [stage for k in range(system.num_modules) for stage in system.stacks[k]]
    owner = {id(stage): (k, s) for k in range(system.num_modules) for s, stage in enumerate(system.stacks[k])}

    def hook(stage, _inputs, output):
        k, s = owner[id(stage)]
        sums[s][structure.modules[k]] += float(output.flatten(1).norm(dim=1).sum())

    handles = [stage.register_forward_hook(hook) for stage in stages]
    was_training = system.training
    system.eval()
    try:
        for i in range(0, len(data.val), batch_size):
            system(data.val.x[i:i + batch_size])
    finally:
        for h in handles:
            h.remove()
        system.train(was_training)
    return [{m: v / len(data.val) for m, v in stage.items()} for stage in sums]


def module_scores(system: CoupledSystem, score: ModuleScore = "w", data: MultiTaskData | None = None,
                  seed: int = 0) -> dict[int, float]:
    """{module (original index): score} for the modules present; lower = less needed."""
    structure = structure_of(system)
    if score not in MODULE_SCORES:
        raise ValueError(f"module score must be one of {list(MODULE_SCORES)}, got {score!r}")
    if score == "random":
        values = torch.rand(len(structure.modules), generator=torch.Generator().manual_seed(seed)).tolist()
        return dict(zip(structure.modules, values))
    if score == "magnitude":
        index = {m: k for k, m in enumerate(structure.modules)}
        return {m: float(torch.cat([p.detach().abs().reshape(-1) for p in system.stacks[index[m]].parameters()
                                    if p.dim() > 1]).mean()) for m in structure.modules}
    if score == "gradient":
        if data is None:
            raise ValueError("gradient module scores need data (the validation split)")
        out = {m: 0.0 for m in structure.modules}
        for stage in taylor_scores(system, data, diagonal=True):
            for (_i, j), v in stage.items():
                out[j] += v
        return out
    norms = state_norms(system, data) if data is not None else None
    out = {m: 0.0 for m in structure.modules}
    for s in range(len(structure.edges)):
        for i in structure.modules:
            for j in structure.sources(s, i):
                out[j] += _abs(coupling_value(system, s, i, j)) * (norms[s][j] if norms else 1.0)
    last = len(structure.edges) - 1
    for task, src in structure.routes.items():
        for w, j in zip(system.coupling.routes[task].detach(), src):
            out[j] += _abs(w) * (norms[last][j] if norms else 1.0)
    return out


def _abs(w: Tensor) -> float:
    return float(w.abs().mean())


def choose_modules(scores: dict[int, float], remove: int) -> list[int]:
    """The ``remove`` modules with the lowest scores (ties: lower index first); ValueError if none would stay."""
    if remove >= len(scores):
        raise ValueError(f"cannot remove {remove} of {len(scores)} modules: at least one must stay to serve the "
                         f"tasks (remove at most {len(scores) - 1})")
    return sorted(sorted(scores, key=lambda m: (scores[m], m))[:remove])


def without_modules(system: CoupledSystem, config: ModulePruneConfig, data: MultiTaskData | None = None,
                    scores: dict[int, float] | None = None) -> tuple[PrunedSystem, list[int]]:
    """A new system without the chosen modules (fine-tuned when configured) and the modules removed;
    ``scores``: the module scores when already computed."""
    check_prunable(system, "module pruning")
    scores = scores if scores is not None else module_scores(system, config.score, data, config.seed)
    removed = choose_modules(scores, config.remove)
    small = restructure(system, modules=[m for m in scores if m not in removed])
    if config.finetune is not None and config.finetune.epochs > 0:
        if data is None:
            raise ValueError("fine-tuning after module pruning needs data")
        fit(small, data, config.finetune)
    return small.eval(), removed


def remove_modules(system: CoupledSystem, config: ModulePruneConfig, *, data: MultiTaskData | None = None,
                   measure_config: MeasureConfig = MeasureConfig()) -> tuple[PrunedSystem, Report]:
    """Copy of ``system`` without the lowest-scoring modules, and its Report (``extra``: removed modules,
    their scores, test metric per task before and what each task lost)."""
    check_prunable(system, "module pruning")
    scores = module_scores(system, config.score, data, config.seed)
    before = evaluate_model(system, data.test, data.tasks) if data is not None else {}
    small, removed = without_modules(system, config, data, scores)
    report = measure(small, data, config.describe(), measure_config,
                     extra={"removed": removed, "scores": {str(m): v for m, v in scores.items()},
                            "score": config.score, "metrics_before": before})
    if before:
        lost = {t: before[t] - report.metrics[t] for t in before}
        report = report.with_(extra={**report.extra, "lost": lost})
    return small, report
