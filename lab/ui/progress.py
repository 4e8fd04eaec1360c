"""``ProgressUpdates``: a trainer callback that drives a panel's progress bar and status line."""
from __future__ import annotations

from ..history import History
from ..train import Callback, StepInfo
from .base import Throttle, TrainingPanel


class ProgressUpdates(Callback):
    """Progress bar and status line of ``panel`` for one training run called ``label``.

    ``epochs``: the planned epochs; ``max_steps``: a step cap (None = none) that shortens the bar.
    Step updates are throttled to the panel's ``update_interval``. ``history`` is the run's
    History once training has started (it keeps the finished epochs when Stop ends the run);
    it is also put in ``panel.live_history`` so tests and notebooks can watch a run in progress.
    """

    def __init__(self, panel: TrainingPanel, label: str, epochs: int, max_steps: int | None = None):
        self.panel, self.label, self.epochs, self.max_steps = panel, label, epochs, max_steps
        self.throttle = Throttle(panel.update_interval)
        self.history: History | None = None

    def on_train_start(self, system, history):
        self.history = history
        p = self.panel
        p.live_history = history
        p.progress.value, p.progress.bar_style = 0, "info"
        p.status.value = f"training {self.label}: epoch 0/{self.epochs}"

    def on_step_end(self, info: StepInfo):
        if not self.throttle.ready():
            return
        total = info.steps_per_epoch * self.epochs
        p = self.panel
        p.progress.max = max(1, min(total, self.max_steps) if self.max_steps else total)
        p.progress.value = min(info.global_step, p.progress.max)
        p.status.value = (f"training {self.label}: epoch {info.epoch}/{self.epochs}, "
                          f"step {info.step}/{info.steps_per_epoch}")
        self.throttle.done()

    def on_train_end(self, system, history):
        p = self.panel
        p.progress.max = max(1, len(history.step_loss))
        p.progress.value = p.progress.max
        p.progress.bar_style = "warning" if history.stopped else "success"
        p.status.value = (f"{self.label}: {'stopped after' if history.stopped else 'finished'} "
                          f"{history.num_epochs}/{self.epochs} epochs")
