"""IMTL-G: impartial gradient weighting (Liu et al., ICLR 2021, https://openreview.net/forum?id=IMPnRXEWpvr).

The aggregated gradient d = sum_i alpha_i g_i (sum alpha = 1) has the same
projection on every task's unit gradient u_i = g_i / ||g_i||, so no task is
favoured: d . u_i = d . u_j for all i, j. With d = J^T v this reads G v = s ||g||
for the vector of norms ||g_i|| = sqrt(G_ii); so

    v = pinv(G) sqrt(diag G),   alpha = v / sum(v)        (alpha = 0 when sum(v) = 0)

For linearly independent gradients this is the paper's closed form
(alpha_{2:T} = g_1 U^T (D U^T)^{-1}); the pseudo-inverse extends it to dependent
gradients as torchjd's ``IMTLG`` does (Quinton & Rey 2024), and the lab matches it.
Only the gradient part of IMTL (IMTL-G) is implemented, not the loss scaling
(IMTL-L). Weights can be negative; they sum to 1 (the equal weighting's sum to T).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .gramian import GramianWeighting, as_gramian


def imtl_g_weights(G: Tensor) -> Tensor:
    """Gramian (T, T) -> alpha (T,), float64, summing to 1 (or all 0 when no impartial direction exists)."""
    G = as_gramian(G)
    norms = torch.sqrt(torch.diagonal(G).clamp_min(0))
    v = torch.linalg.pinv(G, hermitian=True) @ norms
    total = v.sum()
    return torch.zeros_like(v) if total.abs() < 1e-12 else v / total


class IMTLG(GramianWeighting):
    name = "imtl_g"

    @property
    def options(self) -> dict:
        return {}

    def combination_weights(self, G):
        return imtl_g_weights(G)
