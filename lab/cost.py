"""The cost model: what a model costs to run, C(θ), and to store, S(θ), in one ``Report``.

* C(θ): FLOPs per example counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per
  multiply-accumulate: Linear(a, b) costs 2ab). ``effective_flops`` is stated as such: the FLOPs
  an ideal sparse kernel would do, each Linear/Conv's count scaled by the fraction of its weights
  that are non-zero (no CPU kernel here actually skips them).
* S(θ): real bytes of files written to disk — ``saved_bytes`` of ``torch.save(state_dict)`` and
  ``packed_bytes`` of the lab's packed format (:mod:`lab.formats.packed`: sparse positions,
  codebooks, Huffman codes). ``Report.bytes`` is the packed size when the model packs, else the
  saved size; deployment rows use the ONNX file(s).
* latency: median milliseconds of ``repeats`` timed calls after ``warmup`` untimed ones, with
  ``torch.set_num_threads(threads)`` for the duration; peak memory: the model's own tensors plus
  the peak of tensor memory allocated during one forward (torch profiler allocation events).
* the objective f(θ) = λ_C · C(θ)/C_ref + λ_S · S(θ)/S_ref (+ λ_L · latency/latency_ref), each term
  relative to a reference model (the uncompressed one: f = λ_C + λ_S there), with user weights.

    report = measure(model, data, step="fp32")
    print(format_reports([ref, report], CostWeights(flops=1, bytes=1)))

This module holds the report type, the objective, ``measure`` and the tables; the counting lives in
:mod:`lab.counting`, timing and memory in :mod:`lab.timing`, accuracy in :mod:`lab.metrics`
(``evaluate_model``). Their public names are importable from here too.
"""
from __future__ import annotations

import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from torch import Tensor, nn

from .counting import (count_flops, count_parameters, example_input, packable_state, packed_size, saved_size,
                       state_for_saving, stored_tensors, weight_layers)
from .data.base import MultiTaskData
from .metrics import evaluate_model, task_outputs
from .tables import format_table
from .timing import eval_mode, fixed_threads, peak_memory, time_call
from .validation import _is_real, check_bool, check_int, normalise_fields, show

KB = 1000
MB = 1000 ** 2


@dataclass(frozen=True)
class Report:
    """Accuracy and costs of one model after one step (units in the field names' comments)."""

    step: str                              # what produced this model, e.g. "prune:0.9"
    metric: float | None = None            # mean test metric over tasks (accuracy for digits), in [0, 1]
    metrics: dict = field(default_factory=dict)   # per task
    params: int = 0                        # parameters (and float buffers) stored
    nonzeros: int = 0                      # of those, non-zero
    flops: int | None = None               # FLOPs per example, dense (FlopCounterMode)
    effective_flops: int | None = None     # FLOPs per example if zero weights were skipped (ideal)
    saved_bytes: int | None = None         # torch.save(state_dict) file size on disk
    packed_bytes: int | None = None        # lab.packed/1 file size on disk (None: not packable)
    file_bytes: int | None = None          # deployed file(s) size, e.g. .onnx (+ .onnx.data)
    latency_ms: float | None = None        # median per call at batch `latency_batch`
    latency_batch: int = 1
    threads: int = 1
    peak_memory_bytes: int | None = None   # model tensors + peak allocations of one forward
    runtime: str = "torch"                 # torch, torch-int8 (dynamic), pt2e-int8, onnxruntime, ...
    notes: tuple = ()
    extra: dict = field(default_factory=dict)

    @property
    def bytes(self) -> int | None:
        """S(θ): the deployed file if any, else the packed format, else the torch.save file."""
        for v in (self.file_bytes, self.packed_bytes, self.saved_bytes):
            if v is not None:
                return v
        return None

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzeros / self.params if self.params else 0.0

    def with_(self, **changes) -> "Report":
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bytes"] = self.bytes
        d["notes"] = list(self.notes)
        return d


@dataclass(frozen=True)
class CostWeights:
    """User weights of the objective f = flops·C/C_ref + bytes·S/S_ref + latency·L/L_ref."""

    flops: float = 1.0
    bytes: float = 1.0
    latency: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flops", "bytes", "latency"):
            v = getattr(self, name)
            if not (_is_real(v) and math.isfinite(v) and 0 <= v <= 1e6):
                raise ValueError(f"cost weight {name} must be a finite number >= 0, got {show(v)} (at most 1e6)")
            object.__setattr__(self, name, float(v))


def objective(report: Report, weights: CostWeights = CostWeights(), reference: Report | None = None) -> float:
    """f(θ) = Σ λ · cost / reference cost. Without a reference: C in MFLOPs, S in KB, latency in ms."""
    terms = [(weights.flops, report.flops, reference.flops if reference else MB / 1),
             (weights.bytes, report.bytes, reference.bytes if reference else KB),
             (weights.latency, report.latency_ms, reference.latency_ms if reference else 1.0)]
    total = 0.0
    for w, value, ref in terms:
        if w == 0:
            continue
        if value is None or not ref:
            return float("nan")
        total += w * value / ref
    return total


