"""FAMO: fast adaptive multitask optimization (Liu, Liu, Jin, Stone & Liu, NeurIPS 2023,
https://arxiv.org/abs/2306.03792). A loss weighting: O(1) backward passes per step.

Task logits xi (T,) start at 0 and z = softmax(xi). The model descends

    sum_i z_i log L_i / c,   c = sum_i z_i / L_i   (c held constant),

whose gradient is sum_i lambda_i grad L_i with lambda_i = z_i / (c L_i) (> 0, sum 1):
the log makes the update balance the tasks' *relative* loss decrease. After the step
the logits follow the loss changes delta_i = log L_i(before) - log L_i(after):

    xi <- Adam step (rate ``lr``, weight decay ``gamma``) on  J_softmax(xi)^T delta,

so a task whose loss fell fast loses weight and a slow one gains it. The logits
have their own Adam optimiser (as in the official code; defaults lr 0.025,
gamma 0.01), not the trainer's. Difference from the paper: the paper re-evaluates
the *same* batch after the step (one extra forward pass); a lab weighting sees each
batch once, so delta compares this step's losses with the next step's (another
batch) — the same quantity in expectation, noisier. The official code's gradient
clipping (max_norm) belongs to its training loop and is not part of this weighting.
Losses must be >= 0 (L_i + 1e-8 is used, as the official code does with its
minimum losses at 0).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Weighting
from .checks import check_number

EPS = 1e-8


def famo_weights(logits: Tensor, losses: Tensor) -> Tensor:
    """lambda_i = z_i / (c L_i), z = softmax(logits), c = sum_i z_i / L_i. Shapes (T,) -> (T,)."""
    z = torch.softmax(logits.detach().to(torch.float64), 0)
    inv = 1.0 / (losses.detach().to(torch.float64) + EPS)
    return z * inv / (z * inv).sum()


def famo_logit_gradient(logits: Tensor, delta: Tensor) -> Tensor:
    """J_softmax(logits)^T delta = z * (delta - z . delta) (T,): the logits' gradient before Adam."""
    z = torch.softmax(logits.detach(), 0)
    delta = delta.to(z.dtype)
    return z * (delta - (z * delta).sum())


class FAMO(Weighting):
    name = "famo"

    def __init__(self, lr: float = 0.025, gamma: float = 0.01):
        self.lr = check_number("famo", "lr (rate of the task logits)", lr, low=0, low_open=True, high=10)
        self.gamma = check_number("famo", "gamma (weight decay of the task logits)", gamma, low=0, high=10)

    @property
    def options(self) -> dict:
        return {"lr": self.lr, "gamma": self.gamma}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        self.logits = torch.zeros(len(self.task_names), requires_grad=True)
        self.optimizer = torch.optim.Adam([self.logits], lr=self.lr, weight_decay=self.gamma)
        self.previous: Tensor | None = None           # last step's losses (T,)

    def backward(self, losses, system):
        L = torch.stack([losses[t] for t in self.task_names])
        bad = [t for t, v in zip(self.task_names, L.detach()) if not v >= 0]
        if bad:
            raise ValueError(f"famo needs losses >= 0 (it weights log L_i), but {bad} are negative or not finite")
        current = L.detach().cpu().to(torch.float32)
        if self.previous is not None:                   # update the logits with the last step's loss change
            delta = torch.log(self.previous + EPS) - torch.log(current + EPS)
            self.optimizer.zero_grad(set_to_none=True)
            self.logits.grad = famo_logit_gradient(self.logits, delta)
            self.optimizer.step()
        self.previous = current
        lam = famo_weights(self.logits, current)
        (lam.to(L.dtype).to(L.device) * L).sum().backward()
        return {t: float(v) for t, v in zip(self.task_names, lam)}
