"""Nash-MTL: the update as a bargaining game (Navon et al., ICML 2022, https://arxiv.org/abs/2202.01017).

The tasks bargain over the update d = sum_i alpha_i g_i; the Nash bargaining
solution (the paper's Theorem 5.1) is the alpha > 0 with

    alpha_i (G alpha)_i = 1  for every i,   i.e.   G alpha = 1 / alpha

so each task's share of the update, g_i . d = 1 / alpha_i, is proportional to
the inverse of its weight: d is invariant to each task's loss scale (alpha_i
scales as 1 / ||g_i||). It is the unique minimiser of the strictly convex

    F(alpha) = 1/2 alpha^T G alpha - sum_i log alpha_i,

found here with damped Newton steps (Hessian G + diag(1 / alpha^2)) on the
Gramian normalised by its Frobenius norm (a tiny ridge keeps dependent gradients
solvable; alpha then grows large along the dependent direction, but d stays
finite). The paper approximates the same point with up to 20 convex-concave
steps in cvxpy, warm-started from the previous step (``optim_niter``), as
torchjd's ``NashMTL`` does; this solver iterates to convergence instead, so it
needs no state across steps. As in the official code and torchjd,
||d|| is clipped to ``max_norm`` (0 = no clipping) by scaling alpha.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_number
from .gramian import GramianWeighting, as_gramian

RIDGE = 1e-10      # added to the diagonal of the normalised Gramian


def nash_solution(G: Tensor, tol: float = 1e-10, max_iters: int = 200) -> Tensor:
    """alpha > 0 with alpha * (G alpha) = 1 (T,), float64, from a Gramian (T, T); zeros if G = 0."""
    G = as_gramian(G)
    T = G.shape[0]
    nf = float(torch.linalg.matrix_norm(G))
    if nf == 0:
        return torch.zeros(T, dtype=torch.float64)
    A = G / nf + RIDGE * torch.eye(T, dtype=torch.float64)

    def F(a):
        return float(0.5 * a @ A @ a - torch.log(a).sum())

    alpha = 1.0 / torch.sqrt(torch.diagonal(A))        # exact for orthogonal gradients
    for _ in range(max_iters):
        Aa = A @ alpha
        if float((alpha * Aa - 1).abs().max()) < tol:
            break
        grad = Aa - 1.0 / alpha
        step = torch.linalg.solve(A + torch.diag(1.0 / alpha ** 2), grad)
        t, f0, slope = 1.0, F(alpha), float(grad @ step)
        while t > 1e-12:                                  # stay positive, decrease F (Armijo)
            new = alpha - t * step
            if bool((new > 0).all()) and F(new) <= f0 - 1e-4 * t * slope:
                alpha = new
                break
            t /= 2
        else:                                             # no decrease left: converged to rounding
            break
    return alpha / nf ** 0.5                            # alpha_i (G alpha)_i = 1 for the unnormalised G


def nash_mtl_weights(G: Tensor, max_norm: float = 1.0) -> Tensor:
    """Gramian (T, T) -> alpha (T,): the Nash solution, scaled so that ||d|| <= max_norm (0 = no clip)."""
    G = as_gramian(G)
    alpha = nash_solution(G)
    if max_norm > 0:
        norm = float(torch.sqrt((alpha @ G @ alpha).clamp_min(0)))
        if norm > max_norm:
            alpha = alpha * (max_norm / norm)
    return alpha


class NashMTL(GramianWeighting):
    name = "nash_mtl"

    def __init__(self, max_norm: float = 1.0):
        self.max_norm = check_number("nash_mtl", "max_norm (largest norm of the update; 0 = no clipping)",
                                     max_norm, low=0)

    @property
    def options(self) -> dict:
        return {"max_norm": self.max_norm}

    def combination_weights(self, G):
        return nash_mtl_weights(G, self.max_norm)
