"""MNIST-1D (Greydanus 2020), generated locally with ``mnist1d.data.make_dataset``.

No download: the generator builds the signals from its templates. Signals are
(N, 1, 40) float32, standardised with the training split's mean and std. Tasks
are the digit class (10) and the same derived tasks as the 8x8 digits (parity,
>= 5) — the "loops" task has no meaning for 1-D signals and is not offered.
"""
from __future__ import annotations

import contextlib
import io

import torch

from ..seeding import exclusive_global_rngs
from ..validation import _is_int, check_float, check_int, check_seed
from .base import MultiTaskData, Split, Task, check_task_names
from .digits import digit_derived_targets, digit_task_specs

MNIST1D_TASKS = ("digit", "parity", "ge5")


def load_mnist1d(tasks: tuple[str, ...] = MNIST1D_TASKS, seed: int = 42, num_samples: int = 5000,
                 val_fraction: float = 0.2) -> MultiTaskData:
    """MNIST-1D multi-task data; ``num_samples`` in total, 80% train+val and 20% test (the generator's split)."""
    if isinstance(tasks, (list, tuple)) and "loops" in tasks:
        raise ValueError("the 'loops' task is defined for digit images only; MNIST-1D offers "
                         f"{list(MNIST1D_TASKS)}")
    tasks = check_task_names(tasks, MNIST1D_TASKS, "MNIST-1D")
    if _is_int(num_samples) and num_samples < 50:
        raise ValueError(f"num_samples={num_samples} is too small; use at least 50")
    num_samples = check_int("num_samples", num_samples, min=50, max=1_000_000)
    seed = check_seed(seed)
    val_fraction = check_float("val_fraction", val_fraction, min=0.0, max=0.9, min_open=True)
    specs: tuple[Task, ...] = digit_task_specs(tuple(tasks))
    from mnist1d.data import get_dataset_args, make_dataset   # pulls matplotlib (~0.5 s): only when loading
    args = get_dataset_args()
    args.seed, args.num_samples = seed, num_samples
    # make_dataset seeds and draws the global np.random / random states: take turns, restore them after
    with exclusive_global_rngs(), contextlib.redirect_stdout(io.StringIO()):  # it prints nothing useful
        raw = make_dataset(args)
    x = torch.tensor(raw["x"], dtype=torch.float32).unsqueeze(1)
    x_test = torch.tensor(raw["x_test"], dtype=torch.float32).unsqueeze(1)
    mean, std = x.mean(), x.std()
    x, x_test = (x - mean) / std, (x_test - mean) / std
    y = digit_derived_targets(torch.tensor(raw["y"], dtype=torch.int64))
    y_test = digit_derived_targets(torch.tensor(raw["y_test"], dtype=torch.int64))
    n_val = int(round(val_fraction * len(x)))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    names = [t.name for t in specs]
    full = Split(x, {n: y[n] for n in names})
    return MultiTaskData("mnist1d", specs, full.subset(perm[n_val:]), full.subset(perm[:n_val]),
                         Split(x_test, {n: y_test[n] for n in names}), input_shape=(1, x.shape[-1]),
                         info={"source": "mnist1d.data.make_dataset", "seed": seed})
