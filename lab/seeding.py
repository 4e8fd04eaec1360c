"""Seeded randomness that never uses the process-global RNG: same seed, same numbers, in any thread.

torch has one global CPU generator per process. Seeding it (``torch.manual_seed``) and drawing from
it is not thread-safe in the sense that matters here: two panels training in background threads of
one kernel interleave their draws, and ``torch.random.fork_rng`` restoring the state at the end of one
thread's block rewinds another thread's seeded stream. So no seeded lab code reads or seeds the global
RNG; every draw comes from a ``torch.Generator`` owned by the call that made it:

* **Explicit generators** where the lab draws itself (batch order, attack starts, PCGrad's order):
  ``generator(seed)``.
* **Building and re-initialising modules** (``seeded(seed)``): module constructors and
  ``reset_parameters`` take no generator, so while the block runs, a thread-local
  ``TorchDispatchMode`` hands every random ATen op of *this thread* that names no generator
  (``uniform_``, ``normal_``, ``bernoulli_``, ``randperm``, ...: the ops torch tags
  ``nondeterministic_seeded``) the block's generator. Other threads are not affected and the global
  RNG is neither read nor advanced. A fresh generator seeded with s produces the same stream as the
  global one after ``torch.manual_seed(s)``, so every module comes out bit-identical to
  ``torch.manual_seed(s)`` + construct — torch's and torchvision's own initialisation, unchanged. A
  random op that cannot take a generator (fused CUDA dropout, RNNs with dropout, attention kernels
  with dropout) raises instead of silently using the global RNG.
  Chosen over re-initialising parameters by hand, which would re-implement torch's init per layer
  type (and torchvision's), special-case the couplings' deterministic parameters (cross-stitch W,
  attention's zero queries) and still advance the global RNG while the modules are constructed.
  Also used where a library draws values it throws away (torchao's PT2E pattern matching draws
  example inputs with ``torch.randn``): ``seeded(0)`` keeps those off the global RNG. Ops on
  tracing tensors (``torch.export``'s fake tensors) draw nothing and pass through.
* **Dropout while training** (``seeded_training(model, seed)``): the dispatch mode costs ~2-3x on
  a tiny model's training step, so lab systems use ``SeededDropout`` — an ``nn.Dropout`` that draws
  its mask from the generator ``seeded_training`` sets for this thread (and behaves exactly like
  ``nn.Dropout`` everywhere else). Models with other random layers (torchvision's dropout, any
  class from outside ``torch.nn`` and ``lab``) are trained under the dispatch mode instead: correct,
  only slower. Mask for mask, both equal torch's CPU dropout after ``torch.manual_seed(seed)``.
* **Third-party code that only knows the global numpy / ``random`` RNGs** (mnist1d seeds and draws
  ``np.random``): ``exclusive_global_rngs()`` runs it under one process-wide lock and restores both
  global states afterwards. Lab threads take turns; a foreign thread drawing from ``np.random`` at
  the same moment can still disturb it — nothing short of rewriting that library prevents that.

A process-wide lock around seeded *training* was rejected: it would serialise two panels for the
whole training. ``lab`` never calls ``torch.manual_seed``; the caller's global states are left as
they were (tests/test_reproducible_threads.py checks all of this under threads).
"""
from __future__ import annotations

import contextlib
import functools
import random
import threading
from typing import Iterator

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["SeededDropout", "exclusive_global_rngs", "generator", "seeded", "seeded_dropout", "seeded_training"]


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A new generator on ``device`` seeded with ``seed`` (on CPU: the stream of ``torch.manual_seed(seed)``)."""
    return torch.Generator(device=device).manual_seed(int(seed))


class _Streams:
    """One generator per device (cpu, cuda:0, ...), all seeded with ``seed``, made on first use."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._by_device: dict[str, torch.Generator] = {}

    def get(self, device: torch.device) -> torch.Generator:
        key = f"{device.type}:{device.index}" if device.index is not None else device.type
        if key not in self._by_device:
            self._by_device[key] = generator(self.seed, device)
        return self._by_device[key]


# --- the dispatch mode: random ops of one thread draw from the block's generators ---------------------
@functools.lru_cache(maxsize=None)
def _with_generator(op: torch._ops.OpOverload) -> tuple[torch._ops.OpOverload | None, int | None]:
    """(overload of ``op`` that takes a generator, position of that argument if positional)."""
    for candidate in (op, *(getattr(op.overloadpacket, o) for o in op.overloadpacket.overloads())):
        names = [a.name for a in candidate._schema.arguments]
        if "generator" not in names:
            continue
        if candidate is op or [n for n in names if n != "generator"] == [a.name for a in op._schema.arguments]:
            arg = candidate._schema.arguments[names.index("generator")]
            return candidate, None if arg.kwarg_only else names.index("generator")
    return None, None


def _device_of(args: tuple, kwargs: dict) -> torch.device:
    for value in (*args, kwargs.get("out")):
        if isinstance(value, Tensor):
            return value.device
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], Tensor):
            return value[0].device
    device = kwargs.get("device")
    return torch.device(device) if device is not None else torch.device("cpu")


