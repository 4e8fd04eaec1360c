"""CAGrad: conflict-averse gradient descent (Liu, Liu, Jin, Stone & Liu, NeurIPS 2021,
https://arxiv.org/abs/2110.14048).

The update d maximises the worst task's improvement min_i g_i . d inside a ball
around the average gradient g0 = mean_i g_i: ||d - g0|| <= c ||g0||. Its dual
(the paper's Algorithm 1) is a T-dimensional problem on the Gramian:

    w* = argmin_{w >= 0, sum w = 1}  g_w . g0 + c ||g0|| ||g_w||,   g_w = sum_i w_i g_i
    d  = g0 + (c ||g0|| / ||g_w*||) g_w*

so alpha_i = 1/T + c ||g0|| w*_i / ||g_w*|| (all > 0). c = 0 gives the mean
gradient; large c approaches MGDA's direction. The problem is solved here with
scipy's SLSQP on the trace-normalised Gramian (the official code uses SLSQP too;
torchjd uses cvxpy/Clarabel).

Scaling (``rescale``, as in the official code and LibMTL): 0 returns d; 1
(default, the official default) returns d / (1 + c^2); 2 returns d / (1 + c).
torchjd's ``CAGrad(c)`` returns d unscaled, so lab(rescale=1) = torchjd / (1 + c^2).
Degenerate cases (torchjd differs only in thresholds): all gradients zero or
g0 = 0 -> alpha = 1/T (d = g0); ||g_w*|| ~ 0 relative to the gradients (a
Pareto-stationary point) -> alpha = 0, as torchjd.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .checks import check_choice, check_number
from .gramian import GramianWeighting, as_gramian

RESCALES = (0, 1, 2)


def cagrad_weights(G: Tensor, c: float = 0.4, rescale: int = 1) -> Tensor:
    """Gramian (T, T) -> alpha (T,) float64 with d = sum_i alpha_i g_i as in the module docstring."""
    G = as_gramian(G)
    T = G.shape[0]
    u0 = np.full(T, 1.0 / T)
    trace = float(torch.trace(G))
    scale = {0: 1.0, 1: 1.0 / (1.0 + c * c), 2: 1.0 / (1.0 + c)}[rescale]
    if trace <= 0:
        return torch.full((T,), scale / T, dtype=torch.float64)
    A = (G / trace).numpy()                             # scale-free: the weights do not depend on it
    b = A @ u0                                          # g_i . g0
    g0_sq = float(u0 @ b)
    if g0_sq <= 1e-16 or c == 0:
        return torch.full((T,), scale / T, dtype=torch.float64)
    phi = c * np.sqrt(g0_sq)

    def objective(w):
        Aw = A @ w
        norm = np.sqrt(max(float(w @ Aw), 1e-30))
        return float(w @ b) + phi * norm, b + phi * Aw / norm

    from scipy.optimize import minimize   # scipy loads when CAGrad first solves, not on import
    res = minimize(objective, u0, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * T,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(T)}],
                   options={"ftol": 1e-15, "maxiter": 1000})
    w = np.clip(res.x, 0.0, None)
    w = w / w.sum()
    gw_norm = float(np.sqrt(max(w @ A @ w, 0.0)))
    if gw_norm < 1e-8:
        return torch.zeros(T, dtype=torch.float64)
    return torch.as_tensor(scale * (u0 + (phi / gw_norm) * w), dtype=torch.float64)


class CAGrad(GramianWeighting):
    name = "cagrad"

    def __init__(self, c: float = 0.4, rescale: int = 1):
        self.c = check_number("cagrad", "c (radius of the ball around the mean gradient)", c, low=0, high=100)
        self.rescale = check_choice("cagrad", "rescale (0: none, 1: / (1 + c^2), 2: / (1 + c))",
                                    check_number("cagrad", "rescale", rescale, integer=True), RESCALES)

    @property
    def options(self) -> dict:
        return {"c": self.c, "rescale": self.rescale}

    def combination_weights(self, G):
        return cagrad_weights(G, self.c, self.rescale)
