"""The runtime arena: one model exported to every runtime × precision, each file loaded and run, side by side.

    arena = run_arena(model, "out/", data, ArenaConfig(runtimes=("onnx", "litert", "executorch")))
    print(arena.text())          # one row per file: bytes, parity, accuracy, latency and speed-up at each batch

For every file: the runtime loads and runs it on the test inputs; **parity** per output against eager
torch (fp32: max |difference| must stay within ``atol`` or ParityError; int8: argmax agreement of
classification outputs and the max logit difference are reported); accuracy on the test split;
real bytes on disk (sidecars included); **latency** at each batch size in interleaved rounds (every
contestant, eager torch first among them, timed once per round, the order rotating; ``threads``
threads everywhere) with the speed-up against eager torch taken within each round, then the median
over rounds; peak memory where the runtime exposes it (eager torch: profiler peak of one forward at
batch 1 plus weights; ExecuTorch: the memory it plans ahead for its largest batch).
"""
from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..counting import example_input, saved_size
from ..data.base import MultiTaskData
from ..metrics import evaluate_model
from ..timing import eval_mode, fixed_threads, peak_memory
from .arena_result import Arena, Entry, save_arena
from .base import MAX_BATCH, PRECISIONS, ParityError, Runner, Runtime, torch_outputs
from .registry import RUNTIMES, get_runtime, parse_runtimes

__all__ = ["Arena", "ArenaConfig", "Entry", "compare_outputs", "run_arena", "save_arena", "time_interleaved"]


