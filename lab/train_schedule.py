"""Two training options beside the loop of ``lab.train``: a learning-rate schedule and keeping the
weights of the best validation epoch.

* ``make_lr_scheduler``: ``"none"`` (a constant lr), ``"cosine"`` (``CosineAnnealingLR`` over the
  run's epochs, stepped once per epoch: epoch e of E trains at lr * (1 + cos(pi (e-1) / E)) / 2),
  ``"step"`` (``StepLR``: lr times ``gamma`` every ``step_epochs`` epochs).
* ``BestEpoch``: after every epoch, copy the system's weights when its validation score is the best
  so far (mean validation metric over the tasks, higher is better; a tie goes to the lower mean
  validation loss, then to the earlier epoch); ``restore`` loads them back at the end of training.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .validation import check_choice, check_float, check_int, show

LR_SCHEDULES: tuple[str, ...] = ("none", "cosine", "step")
MAX_STEP_EPOCHS = 100_000


def check_lr_schedule(schedule: Any, step_epochs: Any, gamma: Any) -> tuple[str, int | None, float]:
    """(schedule, step_epochs, gamma) checked: ``schedule`` one of ``LR_SCHEDULES``; ``step_epochs``
    None or 1..100000 and ``gamma`` in (0, 1] - both for the step schedule only (other schedules
    refuse values other than the defaults None and 0.1)."""
    schedule = check_choice("lr_schedule", schedule, LR_SCHEDULES, unknown="learning-rate schedule")
    if step_epochs is not None:
        step_epochs = check_int("lr_step_epochs", step_epochs, min=1, max=MAX_STEP_EPOCHS)
    gamma = check_float("lr_gamma", gamma, min=0.0, max=1.0, min_open=True)
    if schedule != "step" and (step_epochs is not None or gamma != 0.1):
        raise ValueError(f"lr_step_epochs and lr_gamma belong to lr_schedule 'step', not {schedule!r} "
                         f"(got lr_step_epochs={show(step_epochs)}, lr_gamma={gamma:g})")
    return schedule, step_epochs, gamma


def default_step_epochs(epochs: int) -> int:
    """The step schedule's default period: a third of the run (at least 1 epoch)."""
    return max(1, math.ceil(epochs / 3))


def make_lr_scheduler(optimizer: torch.optim.Optimizer, schedule: str, epochs: int, step_epochs: int | None = None,
                      gamma: float = 0.1) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The scheduler to ``step()`` once after every epoch, or None for ``"none"``."""
    schedule, step_epochs, gamma = check_lr_schedule(schedule, step_epochs, gamma)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_epochs or default_step_epochs(epochs),
                                               gamma=gamma)
    return None


def validation_score(val: dict[str, dict[str, float]]) -> tuple[float, float]:
    """(mean validation metric, minus mean validation loss) of ``lab.metrics.evaluate``'s result: larger is better.
    NaN values (a diverged epoch) score lowest."""
    metric = sum(val["metric"].values()) / len(val["metric"])
    loss = sum(val["loss"].values()) / len(val["loss"])
    return (metric if math.isfinite(metric) else -math.inf, -loss if math.isfinite(loss) else -math.inf)


class BestEpoch:
    """The weights of the best validation epoch so far (a copy in memory, on the system's device)."""

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.score: tuple[float, float] | None = None
        self.state: dict[str, Tensor] | None = None

    def update(self, epoch: int, system: nn.Module, val: dict[str, dict[str, float]]) -> bool:
        """Keep ``system``'s weights if ``val`` (this epoch's validation result) beats the best; True if it did."""
        score = validation_score(val)
        if self.score is not None and score <= self.score:
            return False
        self.epoch, self.score = epoch, score
        self.state = {k: v.detach().clone() for k, v in system.state_dict().items()}
        return True

    def restore(self, system: nn.Module) -> int | None:
        """Load the kept weights into ``system``; the epoch they come from (None if nothing was kept)."""
        if self.state is None:
            return None
        system.load_state_dict(self.state)
        return self.epoch
