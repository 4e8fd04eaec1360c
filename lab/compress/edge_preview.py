"""The W-tab preview: drop every coupling edge with |W| under a threshold and score the system, no
fine-tuning, fast enough for a slider.

Each call builds the edge-pruned system (``lab.coupling.restructure``: the same structure the
exported graph has), evaluates it on the test split, and writes its packed file to count real bytes.
The |W| scores are computed once. ``bench/w_preview.py`` times a threshold move.

    pv = EdgePreview(system, data)
    r = pv(0.05)        # EdgePreviewResult(edges_kept=7, edges_total=24, accuracy=0.83, bytes=23402, ...)
"""
from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field

import torch

from ..coupling.pruned import PrunedSystem
from ..coupling.restructure import check_prunable, restructure, structure_of
from ..coupling.system import CoupledSystem
from ..cost import evaluate_model, fixed_threads, packed_size
from ..data.base import MultiTaskData
from .edges import edge_scores, select_edges


@dataclass(frozen=True)
class EdgePreviewResult:
    threshold: float
    edges_kept: int                # off-diagonal edges kept over all stages
    edges_total: int               # off-diagonal edges of the system previewed
    accuracy: float                # mean test metric over tasks
    metrics: dict = field(default_factory=dict)   # test metric per task
    bytes: int = 0                 # packed file of the edge-pruned system
    dense_bytes: int = 0           # packed file of the system previewed
    seconds: float = 0.0           # time this call took
    system: PrunedSystem | None = field(default=None, repr=False, compare=False)


class EdgePreview:
    """Holds ``system`` and its |W| scores; ``__call__(threshold)`` returns an EdgePreviewResult."""

    def __init__(self, system: CoupledSystem, data: MultiTaskData, threads: int = 1):
        check_prunable(system, "the W preview")
        self.system, self.data, self.threads = system.eval(), data, threads
        self.scores = edge_scores(system, "magnitude")
        self.edges_total = structure_of(system).num_edges
        self._dir = tempfile.TemporaryDirectory(prefix="lab-w-preview-")
        self.dense_bytes = packed_size(system, self._dir.name, "dense.lpk") or 0

    def max_threshold(self) -> float:
        """The largest |W| off the diagonal: at or above it, no edge is kept."""
        return max((v for stage in self.scores for v in stage.values()), default=0.0)

    def kept_at(self, threshold: float) -> list[list[tuple[int, int]]]:
        """Edges kept per stage at ``threshold`` (|W_ij| >= threshold)."""
        if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"edge threshold must be a finite number >= 0, got {threshold!r}")
        return select_edges(self.scores, threshold=threshold)

    def __call__(self, threshold: float) -> EdgePreviewResult:
        t0 = time.perf_counter()
        kept = self.kept_at(threshold)
        with fixed_threads(self.threads), torch.no_grad():
            pruned = restructure(self.system, edges=kept).eval()
            metrics = evaluate_model(pruned, self.data.test, self.data.tasks)
        size = packed_size(pruned, self._dir.name, "preview.lpk") or 0
        return EdgePreviewResult(float(threshold), sum(map(len, kept)), self.edges_total,
                                 sum(metrics.values()) / len(metrics), metrics, size, self.dense_bytes,
                                 time.perf_counter() - t0, pruned)

    def close(self) -> None:
        self._dir.cleanup()
