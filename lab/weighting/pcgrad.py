"""PCGrad gradient surgery (Yu et al., NeurIPS 2020, https://arxiv.org/abs/2001.06782).

Per step, every task's gradient g_i is computed separately. For each task i, in
a random order of the other tasks j: if g_i . g_j < 0 (they conflict), g_i is
projected onto the normal plane of g_j,

    g_i <- g_i - (g_i . g_j / ||g_j||^2) g_j

and the update is the sum of the projected gradients. Surgery applies to the
parameters that more than one task reaches (found per step from autograd: a
parameter is reached by a task when that task's loss has a gradient path to it
— the stages and W of a cross-stitch system, the trunk of ``shared``, module 0
of a pipeline); a parameter only one task reaches (its head) gets that task's
plain gradient. With ``independent`` no parameter is shared, so PCGrad equals
the plain sum. Optional base weights lambda_i scale each task's gradient first;
they are what History records (PCGrad changes directions, not weights).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..validation import check_seed
from .base import Weighting
from .fixed import Fixed


def project_conflicting(grads: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """PCGrad-projected copies of per-task gradients ``grads`` (K, D); returns (K, D).

    Each row is projected off the *original* gradients of the others it conflicts
    with, visiting them in a random order (``generator``; None = index order).
    Rows that conflict with no other row come back unchanged.
    """
    if grads.dim() != 2:
        raise ValueError(f"grads must be (num_tasks, num_values), got shape {tuple(grads.shape)}")
    K = grads.shape[0]
    sq_norms = (grads * grads).sum(1)
    out = grads.clone()
    for i in range(K):
        order = torch.randperm(K, generator=generator).tolist() if generator is not None else list(range(K))
        for j in order:
            if j == i or sq_norms[j] == 0:
                continue
            dot = out[i] @ grads[j]
            if dot < 0:
                out[i] = out[i] - (dot / sq_norms[j]) * grads[j]
    return out


class PCGrad(Weighting):
    name = "pcgrad"

    def __init__(self, weights: tuple[float, ...] | list[float] | dict[str, float] | None = None, seed: int = 0):
        self.base = Fixed(weights)
        self.seed = check_seed(seed)

    @property
    def options(self):
        return {"weights": self.base.options["weights"], "seed": self.seed}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        self.base.setup(task_names, system)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.last_shared: list[str] = []            # names of the parameters surgery touched in the last step

    def backward(self, losses, system):
        lam = self.base.weights
        named = [(n, p) for n, p in system.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        per_task = [torch.autograd.grad(lam[t] * losses[t], params, retain_graph=True, allow_unused=True)
                    for t in self.task_names]
        reached = [sum(g[k] is not None for g in per_task) for k in range(len(params))]
        shared = [k for k, c in enumerate(reached) if c > 1]
        self.last_shared = [named[k][0] for k in shared]
        if shared:
            flat = torch.stack([torch.cat([(g[k] if g[k] is not None else torch.zeros_like(params[k])).reshape(-1)
                                           for k in shared]) for g in per_task])
            merged = project_conflicting(flat, self.generator).sum(0)
        offset = 0
        for k, p in enumerate(params):
            if reached[k] > 1:
                grad = merged[offset: offset + p.numel()].view_as(p)
                offset += p.numel()
            else:
                parts = [g[k] for g in per_task if g[k] is not None]
                if not parts:
                    continue
                grad = parts[0]
            p.grad = grad.detach().clone() if p.grad is None else p.grad + grad.detach()
        return dict(lam)
