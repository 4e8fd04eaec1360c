"""``LiveUpdates``: the playground's trainer callback - progress, status and, for your run, the live W
heatmap and loss curves, throttled to the panel's ``update_interval``."""
from __future__ import annotations

from ..history import History
from ..train import Callback
from ..viz import training_curves
from .base import Throttle

# ``panel`` is a ``lab.ui.playground.CouplingPlayground`` (which imports this module)


class LiveUpdates(Callback):
    """Progress, status and (for your run) the live W heatmap and loss curves, throttled."""

    def __init__(self, panel: "CouplingPlayground", label: str, epochs: int, live: bool):
        self.panel, self.label, self.epochs, self.live = panel, label, epochs, live
        self.step_throttle = Throttle(panel.update_interval)
        self.epoch_throttle = Throttle(panel.update_interval)
        self.system = None
        self.history: History | None = None

    def on_train_start(self, system, history):
        self.system, self.history = system, history
        p = self.panel
        p.progress.value, p.progress.bar_style = 0, "info"
        p.status.value = f"training {self.label}: epoch 0/{self.epochs}"
        if self.live:
            p._show_W(system, history, title=f"W of {system.strategy} before training")
            p.curves_view.clear("loss curves appear after the first epoch")

    def on_step_end(self, info):
        if not self.step_throttle.ready():
            return
        p = self.panel
        p.progress.max = info.steps_per_epoch * self.epochs
        p.progress.value = info.global_step
        p.status.value = (f"training {self.label}: epoch {info.epoch}/{self.epochs}, "
                          f"step {info.step}/{info.steps_per_epoch}")
        if self.live:
            p._show_W(self.system, self.history, title=f"W of {self.system.strategy}, epoch {info.epoch} "
                                                       f"step {info.step} (live)")
        self.step_throttle.done()

    def on_epoch_end(self, system, history):
        if self.live:
            self.panel.epochs_done = history.num_epochs
            if self.epoch_throttle.ready():
                self.panel.curves_view.show(training_curves(history), fields=("x", "y"))
                self.epoch_throttle.done()

    def on_train_end(self, system, history):
        p = self.panel
        done = history.num_epochs
        p.progress.max = max(1, len(history.step_loss))
        p.progress.value = p.progress.max
        p.progress.bar_style = "warning" if history.stopped else "success"
        p.status.value = f"{self.label}: {'stopped after' if history.stopped else 'finished'} {done}/{self.epochs} epochs"
        if self.live:
            p.epochs_done = done
            p._show_W(system, history, title=f"W of {system.strategy} after {done} epochs"
                      + (" (stopped)" if history.stopped else ""))
            p.curves_view.show(training_curves(history))