@dataclass(frozen=True)
class ArenaConfig:
    """What the arena runs: runtimes × precisions, batch sizes timed, rounds, calls per timing, threads."""

    runtimes: tuple[str, ...] = tuple(RUNTIMES)
    precisions: tuple[str, ...] = PRECISIONS
    batches: tuple[int, ...] = (1, 256)
    rounds: int = 5
    repeats: int = 20
    warmup: int = 5
    threads: int = 1
    latency: bool = True
    atol: float = 1e-4
    onnx_int8: str = "dynamic"         # ONNX Runtime int8: dynamic or static (calibrated)
    calibration: int = 256              # calibration inputs for int8, from the train split
    max_batch: int = MAX_BATCH          # the batch bound of runtimes that need one (ExecuTorch plans memory for it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "runtimes", parse_runtimes(self.runtimes))
        bad = [p for p in self.precisions if p not in PRECISIONS]
        if bad or not self.precisions:
            raise ValueError(f"precisions must be some of {PRECISIONS}, got {self.precisions}")
        if not self.batches or any(not isinstance(b, int) or not 1 <= b <= 1024 for b in self.batches):
            raise ValueError(f"batch sizes must be integers from 1 to 1024, got {self.batches}")
        for name, low in (("rounds", 1), ("repeats", 1), ("warmup", 0), ("threads", 1), ("calibration", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if not (isinstance(self.atol, (int, float)) and math.isfinite(self.atol) and self.atol > 0):
            raise ValueError(f"atol must be a finite number > 0, got {self.atol!r}")
        if not isinstance(self.max_batch, int) or not max(2, *self.batches) <= self.max_batch <= 65536:
            raise ValueError(f"max_batch must be an integer from max(2, largest batch) to 65536, "
                             f"got {self.max_batch!r}")
        if self.onnx_int8 not in ("dynamic", "static"):
            raise ValueError(f"onnx_int8 must be 'dynamic' or 'static', got {self.onnx_int8!r}")


class _RunnerModel:
    """A Runner called like the torch model (tensor in, tensor or dict of tensors out), in chunks."""

    def __init__(self, runner: Runner, chunk: int = 256):
        self.runner, self.chunk = runner, chunk

    def __call__(self, x: Tensor):
        parts = [self.runner.run(x[i:i + self.chunk].numpy()) for i in range(0, len(x), self.chunk)]
        out = {k: torch.from_numpy(np.concatenate([p[k] for p in parts])) for k in parts[0]}
        return out["logits"] if list(out) == ["logits"] else out


def _classification_outputs(names: Sequence[str], data: MultiTaskData | None) -> set[str]:
    if data is None:
        return {"logits"} & set(names)
    kinds = {t.name: t.metric for t in data.tasks}
    if list(names) == ["logits"]:
        return {"logits"} if data.tasks[0].metric == "accuracy" else set()
    return {n for n in names if kinds.get(n) == "accuracy"}


def compare_outputs(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], classify: set[str]
                    ) -> tuple[dict[str, float], dict[str, float]]:
    """(max |got - ref| per output, argmax agreement per classification output)."""
    missing = [k for k in ref if k not in got]
    if missing:
        raise ParityError(f"the file lacks output(s) {missing}; it has {list(got)}")
    diffs = {k: float(np.abs(got[k].astype(np.float64) - ref[k]).max()) for k in ref}
    agree = {k: float((got[k].argmax(-1) == ref[k].argmax(-1)).mean()) for k in ref if k in classify}
    return diffs, agree


def _check_parity(entry: Entry, atol: float) -> None:
    worst = max(entry.max_abs_diff, key=entry.max_abs_diff.get)
    if not entry.max_abs_diff[worst] <= atol:
        raise ParityError(f"{entry.runtime} output {worst!r} differs from torch by max abs "
                          f"{entry.max_abs_diff[worst]:.3g} (tolerance {atol:g}); all outputs: "
                          + ", ".join(f"{k}={v:.3g}" for k, v in entry.max_abs_diff.items()))


def _median_us(call: Callable[[], object], repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def time_interleaved(calls: dict[str, Callable[[], object]], reference: str, rounds: int, repeats: int,
                     warmup: int) -> tuple[dict[str, float], dict[str, float]]:
    """(median µs over rounds, median over rounds of reference time / this time) per contestant.

    Each round times every contestant once (``repeats`` calls after ``warmup``), starting one later
    each round, so a machine whose load changes slows them all alike and ratios stay fair.
    """
    names = list(calls)
    per_round: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        now = {n: _median_us(calls[n], repeats, warmup) for n in order}
        for n in names:
            per_round[n].append(now[n])
            ratios[n].append(now[reference] / now[n])
    return ({n: statistics.median(v) for n, v in per_round.items()},
            {n: statistics.median(v) for n, v in ratios.items()})


def run_arena(model: nn.Module, folder: str | os.PathLike, data: MultiTaskData | None = None,
              config: ArenaConfig = ArenaConfig(), *, stem: str = "model", label: str | None = None,
              on_stage: Callable[[str], None] | None = None) -> Arena:
    """Export ``model`` to every runtime × precision of ``config`` under ``folder`` and compare (module doc).

    Every runtime is checked to be installed before any work starts (RuntimeNotInstalled says how to
    install it). ``on_stage`` is told "exporting <runtime> <precision>", then "timing". The model is
    run in eval mode and left in the mode it came in.
    """
    start = time.perf_counter()
    runtimes = [get_runtime(n, config.onnx_int8, config.max_batch) for n in config.runtimes]
    for rt in runtimes:
        rt.check_installed()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = on_stage or (lambda _: None)
    with eval_mode(model):
        entries, runners = _contestants(model, folder, data, config, runtimes, stem, stage)
        if config.latency:
            stage("timing")
            _time_all(model, data, config, entries, runners)
    name = label or getattr(model, "strategy", None) or type(model).__name__
    return Arena(name, entries, tuple(config.batches) if config.latency else (), config.threads,
                 time.perf_counter() - start)


def _contestants(model: nn.Module, folder: Path, data: MultiTaskData | None, config: ArenaConfig,
                 runtimes: list[Runtime], stem: str, stage: Callable[[str], None]
                 ) -> tuple[list[Entry], dict[tuple[int, int], Runner]]:
    """Eager torch's Entry, then export, load, parity and accuracy of every file; the loaded runners by entry."""
    x_test = data.test.x if data is not None else _random_inputs(model, 64)
    calibration = data.train.x[:config.calibration] if data is not None else x_test
    ref = torch_outputs(model, x_test)
    with tempfile.TemporaryDirectory() as tmp, fixed_threads(config.threads):
        torch_entry = Entry("torch", "fp32", bytes=saved_size(model, tmp),
                            metrics=evaluate_model(model, data.test, data.tasks) if data is not None else {},
                            memory_bytes=peak_memory(model, example_input(model, data, 1)))
    entries, runners = [torch_entry], {}
    batches = tuple(config.batches) if config.latency else (1,)
    for rt in runtimes:
        for precision in config.precisions:
            stage(f"exporting {rt.label} {precision}")
            arts = rt.export_batches(model, rt.default_path(folder, stem, precision), x_test[:2], precision,
                                     calibration, batches)
            loaded: dict[Path, Runner] = {}
            for b, art in arts.items():
                if art.path not in loaded:
                    loaded[art.path] = rt.load(art, config.threads)
            art = arts[batches[0]]
            as_model = _RunnerModel(loaded[art.path], min(256, config.max_batch))
            got = {k: v.numpy() for k, v in _named(as_model(x_test)).items()}
            diffs, agree = compare_outputs(ref, got, _classification_outputs(art.output_names, data))
            entry = Entry(rt.label, precision, art, art.bytes, diffs, agree, memory_bytes=art.planned_bytes,
                          metrics=evaluate_model(as_model, data.test, data.tasks) if data is not None else {})
            if precision == "fp32":
                _check_parity(entry, config.atol)
            entries.append(entry)
            runners.update({(len(entries) - 1, b): loaded[a.path] for b, a in arts.items()})
    return entries, runners


def _time_all(model: nn.Module, data: MultiTaskData | None, config: ArenaConfig, entries: list[Entry],
              runners: dict[tuple[int, int], Runner]) -> None:
    """Latency and speed-up of every entry at every batch size, interleaved rounds (fills the entries)."""
    for b in config.batches:
        xb = example_input(model, data, b) if data is not None else _random_inputs(model, b)
        calls: dict[str, Callable[[], object]] = {"0": lambda: model(xb)}
        calls.update({str(i): r.bind(xb.numpy()) for (i, batch), r in runners.items() if batch == b})
        with fixed_threads(config.threads), torch.no_grad():
            us, ratio = time_interleaved(calls, "0", config.rounds, config.repeats, config.warmup)
        for i, e in enumerate(entries):
            e.latency_us[b], e.speedup[b] = us[str(i)], ratio[str(i)]


def _random_inputs(model: nn.Module, n: int, seed: int = 0) -> Tensor:
    """``n`` seeded uniform [0, 1) inputs shaped like the model's (no data: parity is checked on these)."""
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("without data the model needs an input_shape attribute to build test inputs")
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def _named(out: Tensor | dict[str, Tensor]) -> dict[str, Tensor]:
    return out if isinstance(out, dict) else {"logits": out}
