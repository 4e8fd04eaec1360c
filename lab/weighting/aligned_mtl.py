"""Aligned-MTL: align the task gradients' principal components (Senushkin, Patakin, Kuznetsov &
Konushin, CVPR 2023, https://arxiv.org/abs/2305.19000).

The Jacobian J (T, P) is replaced by a matrix with orthogonal rows of equal norm
(condition number 1, no dominating or conflicting components): with the
eigen-decomposition G = V diag(lambda) V^T restricted to its rank r,

    B = sqrt(scale) V diag(lambda)^(-1/2) V^T          (T, T)
    alpha = B w,   d = J^T alpha                        (w: task preferences, 1/T each)

so J^T B has orthogonal rows of norm sqrt(scale). ``scale_mode`` "min" (default,
the paper's: the smallest non-zero eigenvalue), "median" or "mean" (the eigenvalues'
mean; torchjd calls it "rmse"). Eigenvalues below lambda_max * T * eps count as
zero; G = 0 gives B = I. This matches ``torchjd.aggregation.AlignedMTL``
(preferences 1/T); LibMTL uses preferences 1, i.e. T times the same d. Weights can
be negative.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_choice
from .gramian import GramianWeighting, as_gramian

SCALE_MODES = ("min", "median", "mean")


def balance_transformation(G: Tensor, scale_mode: str = "min") -> Tensor:
    """B (T, T) float64 with (J^T B)^T (J^T B) = scale * (identity on G's range), from a Gramian (T, T)."""
    G = as_gramian(G)
    lam, V = torch.linalg.eigh(G)
    tol = lam.max() * len(G) * torch.finfo(G.dtype).eps
    keep = lam > tol
    if not bool(keep.any()):
        return torch.eye(len(G), dtype=G.dtype)
    lam, V = lam[keep], V[:, keep]
    scale = {"min": lam.min(), "median": torch.median(lam), "mean": lam.mean()}[scale_mode]
    return scale.sqrt() * (V / lam.sqrt()) @ V.T


def aligned_mtl_weights(G: Tensor, scale_mode: str = "min") -> Tensor:
    """Gramian (T, T) -> alpha = B (1/T, ..., 1/T) (T,), float64."""
    B = balance_transformation(G, scale_mode)
    return B @ torch.full((len(B),), 1.0 / len(B), dtype=B.dtype)


class AlignedMTL(GramianWeighting):
    name = "aligned_mtl"

    def __init__(self, scale_mode: str = "min"):
        self.scale_mode = check_choice("aligned_mtl", "scale_mode", scale_mode, SCALE_MODES)

    @property
    def options(self) -> dict:
        return {"scale_mode": self.scale_mode}

    def combination_weights(self, G):
        return aligned_mtl_weights(G, self.scale_mode)
