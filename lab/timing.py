"""What a model costs to run, measured: median latency of timed calls and peak memory of one forward.

Latency is the median of ``repeats`` calls after ``warmup`` untimed ones, with
``torch.set_num_threads(threads)`` for the duration; peak memory is the model's own tensors plus the
peak of tensor memory allocated during one forward (torch profiler allocation events).

Part of the cost model :mod:`lab.cost`, which re-exports these names.
"""
from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from .counting import stored_tensors


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
        for t in stored_tensors(value):
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
