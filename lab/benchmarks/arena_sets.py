"""The arena's task sets and the gradient-conflict measure that tells them apart.

``ARENA_SETS``: ``digits`` (the four digit tasks; the lab's everyday case, where the
tasks share features) and ``conflict`` (``lab.data.conflict``: four regression tasks
that pull a shared feature in opposite directions, task 0's loss 100x the others', a
2-unit bottleneck so the tasks compete for the trunk; lr 1e-2, with which independent
modules reach r2 ~0.98 in 20 epochs). Each set names its architecture; the
bench, the arena panel and the tests load them here.

``trunk_gradient_cosines``: cosine of every pair of per-task gradients on the shared
parameters, on one split at once (no batch noise). ``conflict_at_init`` measures it on a
fresh system whose heads alone were first fitted to the initial trunk (trunk frozen):
with random heads the sign of each task's pull on the trunk is random (cosines near 0
for any tasks), and after training the gradients of a converged joint loss sum to
about 0 (cosines near -1/(T-1) for any tasks); with fitted heads on the initial trunk,
tasks that want the same features pull together (> 0) and conflicting ones apart (< 0).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from ..coupling.system import SystemConfig, build_system
from ..data.base import MultiTaskData, Split
from ..data.conflict import load_conflict
from ..data.digits import load_digits_tasks
from ..metrics import task_loss
from ..weighting.gramian import gramian, task_gradients


@dataclass(frozen=True)
class ArenaSet:
    """A task set of the arena: ``load(size, seed)`` -> data (``size``: examples, None = the set's
    default), the trunk ``widths`` every strategy gets, the Adam learning rate ``lr`` and one line
    saying what it tests."""

    name: str
    description: str
    widths: tuple[int, ...]
    load: Callable[[int | None, int], MultiTaskData]
    lr: float = 1e-3


ARENA_SETS: dict[str, ArenaSet] = {
    "digits": ArenaSet("digits", "digit, parity, >= 5 and loops of the 8x8 digits: tasks that share features",
                       (64, 64), lambda size, seed: load_digits_tasks(limit=size, seed=seed)),
    "conflict": ArenaSet("conflict", "4 regression tasks on one input, task 0's loss "
                         "100x the others', the two tasks of a pair pulling a private feature in opposite directions "
                         "(lab.data.conflict); a 2-unit bottleneck",
                         (32, 2), lambda size, seed: load_conflict(num_samples=size or 2000, seed=seed), lr=1e-2),
}


def load_arena_set(name: str, size: int | None = None, seed: int = 0) -> MultiTaskData:
    """The data of arena set ``name`` (ValueError naming the sets for an unknown one)."""
    if name not in ARENA_SETS:
        raise ValueError(f"unknown arena set {name!r}; choose from {list(ARENA_SETS)}")
    return ARENA_SETS[name].load(size, seed)


def trunk_gradient_cosines(system: nn.Module, split: Split) -> Tensor | None:
    """(T, T) cosines of the per-task loss gradients on the parameters several tasks reach, over the
    whole ``split``; None when no parameter is shared (independent modules). Leaves ``.grad`` alone."""
    tasks = system.tasks
    was_training = system.training
    system.eval()
    try:
        out = system(split.x)
        losses = {t.name: task_loss(t, out[t.name], split.y[t.name]) for t in tasks}
        grads = task_gradients(losses, [t.name for t in tasks], system)
    finally:
        system.train(was_training)
    if grads.jacobian is None:
        return None
    G = gramian(grads.jacobian)
    norms = G.diagonal().clamp_min(1e-30).sqrt()
    return G / norms[:, None] / norms[None, :]


def mean_pairwise(cosines: Tensor | None) -> float:
    """Mean of the off-diagonal entries (NaN for None)."""
    if cosines is None:
        return math.nan
    T = cosines.shape[0]
    return float(cosines[~torch.eye(T, dtype=torch.bool)].mean())


def fit_heads(system: nn.Module, split: Split, steps: int = 200, lr: float = 0.05) -> nn.Module:
    """A copy of ``system`` whose heads alone took ``steps`` full-batch Adam steps on ``split`` (sum of
    the task losses; the trunk, W and the caller's system unchanged)."""
    fitted = copy.deepcopy(system)
    fitted.train()
    optimizer = torch.optim.Adam(fitted.head_parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        out = fitted(split.x)
        sum(task_loss(t, out[t.name], split.y[t.name]) for t in fitted.tasks).backward()
        optimizer.step()
    for p in fitted.parameters():
        p.grad = None
    return fitted


def conflict_at_init(data: MultiTaskData, system_config: SystemConfig, steps: int = 200) -> Tensor | None:
    """(T, T) trunk-gradient cosines of a fresh system (``system_config``, its seed) on ``data.train``
    after fitting its heads to the initial trunk (``fit_heads``); None when nothing is shared."""
    system = build_system(data, system_config)
    return trunk_gradient_cosines(fit_heads(system, data.train, steps), data.train)
