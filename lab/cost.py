"""The cost model: what a model costs to run, C(θ), and to store, S(θ), in one ``Report``.

* C(θ): FLOPs per example counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per
  multiply-accumulate: Linear(a, b) costs 2ab). ``effective_flops`` is stated as such: the FLOPs
  an ideal sparse kernel would do, each Linear/Conv's count scaled by the fraction of its weights
  that are non-zero (no CPU kernel here actually skips them).
* S(θ): real bytes of files written to disk — ``saved_bytes`` of ``torch.save(state_dict)`` and
  ``packed_bytes`` of the lab's packed format (:mod:`lab.compress.packing`: sparse positions,
  codebooks, Huffman codes). ``Report.bytes`` is the packed size when the model packs, else the
  saved size; deployment rows use the ONNX file(s).
* latency: median milliseconds of ``repeats`` timed calls after ``warmup`` untimed ones, with
  ``torch.set_num_threads(threads)`` for the duration; peak memory: the model's own tensors plus
  the peak of tensor memory allocated during one forward (torch profiler allocation events).
* the objective f(θ) = λ_C · C(θ)/C_ref + λ_S · S(θ)/S_ref (+ λ_L · latency/latency_ref), each term
  relative to a reference model (the uncompressed one: f = λ_C + λ_S there), with user weights.

    report = measure(model, data, step="fp32")
    print(format_reports([ref, report], CostWeights(flops=1, bytes=1)))
"""
from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from .data.base import MultiTaskData, Split, Task
from .tables import format_table
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


# --- counting ----------------------------------------------------------------------------
def example_input(model: nn.Module, data: MultiTaskData | None = None, batch_size: int = 1) -> Tensor:
    """A (batch_size, *input_shape) input: test examples when data is given, else zeros."""
    if data is not None:
        x = data.test.x
        reps = math.ceil(batch_size / len(x))
        return (x.repeat(reps, *([1] * (x.dim() - 1))) if reps > 1 else x)[:batch_size]
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("cannot build an example input: pass data, or give the model an input_shape attribute")
    num_inputs = getattr(model, "num_inputs", None)
    return torch.zeros(batch_size, *(((num_inputs,) if num_inputs else ()) + tuple(shape)))


def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Linear and Conv layers by qualified name: the layers compression acts on."""
    return {n: m for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))}


def _stored_tensors(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _stored_tensors(v)


def _nonzero(t: Tensor) -> int:
    try:
        return int(torch.count_nonzero(t.dequantize() if t.is_quantized else t))
    except (NotImplementedError, RuntimeError):     # tensor subclasses without the op (torchao int8)
        try:
            return int(torch.count_nonzero(t.dequantize()))
        except Exception:
            return t.numel()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(stored values, non-zero ones) over the state dict: weights, biases, float buffers (BatchNorm
    statistics) and quantization scales; integer counters and zero points are not counted."""
    total = nonzero = 0
    for value in model.state_dict().values():
        for t in _stored_tensors(value):
            if t.is_quantized or t.is_floating_point() or t.dtype in (torch.int8, torch.uint8):
                total += t.numel()
                nonzero += _nonzero(t.detach())
    return total, nonzero


def count_flops(model: nn.Module, x: Tensor) -> tuple[int, int]:
    """(dense FLOPs, effective FLOPs) per example of ``model(x)`` (x: a batch of >= 1 example)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    total = counter.get_total_flops()
    per_module = counter.get_flop_counts()
    effective = total
    for name, layer in weight_layers(model).items():
        key = f"{type(model).__name__}.{name}" if name else type(model).__name__
        flops = sum(per_module.get(key, {}).values())
        w = layer.weight.detach()
        density = _nonzero(w) / w.numel() if w.numel() else 1.0
        effective -= flops * (1.0 - density)
    b = x.shape[0]
    return int(round(total / b)), int(round(effective / b))


def state_for_saving(model: nn.Module) -> dict[str, Any]:
    """The model's state dict, detached (tensors a converted graph no longer uses are not in it)."""
    return {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in model.state_dict().items()}


