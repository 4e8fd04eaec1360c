"""What a check returns, and how a learner's code is called without letting it crash the notebook.

A check is a plain function that returns a :class:`CheckResult`: ``passed`` (bool), a one-line
``message`` (what was checked, or what is wrong) and a ``hint`` (what to look at next; it names the
concept, never the code of the solution). ``figure`` is an optional small plotly figure (before/after).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check; ``exercise`` is its number, e.g. ``"04.2"``."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""
    figure: Any = None            # plotly Figure or None

    def __bool__(self) -> bool:
        return self.passed

    def text(self) -> str:
        """One plain-text line (for print and logs)."""
        head = f"Exercise {self.exercise}: {'PASSED' if self.passed else 'not yet'} - {self.message}"
        return head + (f"\n  hint: {self.hint}" if self.hint else "")


def passed(exercise: str, message: str, figure: Any = None) -> CheckResult:
    return CheckResult(exercise, True, message, "", figure)


def failed(exercise: str, message: str, hint: str = "", figure: Any = None) -> CheckResult:
    return CheckResult(exercise, False, message, hint, figure)


class LearnerError(Exception):
    """The learner's function raised, returned nothing, or returned the wrong kind of value."""


def call_learner(fn: Callable, *args) -> Any:
    """``fn(*args)`` with its exception turned into a readable LearnerError (never a traceback)."""
    if not callable(fn):
        raise LearnerError(f"expected a function, got {type(fn).__name__}; pass the function itself, "
                           "without calling it (no parentheses)")
    try:
        out = fn(*args)
    except Exception as err:                       # the learner's bug, shown as one line
        frames = [f for f in traceback.extract_tb(err.__traceback__)[1:]]
        line = f" (line {frames[-1].lineno} of {frames[-1].name})" if frames else ""
        raise LearnerError(f"your function raised {type(err).__name__}: {err}{line}") from None
    if out is None or out is Ellipsis:
        raise LearnerError("your function returned nothing yet - replace the `...` by your code and return "
                           "the result")
    return out


def as_tensor(value: Any, shape: tuple[int, ...], name: str = "the result") -> torch.Tensor:
    """``value`` as a float64 tensor of ``shape``; LearnerError saying what was wrong otherwise."""
    try:
        t = torch.as_tensor(np.asarray(value.detach() if isinstance(value, torch.Tensor) else value),
                            dtype=torch.float64)
    except (TypeError, ValueError) as err:
        raise LearnerError(f"{name} is not a tensor or array of numbers ({err})") from None
    if tuple(t.shape) != tuple(shape):
        raise LearnerError(f"{name} has shape {tuple(t.shape)}, expected {tuple(shape)}")
    if not torch.isfinite(t).all():
        raise LearnerError(f"{name} holds NaN or inf values")
    return t


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    """Same shape and equal to ``tol`` (absolute plus relative)."""
    a, b = a.double(), b.double()
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=tol, rtol=tol))
