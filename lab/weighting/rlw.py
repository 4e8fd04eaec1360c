"""RLW: random loss weighting (Lin, Ye, Xu, Shi & Zhang, "Reasonable Effectiveness of Random
Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022, https://arxiv.org/abs/2111.10603).

Every step draws fresh weights lambda = softmax(eps), eps ~ N(0, I_T), and descends
sum_i lambda_i L_i (the paper's default distribution, as in LibMTL). The weights are
positive and sum to 1 (the equal weighting's sum to T); their mean over steps is
1/T each. Draws come from the weighting's own generator seeded with ``seed``, so
the same seed gives the same sequence of weights and leaves the trainer's random
state alone. History records the weights of each epoch's last step.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Weighting
from .checks import check_number


def random_loss_weights(num_tasks: int, generator: torch.Generator) -> Tensor:
    """softmax of a standard normal draw: (num_tasks,) float32, > 0, summing to 1."""
    return torch.softmax(torch.randn(num_tasks, generator=generator), 0)


class RLW(Weighting):
    name = "rlw"

    def __init__(self, seed: int = 0):
        self.seed = check_number("rlw", "seed", seed, low=0, high=2 ** 63 - 1, integer=True)

    @property
    def options(self) -> dict:
        return {"seed": self.seed}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        self.generator = torch.Generator().manual_seed(self.seed)

    def backward(self, losses, system):
        lam = random_loss_weights(len(self.task_names), self.generator)
        sum(float(lam[i]) * losses[t] for i, t in enumerate(self.task_names)).backward()
        return {t: float(v) for t, v in zip(self.task_names, lam)}
