"""How training fails loudly: NaN/inf losses and divergence, with the history kept.

``train`` raises ``NonFiniteLossError`` when a step's loss is NaN/inf, and ``DivergenceError`` (a
subclass) when, at the end of an epoch, a task's loss has grown ``DIVERGENCE_FACTOR`` times beyond its
loss at the first step, or the parameters, W or any recorded number became NaN/inf. Either way the
error names the epoch, ``history.error`` says why, and the history keeps the epochs finished before
(nothing non-finite is ever recorded, so ``History.save`` never writes a bare NaN).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .history import History


class NonFiniteLossError(ValueError):
    """The joint loss became NaN or inf; ``history`` holds what was recorded before."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


class DivergenceError(NonFiniteLossError):
    """Training diverged: a task's loss grew ``DIVERGENCE_FACTOR`` times beyond its start, or the
    parameters, W or the epoch's metrics became NaN/inf. ``epoch`` names the epoch; ``history``
    keeps the epochs finished before it (the diverged one is not recorded)."""

    def __init__(self, message: str, history: History, epoch: int):
        super().__init__(message, history)
        self.epoch = epoch


# A task's loss (training mean of an epoch, or validation) above this many times its loss at the first
# step (at least 1.0) is divergence. Healthy runs stay within ~10x of their start (validation losses of
# overfit classifiers included); Adam at lr=1e6 reaches 1e33, SGD at lr=1 reaches 1e16 on the digits.
DIVERGENCE_FACTOR = 1e6


def divergence_reason(losses: dict[str, float], initial: dict[str, float], what: str,
                      factor: float = DIVERGENCE_FACTOR) -> str | None:
    """Why ``losses`` (task -> value) count as diverged against ``initial`` (task -> first loss), or None."""
    for task, value in losses.items():
        if task not in initial:
            continue
        if not math.isfinite(value):
            return f"the {what} loss of {task!r} is {value}"
        limit = factor * max(initial[task], 1.0)
        if value > limit:
            return (f"the {what} loss of {task!r} reached {value:.3g}, more than {factor:g} times its first value "
                    f"{initial[task]:.3g}")
    return None


def _non_finite(system: nn.Module, train_loss: dict[str, float], train_metric: dict[str, float],
                val: dict[str, dict[str, float]], weights: dict[str, float], matrices: list[torch.Tensor]) -> str | None:
    """What became NaN/inf at the end of an epoch (parameters, W, recorded numbers), or None."""
    bad = [n for n, p in system.named_parameters() if p.is_floating_point() and not torch.isfinite(p).all()]
    if bad:
        return f"parameters became NaN/inf ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''})"
    bad_W = [s + 1 for s, W in enumerate(matrices) if not torch.isfinite(torch.as_tensor(W)).all()]
    if bad_W:
        return f"W of stage(s) {bad_W} became NaN/inf"
    for label, values in (("training loss", train_loss), ("training metric", train_metric),
                          ("validation loss", val["loss"]), ("validation metric", val["metric"]),
                          ("task weight", weights)):
        bad_values = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad_values:
            return f"the {label} became NaN/inf ({bad_values})"
    return None


def check_epoch(epoch: int, system: nn.Module, history: History, initial: dict[str, float],
                train_loss: dict[str, float], train_metric: dict[str, float], val: dict[str, dict[str, float]],
                weights: dict[str, float], matrices: list[torch.Tensor]) -> None:
    """Raise DivergenceError (recording the reason in ``history.error``) when the finished epoch diverged."""
    reason = _non_finite(system, train_loss, train_metric, val, weights, matrices) \
        or divergence_reason({t: train_loss[t] for t in initial}, initial, "training") \
        or divergence_reason(val["loss"], initial, "validation")
    if reason is None:
        return
    history.error = f"training diverged at epoch {epoch}: {reason}"
    raise DivergenceError(history.error + " (lower the learning rate); the history keeps the "
                          f"{history.num_epochs} finished epochs", history, epoch)
