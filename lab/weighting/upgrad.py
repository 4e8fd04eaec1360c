"""UPGrad: unconflicting projection of gradients (Quinton & Rey, "Jacobian Descent for
Multi-Objective Optimization", 2024, https://arxiv.org/abs/2406.16232; torchjd's own method).

Every task gradient g_i is projected onto the dual cone of all of them,
{x : g_j . x >= 0 for every j} (the directions that hurt no task), and the
projections are averaged: d = 1/T sum_i pi(g_i). In weights (the paper's
Proposition 1) pi(J^T u) = J^T v with

    v = argmin_{v >= u} v^T G v                         (a T-dimensional QP)

so with u = e_i / T, alpha = sum_i v_i. Every alpha_i >= 1/T, and d . g_j >= 0 for
every task j. Two tasks: pi(g_i) is PCGrad's projection, so UPGrad = PCGrad / 2.

Solved exactly as non-negative least squares (scipy's ``nnls``): with
G = A^T A, v = u + s, s >= 0 minimises ||A u + A s||^2. As in torchjd, G is first
divided by its trace (the weights do not depend on the gradients' scale) and
``reg_eps`` * I is added (keeps the QP strictly convex for dependent gradients).
Difference: torchjd treats a Gramian with trace below 1e-4 (its ``norm_eps``) as 0
and then returns the mean gradient; here ``norm_eps`` defaults to 1e-12, so tiny
gradients late in training are still projected.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .checks import check_number
from .gramian import GramianWeighting, as_gramian


def dual_cone_weights(u: Tensor, G: Tensor) -> Tensor:
    """v = argmin_{v >= u} v^T G v (T,), float64: the weights of the projection of J^T u onto the dual cone."""
    G = as_gramian(G)
    lam, V = torch.linalg.eigh(G)
    A = (lam.clamp_min(0).sqrt()[:, None] * V.T).numpy()          # A^T A = G
    u = torch.as_tensor(u, dtype=torch.float64).numpy()
    from scipy.optimize import nnls   # scipy loads when UPGrad first solves, not on import
    s, _ = nnls(A, -A @ u, maxiter=50 * len(u) + 100)
    return torch.as_tensor(u + s, dtype=torch.float64)


def upgrad_weights(G: Tensor, reg_eps: float = 1e-4, norm_eps: float = 1e-12) -> Tensor:
    """Gramian (T, T) -> alpha (T,), float64: d = J^T alpha = 1/T sum_i pi(g_i)."""
    G = as_gramian(G)
    T = G.shape[0]
    trace = float(torch.trace(G))
    G = G / trace if trace > 0 and trace >= norm_eps else torch.zeros_like(G)
    G = G + reg_eps * torch.eye(T, dtype=torch.float64)
    eye = torch.eye(T, dtype=torch.float64) / T
    return sum(dual_cone_weights(eye[i], G) for i in range(T))


class UPGrad(GramianWeighting):
    name = "upgrad"

    def __init__(self, reg_eps: float = 1e-4, norm_eps: float = 1e-12):
        self.reg_eps = check_number("upgrad", "reg_eps (ridge on the normalised Gramian)", reg_eps, low=0, high=1)
        self.norm_eps = check_number("upgrad", "norm_eps (a Gramian with smaller trace counts as 0)", norm_eps,
                                     low=0)

    @property
    def options(self) -> dict:
        return {"reg_eps": self.reg_eps, "norm_eps": self.norm_eps}

    def combination_weights(self, G):
        return upgrad_weights(G, self.reg_eps, self.norm_eps)
