"""Attention coupling: an input-dependent W computed from the modules' states.

After stage s every module's state is summarised (spatial mean for conv maps)
into a vector c_i; queries q_i = Q c_i and keys k_j = K c_j give

    W_ij(x) = softmax_j( q_i . k_j / sqrt(d) + b_ij )

per example (row-softmax, so each row sums to 1), and x~_i = sum_j W_ij(x) x_j.
The learnable prior b starts at log of the cross-stitch initial W and Q starts
at zero, so training starts from the same near-identity coupling. What is
recorded as "the" W of a stage is the batch mean of W(x) over the last forward
pass (the trainer runs one on the validation split before each snapshot).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .base import StagewiseCoupling
from .cross_stitch import init_matrix


class Attention(StagewiseCoupling):
    name = "attention"
    description = "input-dependent W from the modules' states (row-softmax); batch mean recorded"

    def __init__(self, num_modules, num_stages, stage_shapes, w_init=(0.9, 0.1), attention_dim=16, **options):
        super().__init__(num_modules, num_stages, stage_shapes)
        self.dim = attention_dim
        prior = torch.log(init_matrix(num_modules, *w_init).clamp_min(1e-4))
        self.prior = nn.ParameterList([nn.Parameter(prior.clone()) for _ in stage_shapes])
        self.query = nn.ModuleList([nn.Linear(shape[0], attention_dim, bias=False) for shape in stage_shapes])
        self.key = nn.ModuleList([nn.Linear(shape[0], attention_dim, bias=False) for shape in stage_shapes])
        for q in self.query:
            nn.init.zeros_(q.weight)
        self._recorded: list[torch.Tensor | None] = [None] * num_stages

    def weights(self, stage: int, states: list[torch.Tensor]) -> torch.Tensor:
        """Per-example coupling (B, n, n) for the given module states."""
        H = torch.stack(states)                                        # (n, B, C, ...)
        summary = H.flatten(3).mean(-1) if H.dim() > 3 else H          # (n, B, C)
        q = self.query[stage](summary)
        k = self.key[stage](summary)
        scores = torch.einsum("ibd,jbd->bij", q, k) / math.sqrt(self.dim) + self.prior[stage]
        return scores.softmax(dim=-1)

    def mix(self, stage, states):
        W = self.weights(stage, states)
        self._recorded[stage] = W.detach().mean(0)
        mixed = torch.einsum("bij,jb...->ib...", W, torch.stack(states))
        return list(mixed.unbind(0))

    def matrices(self):
        """Batch-mean W of the last forward pass (the prior's softmax before any forward)."""
        return [(rec if rec is not None else self.prior[s].detach().softmax(-1)).clone().float()
                for s, rec in enumerate(self._recorded)]