def saved_size(model: nn.Module, directory: str | os.PathLike, name: str = "model.pt") -> int:
    """Bytes of ``torch.save(state_dict)`` written to ``directory/name``."""
    path = Path(directory) / name
    torch.save(state_for_saving(model), path)
    return path.stat().st_size


def packable_state(model: nn.Module) -> dict[str, Tensor]:
    """Plain tensors that determine the model's weights, for the packed format.

    Quantized tensors (torch.ao int8 weights, torchao int8 subclasses) enter as their dequantized
    values, which lie exactly on the int8 grid, so the packer stores them as codes + grid/codebook;
    tuples (packed parameters) are flattened; non-tensor entries (dtypes) belong to the
    architecture and are left out.
    """
    out: dict[str, Tensor] = {}

    def add(name: str, value: Any) -> None:
        if isinstance(value, Tensor):
            if value.is_quantized or type(value) not in (Tensor, nn.Parameter):
                value = value.dequantize()
            out[name] = value.detach()
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                add(f"{name}.{i}", v)

    for name, value in model.state_dict().items():
        add(name, value)
    return out


def packed_size(model: nn.Module, directory: str | os.PathLike, name: str = "model.lpk") -> int | None:
    """Bytes of the lab.packed/1 file written to ``directory/name``; None if the state does not pack."""
    from .compress.packing import write_packed

    try:
        return write_packed(packable_state(model), Path(directory) / name).bytes
    except (ValueError, NotImplementedError, RuntimeError):
        return None


# --- timing and memory -------------------------------------------------------------------
@contextmanager
def fixed_threads(threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``; restore the previous count after."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def eval_mode(model) -> Iterator[None]:
    """Run the block with ``model`` in eval mode; its train/eval flag is restored after."""
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        yield
    finally:
        if isinstance(model, nn.Module) and was_training:
            model.train()


def time_call(fn: Callable[[], Any], repeats: int = 50, warmup: int = 10, threads: int = 1) -> float:
    """Median milliseconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls, fixed threads."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    with fixed_threads(threads), torch.no_grad():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def peak_memory(model: nn.Module, x: Tensor) -> int:
    """Bytes of the model's tensors plus the peak of memory allocated during ``model(x)``."""
    from torch.profiler import ProfilerActivity, profile

    resident = 0
    for value in model.state_dict().values():
        for t in _stored_tensors(value):
            try:
                resident += t.numel() * t.element_size()
            except (NotImplementedError, RuntimeError):
                resident += t.numel()          # an int8 tensor subclass
    with _quiet_native_stderr(), torch.no_grad(), \
            profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(x)
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]   # in order
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return resident + peak


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for the block: the profiler's C++ layer logs its start and stop."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# --- accuracy ----------------------------------------------------------------------------
def task_outputs(out: Tensor | dict[str, Tensor], tasks: Sequence[Task]) -> dict[str, Tensor]:
    """A model's output as {task: tensor}: a plain tensor belongs to the only (or first) task."""
    if isinstance(out, dict):
        return out
    if isinstance(out, (tuple, list)):
        return {t.name: o for t, o in zip(tasks, out)}
    return {tasks[0].name: out}


def evaluate_model(model: nn.Module | Callable, split: Split, tasks: Sequence[Task], batch_size: int = 1024
                   ) -> dict[str, float]:
    """Test metric per task of a single network (tensor output) or a CoupledSystem (dict output)."""
    from .metrics import check_split, task_metric

    check_split(split, batch_size)
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            parts = [task_outputs(model(split.x[i:i + batch_size]), tasks) for i in range(0, len(split), batch_size)]
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return {t.name: task_metric(t, out[t.name], split.y[t.name]) for t in tasks if t.name in out}


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