def _traced(args: tuple, kwargs: dict) -> bool:
    """Whether the op runs on tracing tensors (torch.export's fake tensors, functional wrappers)."""
    values = [*args, *kwargs.values()]
    return any(type(v) not in (Tensor, nn.Parameter) for v in values if isinstance(v, Tensor))


class _DrawFrom(TorchDispatchMode):
    """Gives every random ATen op that names no generator one of ``streams``' generators."""

    def __init__(self, streams: _Streams):
        super().__init__()
        self.streams = streams

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if torch.Tag.nondeterministic_seeded not in func.tags:
            return func(*args, **kwargs)
        device = _device_of(args, kwargs)
        if device.type == "meta" or _traced(args, kwargs):      # nothing is drawn: shapes only
            return func(*args, **kwargs)
        op, position = _with_generator(func)
        if op is None:
            raise RuntimeError(f"{func} draws random numbers but takes no generator, so lab.seeding cannot seed it "
                               "without the process-global RNG; use a layer without this op (or without dropout)")
        if position is not None and position < len(args):
            if args[position] is None:
                args = (*args[:position], self.streams.get(device), *args[position + 1:])
        elif kwargs.get("generator") is None:
            kwargs["generator"] = self.streams.get(device)
        return op(*args, **kwargs)


def seeded(seed: int) -> contextlib.AbstractContextManager[None]:
    """While the block runs, every random op of this thread without a generator draws from ``seed``'s stream.

    Use it around building or re-initialising modules: ``with seeded(3): net = nn.Linear(4, 2)`` gives the
    weights of ``torch.manual_seed(3); nn.Linear(4, 2)`` without touching the global RNG. ``SeededDropout``
    layers in the block draw from the same stream. Other threads keep drawing from the global RNG as
    usual. Ops that cannot take a generator raise RuntimeError.
    """
    return _drawing_from(_Streams(seed))


# --- dropout that draws from the trainer's generator ---------------------------------------------------
_local = threading.local()      # .dropout: _Streams of the seeded training running in this thread, or unset


def seeded_dropout(x: Tensor, p: float, gen: torch.Generator, inplace: bool = False) -> Tensor:
    """Training-mode dropout of ``x`` (any shape) with the mask drawn from ``gen``: zero with
    probability ``p``, the rest scaled by 1 / (1 - p) — mask for mask torch's CPU dropout."""
    if p == 0 or x.numel() == 0:
        return x
    if p == 1:
        return x.mul_(0) if inplace else x * 0
    noise = torch.empty_like(x).bernoulli_(1 - p, generator=gen)
    noise.div_(1 - p)
    return x.mul_(noise) if inplace else x * noise


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` whose training mask comes from the generator of the ``seeded_training`` block running
    in this thread; outside such a block (eval, export, a hand-written loop) it is plain ``nn.Dropout``."""

    def forward(self, input: Tensor) -> Tensor:
        streams = getattr(_local, "dropout", None)
        if streams is None or not self.training or self.p == 0:
            return super().forward(input)
        return seeded_dropout(input, self.p, streams.get(input.device), self.inplace)


_RANDOM_TORCH_LAYERS = (nn.modules.dropout._DropoutNd, nn.RReLU, nn.RNNBase, nn.MultiheadAttention)


def _draws_outside_seeded_dropout(model: nn.Module) -> bool:
    """Whether training ``model`` may draw random numbers other than through ``SeededDropout``: a random
    torch layer (dropout p > 0, RReLU, RNN/attention dropout) or any class from outside torch.nn and lab."""
    for m in model.modules():
        if isinstance(m, SeededDropout):
            continue
        if isinstance(m, _RANDOM_TORCH_LAYERS):
            rate = getattr(m, "p", getattr(m, "dropout", 1.0))
            if isinstance(m, nn.RReLU) or rate > 0:
                return True
            continue
        if not type(m).__module__.startswith(("torch.nn.", "lab.")):
            return True
    return False


def seeded_training(model: nn.Module, seed: int) -> contextlib.AbstractContextManager[None]:
    """Run a training loop whose random layers draw from ``seed``'s stream, in this thread only.

    ``SeededDropout`` layers draw their masks from it; if ``model`` holds other random layers (or
    classes lab cannot vouch for), the whole block runs under the dispatch mode of ``seeded(seed)``
    (slower). Explicit generators inside the block (batch order, attacks) are left alone. Nests: an
    inner block's stream applies until it ends.
    """
    return _drawing_from(_Streams(seed), redirect=_draws_outside_seeded_dropout(model))


@contextlib.contextmanager
def _drawing_from(streams: _Streams, redirect: bool = True) -> Iterator[None]:
    """``SeededDropout`` (and, with ``redirect``, every random op without a generator) draws from ``streams``."""
    previous = getattr(_local, "dropout", None)
    _local.dropout = streams
    try:
        with _DrawFrom(streams) if redirect else contextlib.nullcontext():
            yield
    finally:
        _local.dropout = previous


# --- third-party code that seeds the global numpy / random RNGs -----------------------------------------
_GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def exclusive_global_rngs() -> Iterator[None]:
    """For third-party code that seeds and draws from the global ``np.random`` and ``random`` states:
    lab threads take turns (a process-wide lock), and both states are restored afterwards."""
    with _GLOBAL_RNG_LOCK:
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
