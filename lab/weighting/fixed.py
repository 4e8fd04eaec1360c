"""Fixed task weights: L = sum_i lambda_i L_i (equal weights when none are given).

The seed's detector loss L = L_cls + lambda * L_loc is ``Fixed((1.0, lam))``.
"""
from __future__ import annotations

import math

from ..validation import check_floats
from .base import Weighting


class Fixed(Weighting):
    name = "fixed"

    def __init__(self, weights: tuple[float, ...] | list[float] | dict[str, float] | None = None):
        if weights is not None and not isinstance(weights, dict):
            check_floats("task weights", weights, min=0.0, max=1e6, max_len=64)   # ">= 0": types, NaN, sign now
        elif isinstance(weights, dict):
            check_floats("task weights", list(weights.values()), min=0.0, max=1e6)
        self.requested = weights

    @property
    def options(self):
        return {"weights": _json_weights(self.requested)}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        w = self.requested
        if w is None:
            self.weights = {t: 1.0 for t in task_names}
        elif isinstance(w, dict):
            if set(w) != set(task_names):
                raise ValueError(f"task weights name {sorted(w)} but the tasks are {list(task_names)}")
            self.weights = {t: float(w[t]) for t in task_names}
        else:
            if len(w) != len(task_names):
                raise ValueError(f"got {len(w)} task weights for {len(task_names)} tasks {list(task_names)}; "
                                 "give one lambda per task")
            self.weights = {t: float(v) for t, v in zip(task_names, w)}
        bad = {t: v for t, v in self.weights.items() if not (math.isfinite(v) and v >= 0)}
        if bad:
            raise ValueError(f"task weights must be finite and >= 0, got {bad}")

    def backward(self, losses, system):
        total = sum(self.weights[t] * losses[t] for t in losses)
        total.backward()
        return dict(self.weights)


class Equal(Fixed):
    name = "equal"

    def __init__(self):
        super().__init__(None)

    @property
    def options(self):
        return {}


def _json_weights(weights) -> list[float] | dict[str, float] | None:
    """Requested task weights as JSON-able values: a list (one per task), a dict by task name, or None."""
    if weights is None:
        return None
    if isinstance(weights, dict):
        return {str(t): float(v) for t, v in weights.items()}
    return [float(v) for v in weights]
