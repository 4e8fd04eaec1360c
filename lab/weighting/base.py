"""The loss-weighting interface: how per-task losses become one update.

A weighting turns the per-task losses of a step into gradients (it calls
``backward`` itself, so gradient-surgery methods fit the same seam) and returns
the effective weight lambda_i it gave each task, which ``History`` records.
"""
from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn


class Weighting:
    """Base class. ``options`` are the constructor's keyword arguments (JSON-able), so
    ``make_weighting(w.name, **w.options)`` builds the same weighting again; ``History``
    records both."""

    name: ClassVar[str] = ""

    @property
    def options(self) -> dict[str, Any]:
        """The keyword arguments this weighting was made with (none for the base)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "options": {...}}``: what a run records about its loss weighting."""
        return {"name": self.name, "options": self.options}

    def setup(self, task_names: tuple[str, ...], system: nn.Module) -> None:
        """Called once before training with the system's task names (in head order)."""
        self.task_names = tuple(task_names)

    def parameters(self) -> list[nn.Parameter]:
        """Extra learnable parameters (e.g. log-variances); the trainer optimises them too."""
        return []

    def backward(self, losses: dict[str, Tensor], system: nn.Module) -> dict[str, float]:
        """Put the gradients of the joint loss into ``.grad``; return lambda per task."""
        raise NotImplementedError

    def on_epoch_end(self, epoch: int, train_losses: dict[str, float]) -> None:
        """Mean training loss per task of the finished epoch (for methods that adapt per epoch)."""

    def joint_loss(self, losses: dict[str, Tensor], weights: dict[str, float]) -> float:
        return float(sum(weights[t] * losses[t].detach().item() for t in losses))
