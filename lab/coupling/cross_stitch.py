"""Cross-stitch units (Misra et al., CVPR 2016, https://arxiv.org/abs/1604.03539).

After every stage s the modules' states are mixed by a learnable matrix W^s:

    x~_i = sum_j W^s_ij x_j

either one scalar per module pair (W^s: n x n) or one per channel
(W^s: n x n x C, channels of a conv map or features of an MLP layer).
Initialised near identity: W_ii = w_self, W_ij = w_other / (n - 1), so with the
default (0.9, 0.1) every row sums to 1.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import StagewiseCoupling


def init_matrix(n: int, w_self: float, w_other: float) -> torch.Tensor:
    """(n, n) with w_self on the diagonal and w_other / (n - 1) elsewhere."""
    W = torch.full((n, n), w_other / (n - 1))
    W.fill_diagonal_(w_self)
    return W


class CrossStitch(StagewiseCoupling):
    name = "cross_stitch"
    description = "learnable W after every stage (x~_i = sum_j W_ij x_j)"

    def __init__(self, num_modules, num_stages, stage_shapes, w_init=(0.9, 0.1), per_channel=False, **options):
        super().__init__(num_modules, num_stages, stage_shapes)
        self.per_channel = per_channel
        base = init_matrix(num_modules, *w_init)
        self.W = nn.ParameterList()
        for shape in stage_shapes:
            init = base.unsqueeze(-1).repeat(1, 1, shape[0]) if per_channel else base.clone()
            self.W.append(nn.Parameter(init))

    def mix(self, stage, states):
        H = torch.stack(states)                       # (n, B, C, ...)
        W = self.W[stage]
        if self.per_channel:
            mixed = torch.einsum("ijc,jbc...->ibc...", W, H)
        else:
            mixed = torch.einsum("ij,jb...->ib...", W, H)
        return list(mixed.unbind(0))

    def matrices(self):
        """W per stage; per-channel W is reported as its mean over channels."""
        return [(W.mean(-1) if self.per_channel else W).detach().clone().float() for W in self.W]

    def full_matrices(self) -> list[torch.Tensor]:
        """W per stage as stored: (n, n) or (n, n, C)."""
        return [W.detach().clone() for W in self.W]
