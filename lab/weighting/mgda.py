"""MGDA: the min-norm point of the task gradients' convex hull (Sener & Koltun, NeurIPS 2018,
https://arxiv.org/abs/1810.04650; the method itself: Désidéri 2012).

The shared parameters get d = sum_i alpha_i g_i with

    alpha = argmin_{alpha >= 0, sum alpha = 1} || sum_i alpha_i g_i ||^2 = argmin alpha^T G alpha

found with the paper's Frank-Wolfe solver (its Algorithm 2) on the (T, T) Gramian:
start at alpha = 1/T; each step moves towards the vertex e_t with the smallest
(G alpha)_t by the exact line-search step gamma; stop when gamma < ``epsilon`` or
after ``max_iters`` steps. For two tasks one step is exact. d is the common
descent direction: d . g_i >= ||d||^2 for every task, and d = 0 exactly when the
point is Pareto-stationary (0 lies in the hull).

Conventions: the weights sum to 1 (the equal weighting's sum to T), as in the paper,
LibMTL and torchjd (same solver and defaults as ``torchjd.aggregation.MGDA``; no
gradient normalisation — the paper's code offers "l2"/"loss+" variants).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_number
from .gramian import GramianWeighting, as_gramian


def mgda_weights(G: Tensor, epsilon: float = 1e-3, max_iters: int = 100) -> Tensor:
    """Frank-Wolfe min-norm weights: Gramian (T, T) -> alpha (T,), float64, alpha >= 0, sum 1."""
    G = as_gramian(G)
    T = G.shape[0]
    alpha = torch.full((T,), 1.0 / T, dtype=torch.float64)
    for _ in range(max_iters):
        Ga = G @ alpha
        t = int(torch.argmin(Ga))
        a, b, c = Ga[t], alpha @ Ga, G[t, t]            # alpha.G.e_t, alpha.G.alpha, e_t.G.e_t
        if c <= a:
            gamma = 1.0
        elif b <= a:
            gamma = 0.0
        else:
            gamma = float((b - a) / (b + c - 2 * a))
        alpha = (1 - gamma) * alpha
        alpha[t] += gamma
        if gamma < epsilon:
            break
    return alpha


class MGDA(GramianWeighting):
    name = "mgda"

    def __init__(self, epsilon: float = 1e-3, max_iters: int = 100):
        self.epsilon = check_number("mgda", "epsilon (Frank-Wolfe stopping step)", epsilon, low=0, low_open=True)
        self.max_iters = check_number("mgda", "max_iters (Frank-Wolfe steps)", max_iters, low=1, high=100_000,
                                      integer=True)

    @property
    def options(self) -> dict:
        return {"epsilon": self.epsilon, "max_iters": self.max_iters}

    def combination_weights(self, G):
        return mgda_weights(G, self.epsilon, self.max_iters)