# --- one report --------------------------------------------------------------------------
@dataclass(frozen=True)
class MeasureConfig:
    """What ``measure`` does: timing (``latency``), ``memory``, ``packed`` size; batch and threads.
    Allowed: batch_size 1..65536, repeats 1..100000, warmup 0..100000, threads 1..1024, flags True/False."""

    latency: bool = True
    batch_size: int = 1
    repeats: int = 50
    warmup: int = 10
    threads: int = 1
    memory: bool = True
    packed: bool = True

    def __post_init__(self) -> None:
        normalise_fields(self, {
            "latency": check_bool("latency", self.latency), "memory": check_bool("memory", self.memory),
            "packed": check_bool("packed", self.packed),
            "batch_size": check_int("batch_size", self.batch_size, min=1, max=65536),
            "repeats": check_int("repeats", self.repeats, min=1, max=100_000),
            "warmup": check_int("warmup", self.warmup, min=0, max=100_000),
            "threads": check_int("threads", self.threads, min=1, max=1024)})


FAST_MEASURE = MeasureConfig(latency=False, memory=False)


def measure(model: nn.Module, data: MultiTaskData | None = None, step: str = "model",
            config: MeasureConfig = MeasureConfig(), *, runtime: str = "torch", notes: Sequence[str] = (),
            flops_fallback: tuple[int, int] | None = None, extra: dict | None = None,
            workdir: str | os.PathLike | None = None) -> Report:
    """Accuracy (when ``data`` is given) and every cost of ``model`` in one Report.

    ``flops_fallback``: (dense, effective) FLOPs of the float model, reported when the counter
    sees fewer (torch.ao quantized kernels are opaque to FlopCounterMode; they do the same
    multiply-adds in int8); noted in the report.
    Files are written to ``workdir`` (a temporary folder by default, removed after).
    """
    notes = list(notes)
    metrics = evaluate_model(model, data.test, data.tasks) if data is not None else {}
    x1 = example_input(model, data, 1)
    params, nonzeros = count_parameters(model)
    flops, effective = count_flops(model, x1)
    if flops_fallback is not None and flops < flops_fallback[0]:
        flops, effective = flops_fallback
        notes.append("FLOPs of the float model (the counter does not see quantized kernels)")
    with tempfile.TemporaryDirectory() if workdir is None else _existing(workdir) as d:
        saved = saved_size(model, d)
        packed = packed_size(model, d) if config.packed else None
    latency = peak = None
    if config.latency or config.memory:
        xb = example_input(model, data, config.batch_size)
        with eval_mode(model):
            latency, peak = _time_and_memory(model, xb, config)
    return Report(step=step, metric=_mean(metrics), metrics=metrics, params=params, nonzeros=nonzeros,
                  flops=flops, effective_flops=effective, saved_bytes=saved, packed_bytes=packed,
                  latency_ms=latency, latency_batch=config.batch_size, threads=config.threads,
                  peak_memory_bytes=peak, runtime=runtime, notes=tuple(notes), extra=dict(extra or {}))


def _time_and_memory(model: nn.Module, xb: Tensor, config: MeasureConfig) -> tuple[float | None, int | None]:
    latency = peak = None
    if config.latency:
        latency = time_call(lambda: model(xb), config.repeats, config.warmup, config.threads)
    if config.memory:
        with fixed_threads(config.threads):
            peak = peak_memory(model, xb)
    return latency, peak


@contextmanager
def _existing(path: str | os.PathLike) -> Iterator[str]:
    Path(path).mkdir(parents=True, exist_ok=True)
    yield str(path)


def _mean(metrics: dict[str, float]) -> float | None:
    return sum(metrics.values()) / len(metrics) if metrics else None


# --- tables ------------------------------------------------------------------------------
def report_row(report: Report, reference: Report | None = None, weights: CostWeights = CostWeights()) -> dict:
    """One table row: accuracy in %, sizes in KB, FLOPs in k, latency in µs, f relative to the reference."""
    ratio = (reference.bytes / report.bytes) if reference and reference.bytes and report.bytes else None
    return {
        "step": report.step,
        "acc_%": None if report.metric is None else 100.0 * report.metric,
        "params": report.params,
        "nonzero": report.nonzeros,
        "KB": None if report.bytes is None else report.bytes / KB,
        "x_smaller": ratio,
        "kFLOPs": None if report.flops is None else report.flops / 1000.0,
        "eff_kFLOPs": None if report.effective_flops is None else report.effective_flops / 1000.0,
        "us": None if report.latency_ms is None else 1000.0 * report.latency_ms,
        "peak_KB": None if report.peak_memory_bytes is None else report.peak_memory_bytes / KB,
        "runtime": report.runtime,
        "f": objective(report, weights, reference) if reference else None,
    }


def format_reports(reports: Sequence[Report], weights: CostWeights = CostWeights(), digits: int = 2) -> str:
    """The step-by-step table; ratios and f are relative to the first report."""
    if not reports:
        return "(no reports)"
    ref = reports[0]
    rows = [report_row(r, ref, weights) for r in reports]
    return format_table(rows, digits=digits)


__all__ = ["FAST_MEASURE", "KB", "MB", "CostWeights", "MeasureConfig", "Report", "count_flops", "count_parameters",
           "eval_mode", "evaluate_model", "example_input", "fixed_threads", "format_reports", "measure", "objective",
           "packable_state", "packed_size", "peak_memory", "report_row", "saved_size", "state_for_saving",
           "stored_tensors", "task_outputs", "time_call", "weight_layers"]
