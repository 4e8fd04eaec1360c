"""Per-task gradients on the shared parameters, their Gramian, and the base of every gradient aggregator.

Notation (T tasks, P shared parameter values):

* ``J`` (T, P): row i is g_i, the gradient of task i's loss on the shared
  parameters, flattened in ``system.named_parameters()`` order;
* ``G = J J^T`` (T, T): G_ij = g_i . g_j — all MGDA, IMTL-G, CAGrad, Nash-MTL,
  Aligned-MTL and UPGrad need (cheap: T <= 8);
* ``alpha`` (T,): combination weights; the shared parameters get J^T alpha =
  sum_i alpha_i g_i. ``alpha`` is the lambda per task that ``History`` records.

Which parameters are shared is found per step from autograd, as PCGrad does: a
parameter is shared when more than one task's loss reaches it (the stages and W
of a cross-stitch or attention system, the trunk of ``shared``, module 0 of a
pipeline, every module of an ensemble). A parameter only one task reaches (its
head) gets that task's plain gradient, whatever the aggregator: heads keep their
own gradient (as in torchjd's ``mtl_backward`` and LibMTL). With ``independent``
nothing is shared, so every aggregator reduces to the plain sum and reports
alpha_i = 1 (each task's gradient at full weight) — the same as PCGrad.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .base import Weighting


@dataclass
class TaskGradients:
    """One step's per-task gradients. ``jacobian`` (T, P) on the ``shared`` parameters; None when none are shared."""

    params: list[nn.Parameter]
    per_task: list[tuple[Tensor | None, ...]]     # per task, one gradient (or None) per entry of ``params``
    shared: list[int]                               # indices into ``params`` reached by more than one task
    shared_names: list[str] = field(default_factory=list)
    jacobian: Tensor | None = None


def task_gradients(losses: dict[str, Tensor], task_names: tuple[str, ...] | list[str],
                   system: nn.Module) -> TaskGradients:
    """Gradient of every task's loss on every trainable parameter, and the Jacobian on the shared ones."""
    named = [(n, p) for n, p in system.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    per_task = [torch.autograd.grad(losses[t], params, retain_graph=True, allow_unused=True) for t in task_names]
    shared = [k for k in range(len(params)) if sum(g[k] is not None for g in per_task) > 1]
    out = TaskGradients(params, per_task, shared, [named[k][0] for k in shared])
    if shared:
        out.jacobian = torch.stack([
            torch.cat([(g[k] if g[k] is not None else torch.zeros_like(params[k])).reshape(-1) for k in shared])
            for g in per_task]).detach()
    return out


def write_gradients(grads: TaskGradients, combined: Tensor | None) -> None:
    """Accumulate into ``.grad``: ``combined`` (P,) on the shared parameters, each task's own gradient elsewhere."""
    shared = set(grads.shared)
    offset = 0
    for k, p in enumerate(grads.params):
        if k in shared:
            grad = combined[offset: offset + p.numel()].view_as(p)
            offset += p.numel()
        else:
            parts = [g[k] for g in grads.per_task if g[k] is not None]
            if not parts:
                continue
            grad = parts[0]
        p.grad = grad.detach().clone() if p.grad is None else p.grad + grad.detach()


def gramian(jacobian: Tensor) -> Tensor:
    """G = J J^T (T, T) in float64 from a Jacobian (T, P)."""
    if jacobian.dim() != 2:
        raise ValueError(f"the Jacobian must be (num_tasks, num_values), got shape {tuple(jacobian.shape)}")
    J = jacobian.detach().to(torch.float64)
    return J @ J.T


def as_gramian(G: Tensor) -> Tensor:
    """``G`` as a float64 (T, T) CPU matrix, symmetrised; ValueError if it is not square or not finite."""
    G = torch.as_tensor(G).detach()
    if G.dim() != 2 or G.shape[0] != G.shape[1] or G.shape[0] < 1:
        raise ValueError(f"the Gramian must be a square (num_tasks, num_tasks) matrix, got shape {tuple(G.shape)}")
    if not torch.isfinite(G).all():
        raise ValueError("the Gramian contains NaN or inf (a task's gradient is not finite)")
    G = G.to(device="cpu", dtype=torch.float64)          # (T, T): the solvers run on the CPU
    return (G + G.T) / 2


class GramianWeighting(Weighting):
    """Base of the aggregators whose weights depend on the Gramian only.

    A subclass sets ``name`` and implements ``combination_weights(G) -> alpha``
    ((T, T) float64 -> (T,)). ``last_shared`` names the parameters aggregated in
    the last step; ``last_gramian`` is that step's G (None when nothing is shared).
    """

    def combination_weights(self, G: Tensor) -> Tensor:
        raise NotImplementedError

    def setup(self, task_names, system):
        super().setup(task_names, system)
        self.last_shared: list[str] = []
        self.last_gramian: Tensor | None = None

    def backward(self, losses, system):
        grads = task_gradients(losses, self.task_names, system)
        self.last_shared = grads.shared_names
        if grads.jacobian is None:                      # nothing shared: each task keeps its own gradient
            self.last_gramian = None
            write_gradients(grads, None)
            return {t: 1.0 for t in self.task_names}
        J = grads.jacobian
        self.last_gramian = gramian(J)
        alpha = self.combination_weights(self.last_gramian)
        write_gradients(grads, alpha.to(device=J.device, dtype=J.dtype) @ J)
        return {t: float(a) for t, a in zip(self.task_names, alpha)}
