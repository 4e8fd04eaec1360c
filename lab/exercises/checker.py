"""Write-a-function checks: the learner's function against the lab's own implementation on fixed inputs.

A :class:`FunctionCheck` runs the learner's function on a few fixed cases (small tensors, no data, no
randomness). When an output differs from the lab's, the same inputs are run through each *known mistake*
(a deliberately wrong variant: a flipped sign, the wrong axis, an off-by-one range...); the first mistake
whose output the learner's matches names the misconception in the hint. An output that matches no known
mistake gets the check's generic hint. Hints name the concept to revisit, never the code that fixes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from .result import CheckResult, LearnerError, call_learner, close, failed, passed

Case = tuple            # positional arguments of one call


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: ``fn`` computes it, ``hint`` explains what it misunderstands."""

    name: str
    fn: Callable
    hint: str


@dataclass(frozen=True)
class FunctionCheck:
    """``reference(*case)`` is the right output of every case; ``normalise(output, expected)`` turns a
    learner's output into a comparable tensor (LearnerError if it cannot); ``same(a, b)`` compares."""

    exercise: str
    what: str                                    # e.g. "symmetric quantization to b bits"
    cases: Sequence[Case]
    reference: Callable
    normalise: Callable[[Any, torch.Tensor], torch.Tensor]
    mistakes: Sequence[Mistake] = ()
    generic_hint: str = ""
    same: Callable[[torch.Tensor, torch.Tensor], bool] = close
    figure: Callable[[Case, torch.Tensor, torch.Tensor], Any] | None = None
    describe: Callable[[Case], str] = field(default=lambda case: "")

    def expected(self, case: Case) -> torch.Tensor:
        ref = self.reference(*case)
        return self.normalise(ref, None)

    def check(self, fn: Callable, plot: bool = True) -> CheckResult:
        first_case = self.cases[0]
        try:
            for k, case in enumerate(self.cases):
                expected = self.expected(case)
                got = self.normalise(call_learner(fn, *_copies(case)), expected)
                if self.same(got, expected):
                    continue
                where = f"case {k + 1} of {len(self.cases)}" + (f" ({self.describe(case)})" if self.describe(case)
                                                                else "")
                fig = self._figure(case, got, expected) if plot else None
                mistake = self.diagnose(case, got)
                if mistake is not None:
                    return failed(self.exercise, f"{self.what}: wrong on {where}", mistake.hint, fig)
                return failed(self.exercise, f"{self.what}: wrong on {where}", self.generic_hint, fig)
        except LearnerError as err:
            return failed(self.exercise, f"{self.what}: {err}", self.generic_hint)
        fig = None
        if plot:
            expected = self.expected(first_case)
            try:
                fig = self._figure(first_case, self.normalise(call_learner(fn, *_copies(first_case)), expected),
                                   expected)
            except LearnerError:
                fig = None
        return passed(self.exercise, f"{self.what}: your function agrees with the lab's on all "
                                     f"{len(self.cases)} fixed cases", fig)

    def diagnose(self, case: Case, got: torch.Tensor) -> Mistake | None:
        """The first known mistake whose output on ``case`` equals ``got`` (None: no known one)."""
        expected = self.expected(case)
        for mistake in self.mistakes:
            try:
                wrong = self.normalise(mistake.fn(*_copies(case)), expected)
            except Exception:                        # a mistake that cannot run on this case: not this one
                continue
            if not self.same(wrong, expected) and self.same(got, wrong):
                return mistake
        return None

    def _figure(self, case: Case, got: torch.Tensor, expected: torch.Tensor):
        if self.figure is None:
            return None
        try:
            return self.figure(case, got, expected)
        except Exception:                            # a figure must never hide the verdict
            return None


def _copies(case: Case) -> Case:
    """Fresh copies of tensor arguments, so a function that edits its input cannot change the next call."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in case)
