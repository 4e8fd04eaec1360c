"""Edge pruning: keep the coupling edges that matter, remove the others from the graph.

An edge (i, j) of stage s is W^s_ij, what module i takes from module j after stage s (off the
diagonal; a module's own state is always kept). Scores per edge (``edge_scores``):

* ``magnitude``: |W_ij| (per channel: the mean |W_ij,c|);
* ``gradient``:  sum over validation batches of |W_ij · ∂L/∂W_ij| (first-order Taylor estimate of the
  loss change when the edge is removed; Molchanov et al. 2017, https://arxiv.org/abs/1611.06440);
* ``random``:    seeded uniform scores (the baseline).

Per stage, keep the edges whose score is >= ``threshold``, or the top ``keep`` fraction (or ``count``)
of the edges present. The result is a ``PrunedSystem``: a removed edge has no parameter and no
operation, so it stays exactly zero through fine-tuning, checkpoints and ONNX export.

    small, report = prune_edges(system, EdgePruneConfig(keep=0.5), data=data)
    small, report = prune_edges(system, EdgePruneConfig(threshold=0.05, score="magnitude"))
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from ..coupling.pruned import PrunedSystem
from ..coupling.structure import Edge
from ..coupling.restructure import check_prunable, coupling_value, restructure, structure_of
from ..coupling.system import CoupledSystem
from ..cost import MeasureConfig, Report, measure
from ..data.base import MultiTaskData
from .fit import FitConfig, fit, task_losses

EDGE_SCORES: tuple[str, ...] = ("magnitude", "gradient", "random")
EdgeScore = Literal["magnitude", "gradient", "random"]


@dataclass(frozen=True)
class EdgePruneConfig:
    """Which edges stay: ``threshold`` (score >= t), else ``count`` per stage, else the ``keep`` fraction
    per stage (rounded); scored by ``score``; ``finetune`` after pruning (None: off); ``seed`` for
    ``random`` scores."""

    keep: float | None = 0.5
    threshold: float | None = None
    count: int | None = None
    score: EdgeScore = "magnitude"
    finetune: FitConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.score not in EDGE_SCORES:
            raise ValueError(f"edge score must be one of {list(EDGE_SCORES)}, got {self.score!r}")
        chosen = [name for name in ("threshold", "count") if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ValueError("give either a threshold or a count of edges to keep, not both")
        if self.threshold is not None and not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)
                                               and self.threshold >= 0):
            raise ValueError(f"edge threshold must be a finite number >= 0, got {self.threshold!r}")
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0):
            raise ValueError(f"edge count must be an integer >= 0 (edges kept per stage), got {self.count!r}")
        if not chosen and (self.keep is None or not (isinstance(self.keep, (int, float)) and 0.0 <= self.keep <= 1.0)):
            raise ValueError(f"keep must be a fraction of the edges in [0, 1], got {self.keep!r}")

    def describe(self) -> str:
        how = (f"threshold={self.threshold:g}" if self.threshold is not None else
               f"count={self.count}" if self.count is not None else f"{self.keep:g}")
        return f"edges:{how}" + ("" if self.score == "magnitude" else f":{self.score}")


def edge_scores(system: CoupledSystem, score: EdgeScore = "magnitude", data: MultiTaskData | None = None,
                seed: int = 0, batch_size: int = 256) -> list[dict[Edge, float]]:
    """Per stage, {edge (i, j) in original module indices: score} over the off-diagonal edges present."""
    structure = structure_of(system)
    if score not in EDGE_SCORES:
        raise ValueError(f"edge score must be one of {list(EDGE_SCORES)}, got {score!r}")
    if score == "magnitude":
        return [{e: float(coupling_value(system, s, *e).abs().mean()) for e in stage}
                for s, stage in enumerate(structure.edges)]
    if score == "random":
        gen = torch.Generator().manual_seed(seed)
        return [{e: float(v) for e, v in zip(stage, torch.rand(len(stage), generator=gen).tolist())}
                for stage in structure.edges]
    if data is None:
        raise ValueError("gradient edge scores need data (the validation split)")
    return taylor_scores(system, data, batch_size)


def taylor_scores(system: CoupledSystem, data: MultiTaskData, batch_size: int = 256, diagonal: bool = False
                  ) -> list[dict[Edge, float]]:
    """Per stage, {edge: sum over validation batches of |W_ij · dL/dW_ij|} (summed over channels) for the
    off-diagonal edges present (and the diagonal (i, i) when ``diagonal``); the model is unchanged."""
    structure = structure_of(system)
    params = {id(p) for p in system.coupling.parameters()}
    frozen = {p: p.requires_grad for p in system.parameters()}
    own = [(m, m) for m in structure.modules] if diagonal else []
    totals = [{e: 0.0 for e in (*own, *stage)} for stage in structure.edges]
    was_training = system.training
    system.eval()
    try:
        for p in system.parameters():
            p.requires_grad_(id(p) in params)
        x, y = data.val.x, data.val.y
        for start in range(0, len(x), batch_size):
            system.zero_grad(set_to_none=True)
            loss = task_losses(system, x[start:start + batch_size], {k: v[start:start + batch_size] for k, v in y.items()},
                               data)["loss"]
            loss.backward()
            for s, stage in enumerate(totals):
                for e in stage:
                    stage[e] += _taylor(system, s, e)
    finally:
        system.zero_grad(set_to_none=True)
        for p, flag in frozen.items():
            p.requires_grad_(flag)
        system.train(was_training)
    return totals


def _taylor(system: CoupledSystem, stage: int, edge: Edge) -> float:
    i, j = edge
    if isinstance(system, PrunedSystem):
        p, k = system.coupling.w[stage], system.coupling.position[stage][(i, j)]
        return float((p.detach()[k] * p.grad[k]).abs().sum()) if p.grad is not None else 0.0
    W = system.coupling.W[stage]
    if W.grad is None:
        return 0.0
    return float((W.detach()[i, j] * W.grad[i, j]).abs().sum())


def select_edges(scores: list[dict[Edge, float]], keep: float | None = None, threshold: float | None = None,
                 count: int | None = None) -> list[list[Edge]]:
    """Edges kept per stage: score >= ``threshold``; else the ``count`` best; else the best ``keep`` fraction
    (round(keep · edges present), ties broken by edge order)."""
    out = []
    for stage in scores:
        if threshold is not None:
            out.append(sorted(e for e, v in stage.items() if v >= threshold))
            continue
        k = count if count is not None else int(round(keep * len(stage)))
        ranked = sorted(stage, key=lambda e: (-stage[e], e))
        out.append(sorted(ranked[:min(k, len(stage))]))
    return out


def edge_pruned(system: CoupledSystem, config: EdgePruneConfig, data: MultiTaskData | None = None) -> PrunedSystem:
    """The pruned system (a new object; ``system`` is unchanged), fine-tuned when configured."""
    check_prunable(system, "edge pruning")
    scores = edge_scores(system, config.score, data, config.seed)
    kept = select_edges(scores, config.keep, config.threshold, config.count)
    pruned = restructure(system, edges=kept)
    if config.finetune is not None and config.finetune.epochs > 0:
        if data is None:
            raise ValueError("fine-tuning after edge pruning needs data")
        fit(pruned, data, config.finetune)
    return pruned.eval()


def prune_edges(system: CoupledSystem, config: EdgePruneConfig, *, data: MultiTaskData | None = None,
                measure_config: MeasureConfig = MeasureConfig()) -> tuple[PrunedSystem, Report]:
    """Edge-pruned copy of ``system`` and its Report (``extra``: edges kept per stage, of how many)."""
    check_prunable(system, "edge pruning")
    before = structure_of(system)
    pruned = edge_pruned(system, config, data)
    after = pruned.structure
    extra = {"edges_kept": after.num_edges, "edges_before": before.num_edges,
             "edges_total": len(after.edges) * after.num_original * (after.num_original - 1),
             "edges": [[list(e) for e in stage] for stage in after.edges], "score": config.score}
    return pruned, measure(pruned, data, config.describe(), measure_config, extra=extra)
