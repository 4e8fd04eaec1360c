"""Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018, https://arxiv.org/abs/1705.07115).

Every task i has a learned log-variance s_i (initialised to ``init``); the joint
loss is

    L = sum_i exp(-s_i) L_i + s_i

so a task whose loss stays high (noisy, "uncertain") gets its weight exp(-s_i)
lowered, while the + s_i term keeps s_i from running off to infinity. The
effective weight recorded in ``History.task_weights`` is lambda_i = exp(-s_i).
(The paper's 1/2 factor for regression is folded into s_i: one formula for every
task kind.) The trainer optimises s with the model (same optimizer, no weight decay).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..validation import _is_real, show
from .base import Weighting


class Uncertainty(Weighting):
    name = "uncertainty"

    def __init__(self, init: float = 0.0):
        if not (_is_real(init) and math.isfinite(init) and -50 <= init <= 50):
            raise ValueError(f"init (the starting log-variance) must be a finite number in [-50, 50], got {show(init)}")
        self.init = float(init)
        self.log_vars: nn.Parameter | None = None

    @property
    def options(self):
        return {"init": self.init}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        device = next(system.parameters()).device
        self.log_vars = nn.Parameter(torch.full((len(self.task_names),), self.init, device=device))

    def parameters(self) -> list[nn.Parameter]:
        return [self.log_vars] if self.log_vars is not None else []

    def weights(self) -> dict[str, float]:
        """lambda_i = exp(-s_i) per task."""
        lam = torch.exp(-self.log_vars.detach())
        return {t: float(v) for t, v in zip(self.task_names, lam)}

    def loss(self, losses: dict[str, Tensor]) -> Tensor:
        """sum_i exp(-s_i) L_i + s_i (a scalar that keeps the graph to the model and to s)."""
        s = self.log_vars
        return sum(torch.exp(-s[i]) * losses[t] + s[i] for i, t in enumerate(self.task_names))

    def backward(self, losses, system):
        self.loss(losses).backward()
        return self.weights()
