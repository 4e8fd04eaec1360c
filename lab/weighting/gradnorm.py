"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018, https://arxiv.org/abs/1711.02257).

Task weights w_i (start at 1, always positive, renormalised to sum to K after
every update) are learned so that each task's gradient norm on the *shared*
parameters P tracks its relative training rate:

    G_i   = || grad_P (w_i L_i) || = w_i || grad_P L_i ||
    r_i   = (L_i(t) / L_i(0)) / mean_k (L_k(t) / L_k(0))     (L_i(0): first step's loss)
    L_grad = sum_i | G_i - mean_k(G_k) * r_i ** alpha |       (the target is held constant)

Each step the model gets the gradient of sum_i w_i L_i, then w takes one Adam
step (rate ``lr``) on L_grad and is renormalised. ``alpha`` sets how strongly
slow tasks are pushed (0 = equal gradient norms). The recorded lambda_i is the
w_i used for the step.

Which parameters count as shared (``gradnorm_parameters``):

* ``cross_stitch`` / ``attention``: ``system.coupling_parameters()`` — every
  stage's W (attention: its prior, query and key projections);
* ``shared``: the last stage of the trunk (the paper's "last shared layer");
* ``pipeline``: the last stage of module 0, which every later task reads;
* ``ensemble``: the last stage of every module (each module serves every task);
* ``independent``: nothing is shared, so GradNorm refuses it (ValueError).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..validation import LR_MAX, _is_real, show
from .base import Weighting


def gradnorm_parameters(system: nn.Module) -> list[nn.Parameter]:
    """The shared parameters whose gradient norms GradNorm balances (see the module docstring)."""
    strategy = system.strategy
    coupling = list(system.coupling_parameters())
    if coupling:
        params = coupling
    elif strategy in ("shared", "ensemble"):
        params = [p for stack in system.stacks for p in stack[-1].parameters()]
    elif strategy == "pipeline":
        params = list(system.stacks[0][-1].parameters())
    else:
        raise ValueError(f"gradnorm balances gradient norms on parameters the tasks share, but the "
                         f"{strategy!r} strategy shares none; use cross_stitch, attention, shared, pipeline "
                         "or ensemble, or another weighting")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError(f"gradnorm: the shared parameters of the {strategy!r} system are all frozen")
    return params


def gradnorm_targets(grad_norms: Tensor, loss_ratios: Tensor, alpha: float) -> Tensor:
    """Target gradient norms mean(G) * r_i ** alpha, with r_i the loss ratio over its mean. Shapes (K,)."""
    r = loss_ratios / loss_ratios.mean().clamp_min(1e-12)
    return grad_norms.mean() * r ** alpha


class GradNorm(Weighting):
    name = "gradnorm"

    def __init__(self, alpha: float = 1.5, lr: float = 0.025):
        if not (_is_real(alpha) and math.isfinite(alpha) and 0 <= alpha <= 100):
            raise ValueError(f"alpha must be a number >= 0 (at most 100), got {show(alpha)}")
        if not (_is_real(lr) and math.isfinite(lr) and 0 < lr <= LR_MAX):
            raise ValueError(f"lr (the rate of the task weights) must be > 0 and <= {LR_MAX:g}, got {show(lr)}")
        self.alpha, self.lr = float(alpha), float(lr)

    @property
    def options(self):
        return {"alpha": self.alpha, "lr": self.lr}

    def setup(self, task_names, system):
        super().setup(task_names, system)
        self.shared = gradnorm_parameters(system)
        device = self.shared[0].device
        self.w = nn.Parameter(torch.ones(len(self.task_names), device=device))
        self.optimizer = torch.optim.Adam([self.w], lr=self.lr)
        self.initial_losses: Tensor | None = None

    def grad_norms(self, losses: dict[str, Tensor]) -> Tensor:
        """|| grad_P L_i || per task, (K,) detached; the graph is kept for the model's backward."""
        norms = []
        for t in self.task_names:
            grads = torch.autograd.grad(losses[t], self.shared, retain_graph=True, allow_unused=True)
            sq = sum((g.detach() ** 2).sum() for g in grads if g is not None)
            norms.append(torch.sqrt(torch.as_tensor(sq, dtype=torch.float32, device=self.w.device)))
        return torch.stack(norms)

    def backward(self, losses, system):
        L = torch.stack([losses[t] for t in self.task_names])
        if self.initial_losses is None:
            self.initial_losses = L.detach().clamp_min(1e-12)
        w = self.w.detach().clone()                      # the weights of this step (positive, sum K)
        g = self.grad_norms(losses)
        (w * L).sum().backward()                         # model gradients
        G = self.w * g                                   # depends on w only
        target = gradnorm_targets(G.detach(), L.detach() / self.initial_losses, self.alpha)
        self.optimizer.zero_grad(set_to_none=True)
        (G - target).abs().sum().backward()
        self.optimizer.step()
        with torch.no_grad():
            self.w.clamp_(min=1e-4)
            self.w.mul_(len(self.task_names) / self.w.sum())
        return {t: float(v) for t, v in zip(self.task_names, w)}
