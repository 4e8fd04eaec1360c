"""What a study optimises, measured on a trial's outcome.

==============  ==========  ===================================================================
name            direction   value
==============  ==========  ===================================================================
``accuracy``    maximize    mean metric over tasks on the **validation** split, in [0, 1]
``bytes``       minimize    real bytes of the model's file on disk (``Report.bytes``: packed format)
``latency``     minimize    latency ratio: the model's median time at batch 1 over the time of this
                            worker's calibration model, interleaved (absolute µs from different
                            machines are not comparable; a ratio is)
``flops``       minimize    effective FLOPs per example (what an ideal sparse kernel would do)
==============  ==========  ===================================================================

The test metric is recorded beside them (``test_metric`` user attr) and never used to select.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from ..cost import example_input
from ..metrics import evaluate_model
from ..models import build_model
from ..timing import eval_mode, time_call
from .trials import TrialContext, TrialOutcome


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str        # "maximize" or "minimize"
    label: str            # axis title
    help: str


OBJECTIVES: dict[str, Objective] = {
    "accuracy": Objective("accuracy", "maximize", "validation accuracy (%)",
                          "mean validation metric over tasks (test reported beside it, never used to select)"),
    "bytes": Objective("bytes", "minimize", "bytes on disk", "real file size: lab.packed/1 (sparse, codebooks, Huffman)"),
    "latency": Objective("latency", "minimize", "latency ratio (vs calibration model)",
                         "median batch-1 time over this worker's calibration model, interleaved"),
    "flops": Objective("flops", "minimize", "effective FLOPs per example", "FLOPs an ideal sparse kernel would do"),
}
DEFAULT_OBJECTIVES = ("accuracy", "bytes")


def check_objectives(names: Sequence[str] | str) -> tuple[str, ...]:
    """Validated objective names (a list or ``"accuracy,bytes"``); ValueError names what is allowed."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = tuple(names)
    if not names:
        raise ValueError(f"choose at least one objective from {list(OBJECTIVES)}")
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise ValueError(f"unknown objective(s) {unknown}; choose from {list(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"objectives named twice: {list(names)}")
    return names


def directions(names: Sequence[str]) -> list[str]:
    return [OBJECTIVES[n].direction for n in names]


class LatencyCalibration:
    """This worker's yardstick: the dense 64-300-100-10 MLP (seed 0) timed at batch 1, one thread.

    ``ratio(model, x)``: ``rounds`` rounds, each timing the calibration model and then the model
    (median of ``repeats`` calls after ``warmup``); the median of the per-round ratios. Load on the
    machine slows both, so the ratio moves far less than the microseconds do.
    """

    def __init__(self, repeats: int = 30, warmup: int = 5, rounds: int = 3):
        if min(repeats, rounds) < 1 or warmup < 0:
            raise ValueError(f"need repeats, rounds >= 1 and warmup >= 0, got {repeats}, {rounds}, {warmup}")
        self.repeats, self.warmup, self.rounds = repeats, warmup, rounds
        self.model = build_model("mlp", (1, 8, 8), 10, seed=0).eval()
        self.x = torch.zeros(1, 1, 8, 8)
        self.ms = self._time(self.model, self.x)     # the calibration time measured at start, for the record

    def _time(self, model: nn.Module, x: torch.Tensor) -> float:
        with eval_mode(model):
            return time_call(lambda: model(x), self.repeats, self.warmup, threads=1)

    def ratio(self, model: nn.Module, x: torch.Tensor) -> float:
        ratios = []
        for _ in range(self.rounds):
            base = self._time(self.model, self.x)
            ratios.append(self._time(model, x) / base)
        return statistics.median(ratios)


def measure_objectives(names: Sequence[str], outcome: TrialOutcome, context: TrialContext,
                       calibration: LatencyCalibration | None = None) -> tuple[list[float], dict[str, Any]]:
    """(values in the order of ``names``, user attrs to record): the values, plus the test metric,
    bytes, ratio to the uncompressed model, FLOPs and the per-task validation metrics."""
    data, model, final = context.data, outcome.model, outcome.reports[-1]
    val = evaluate_model(model, data.val, data.tasks)
    test = evaluate_model(model, data.test, data.tasks)
    first = outcome.reports[0]
    attrs: dict[str, Any] = {
        "val_metric": sum(val.values()) / len(val), "test_metric": sum(test.values()) / len(test),
        "val_metrics": val, "bytes": final.bytes, "reference_bytes": first.bytes,
        "ratio": first.bytes / final.bytes if first.bytes and final.bytes else None,
        "flops": final.effective_flops, "params": final.params, "nonzeros": final.nonzeros,
        "seconds": round(outcome.seconds, 3),
    }
    if context.reference_report is not None and context.reference_report.bytes and final.bytes:
        attrs["reference_bytes"] = context.reference_report.bytes
        attrs["ratio"] = context.reference_report.bytes / final.bytes
    if outcome.plan is not None:
        attrs["plan"] = outcome.plan.describe()
        if outcome.plan.recipe:
            attrs["recipe"] = outcome.plan.recipe
    values = []
    for name in names:
        if name == "accuracy":
            values.append(attrs["val_metric"])
        elif name == "bytes":
            values.append(float(final.bytes) if final.bytes is not None else math.nan)
        elif name == "flops":
            values.append(float(final.effective_flops) if final.effective_flops is not None else math.nan)
        elif name == "latency":
            calibration = calibration or LatencyCalibration()
            ratio = calibration.ratio(model, example_input(model, data, 1))
            attrs["latency_ratio"], attrs["calibration_ms"] = ratio, calibration.ms
            values.append(ratio)
    bad = [n for n, v in zip(names, values) if not math.isfinite(v)]
    if bad:
        raise ValueError(f"objective(s) {bad} are not finite for this trial: {dict(zip(names, values))}")
    return values, attrs
