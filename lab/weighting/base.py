"""The loss-weighting interface: how per-task losses become one update.

A weighting turns the per-task losses of a step into gradients (it calls
``backward`` itself, so gradient-surgery methods fit the same seam) and returns
the effective weight lambda_i it gave each task, which ``History`` records.
"""
from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn


class Weighting:
    name: ClassVar[str] = ""

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
