"""Attention coupling: an input-dependent W computed from the modules' states.

After stage s every module's state is summarised (spatial mean for conv maps)
into a vector c_i; queries q_i = Q c_i and keys k_j = K c_j give

    W_ij(x) = softmax_j( q_i . k_j / sqrt(d) + b_ij )

per example (row-softmax, so each row sums to 1), and x~_i = sum_j W_ij(x) x_j.
The learnable prior b starts at log of the cross-stitch initial W and Q starts
at zero, so training starts from the same near-identity coupling.

"The" W of a stage is a mean of W(x) over examples. ``matrices()`` gives the
batch mean of the last forward pass (the prior's softmax before any); the W a
run records is measured explicitly over a whole split,
``CoupledSystem.coupling_matrices(split)`` (the trainer uses the validation
split), which averages W(x) over every example inside ``averaging()``.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

from .base import StagewiseCoupling
from .cross_stitch import init_matrix


class Attention(StagewiseCoupling):
    name = "attention"
    description = "input-dependent W from the modules' states (row-softmax); mean over a split recorded"
    input_dependent = True

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
        self._sums: list[torch.Tensor | None] | None = None       # running sums of W(x) inside averaging()
        self._counts: list[int] = [0] * num_stages

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
        if self._sums is not None:
            total = W.detach().sum(0, dtype=torch.float64)
            self._sums[stage] = total if self._sums[stage] is None else self._sums[stage] + total
            self._counts[stage] += W.shape[0]
        mixed = torch.einsum("bij,jb...->ib...", W, torch.stack(states))
        return list(mixed.unbind(0))

    def matrices(self):
        """Batch-mean W of the last forward pass (the prior's softmax before any forward)."""
        return [(rec if rec is not None else self.prior[s].detach().softmax(-1)).clone().float()
                for s, rec in enumerate(self._recorded)]

    @contextmanager
    def averaging(self):
        """Sum W(x) over every example of the forward passes inside the block (in float64); the yielded
        function returns the mean per stage (n, n), float32. The last-forward state ``matrices()``
        reports is restored on exit, so measuring leaves no trace."""
        saved = list(self._recorded)
        self._sums, self._counts = [None] * self.num_stages, [0] * self.num_stages

        def mean() -> list[torch.Tensor]:
            if self._sums is None or any(c == 0 for c in self._counts):
                raise ValueError("no examples went through the attention coupling: nothing to average")
            return [(total / count).float() for total, count in zip(self._sums, self._counts)]

        try:
            yield mean
        finally:
            self._recorded, self._sums = saved, None
