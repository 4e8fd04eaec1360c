"""Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019, https://arxiv.org/abs/1803.10704).

With L_k(t) the mean training loss of task k in epoch t and K tasks,

    w_k(t - 1) = L_k(t - 1) / L_k(t - 2)
    lambda_k(t) = K exp(w_k(t - 1) / T) / sum_i exp(w_i(t - 1) / T)

so a task whose loss fell slowly in the last epoch gets more weight. The first
two epochs use lambda_k = 1. Temperature T: large T -> equal weights, small T ->
sharper. The weights are positive and always sum to K.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..validation import _is_real, show
from .base import Weighting


def check_temperature(temperature: float) -> float:
    """T as a float in (0, 1000]."""
    if not (_is_real(temperature) and math.isfinite(temperature) and 0 < temperature <= 1000):
        raise ValueError(f"temperature must be a positive number (at most 1000), got {show(temperature)}")
    return float(temperature)


def dwa_weights(loss_history: Sequence[Sequence[float]], temperature: float = 2.0) -> list[float]:
    """DWA weights for the next epoch from the mean losses of the previous epochs.

    ``loss_history[e][k]``: mean loss of task k in epoch e (oldest first). With
    fewer than two epochs recorded every weight is 1.
    """
    check_temperature(temperature)
    if len(loss_history) < 2:
        num_tasks = len(loss_history[0]) if loss_history else 0
        return [1.0] * num_tasks
    last = torch.tensor(loss_history[-1], dtype=torch.float64)
    before = torch.tensor(loss_history[-2], dtype=torch.float64)
    ratio = last / before.clamp_min(1e-12)
    lam = len(last) * torch.softmax(ratio / temperature, dim=0)
    return [float(v) for v in lam]


class DWA(Weighting):
    name = "dwa"

    def __init__(self, temperature: float = 2.0):
        self.temperature = check_temperature(temperature)

    @property
    def options(self):
        return {"temperature": self.temperature}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        self.loss_history: list[list[float]] = []
        self.lambdas = {t: 1.0 for t in self.task_names}

    def backward(self, losses, system):
        sum(self.lambdas[t] * losses[t] for t in self.task_names).backward()
        return dict(self.lambdas)

    def on_epoch_end(self, epoch, train_losses):
        self.loss_history.append([float(train_losses[t]) for t in self.task_names])
        lam = dwa_weights(self.loss_history, self.temperature)
        self.lambdas = dict(zip(self.task_names, lam))
