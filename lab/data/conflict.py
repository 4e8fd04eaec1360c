"""Conflicting regression tasks: where loss weightings and gradient aggregators should differ.

Every task sees the same input x (N, input_dim). Tasks come in pairs that share a
"loud" feature and pull one private feature in opposite directions (a seeded
orthonormal basis e_0, d_0, d_1, ...; task i belongs to pair j = i // 2, sign
sigma_i = +1 for even i, -1 for odd i; an odd last task has a private direction alone):

    x = z + (shared_std - 1) (e_0 . z) e_0,   z ~ N(0, I)     (e_0 . x has std shared_std)
    y_i = scale_i * standardise(tanh(1.5 (cos(angle) e_0.x / shared_std + sigma_i sin(angle) d_j.x))
                                + noise * eps_i)

* ``angle`` (degrees): at 0 every task is the same function of the shared feature
  (they cooperate); at 45 (default) the two tasks of a pair are orthogonal functions
  and *conflict*: a trunk at initialisation mostly carries the loud shared feature, so
  once each head reads it (with the same sign for both tasks of a pair) the tasks'
  gradients on the trunk point in opposing directions, +d_j for one and -d_j for the
  other (cosine near -1 within a pair; ``lab.benchmarks.arena_sets.conflict_at_init``
  measures it). Training can resolve it (the heads learn opposite signs for d_j) —
  the aggregators differ in how they get there.
* ``scales`` multiply the standardised targets, so task i's squared-error loss is
  scale_i^2 times what it would be (scales (10, 1, 1, 1): task 0's loss 100x the
  others'); r2, the metric, is scale-free. Equal weights let the large loss own the
  trunk's gradient.
* ``noise`` adds label noise before standardising (r2 ceiling about 1/(1+noise^2)).

Targets are standardised with the training split's mean and std (exactly scale_i
std on train). Seeded: the same arguments give the same tensors.
"""
from __future__ import annotations

import math

import torch

from ..validation import _is_int, check_float, check_floats, check_int, check_seed, show
from .base import MultiTaskData, Split, Task, check_fractions, split_indices

MAX_TASKS = 8
SHARPNESS = 1.5          # tanh(1.5 z): a mild non-linearity, so a task needs more than one trunk unit


def private_count(num_tasks: int) -> int:
    """Private directions d_j: one per pair of tasks (an odd last task gets one of its own)."""
    return (num_tasks + 1) // 2


def conflict_basis(num_tasks: int, input_dim: int, seed: int = 0) -> torch.Tensor:
    """(1 + private_count, input_dim) orthonormal rows e_0, d_0, d_1, ... (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(input_dim, input_dim, generator=gen))     # columns orthonormal
    return basis.T[:1 + private_count(num_tasks)].contiguous()


def conflict_directions(num_tasks: int, input_dim: int, angle: float, seed: int = 0) -> torch.Tensor:
    """(num_tasks, input_dim) unit rows u_i = cos(angle) e_0 + sigma_i sin(angle) d_{i // 2}: what task i
    reads of the (shared-feature normalised) input, as in the module docstring."""
    basis = conflict_basis(num_tasks, input_dim, seed)
    rad = math.radians(angle)
    sign = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(num_tasks)])
    private = basis[1 + torch.arange(num_tasks) // 2]
    return math.cos(rad) * basis[0] + math.sin(rad) * sign[:, None] * private


def load_conflict(num_tasks: int = 4, input_dim: int | None = None, num_samples: int = 2000, angle: float = 45.0,
                  scales: tuple[float, ...] | None = (10.0, 1.0, 1.0, 1.0), shared_std: float = 1.0,
                  noise: float = 0.1, seed: int = 0,
                  fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> MultiTaskData:
    """Regression tasks ``task0..task{T-1}`` on a shared input (N, input_dim); see the module docstring.

    ``input_dim`` defaults to the number of directions (1 + (num_tasks + 1) // 2: the input holds nothing
    else). ``scales``: one positive factor per task (None: all 1). Allowed: 2..8 tasks, input_dim from
    1 + (num_tasks + 1) // 2 to 1024, 30..1,000,000 samples, angle in [0, 90], scales in [1e-3, 1e3],
    shared_std in [1, 100], noise in [0, 10].
    """
    if _is_int(num_tasks) and not 2 <= num_tasks <= MAX_TASKS:
        raise ValueError(f"num_tasks must be an integer from 2 to {MAX_TASKS}, got {num_tasks}")
    num_tasks = check_int("num_tasks", num_tasks, min=2, max=MAX_TASKS)
    if input_dim is None:
        input_dim = 1 + private_count(num_tasks)
    input_dim = check_int("input_dim", input_dim, min=1, max=1024)
    if input_dim < 1 + private_count(num_tasks):
        raise ValueError(f"input_dim={input_dim} is too small for {num_tasks} tasks: they need "
                         f"{1 + private_count(num_tasks)} directions (one shared, one per pair)")
    num_samples = check_int("num_samples", num_samples, min=30, max=1_000_000)
    angle = check_float("angle", angle, min=0.0, max=90.0)
    noise = check_float("noise", noise, min=0.0, max=10.0)
    shared_std = check_float("shared_std", shared_std, min=1.0, max=100.0)
    seed = check_seed(seed)
    fractions = check_fractions(fractions)
    if scales is None:
        scales = (1.0,) * num_tasks
    scales = tuple(check_floats("scales", scales, min=1e-3, max=1e3, min_len=1, max_len=MAX_TASKS))
    if len(scales) != num_tasks:
        raise ValueError(f"scales: give one factor per task ({num_tasks}), got {show(scales)}")
    u = conflict_directions(num_tasks, input_dim, angle, seed)
    e0 = conflict_basis(num_tasks, input_dim, seed)[0]
    gen = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(num_samples, input_dim, generator=gen)
    x = z + (shared_std - 1.0) * (z @ e0)[:, None] * e0        # e_0 . x has std shared_std; targets read z
    s = torch.tanh(SHARPNESS * z @ u.T) + noise * torch.randn(num_samples, num_tasks, generator=gen)  # (N, T)
    train_idx, val_idx, test_idx = split_indices(num_samples, fractions, seed)
    mean, std = s[train_idx].mean(0), s[train_idx].std(0)
    y = (s - mean) / std * torch.tensor(scales)
    tasks = tuple(Task(f"task{i}", "regression", 1) for i in range(num_tasks))
    full = Split(x, {t.name: y[:, i:i + 1].contiguous() for i, t in enumerate(tasks)})
    return MultiTaskData("conflict", tasks, full.subset(train_idx), full.subset(val_idx), full.subset(test_idx),
                         input_shape=(input_dim,),
                         info={"angle": angle, "scales": list(scales), "shared_std": shared_std, "noise": noise,
                               "seed": seed,
                               "directions": u.tolist()})
