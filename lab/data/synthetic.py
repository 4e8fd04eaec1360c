"""Synthetic coupled tasks with a known ground-truth coupling W*.

Module i sees only its own input u_i (d values, standard normal). A fixed random
encoder gives latent features z_i = tanh(A_i u_i) (k values). The target of
task i depends on the latents of exactly the modules j with W*_ij != 0:

    s_i = sum_j W*_ij * <v_ij, z_j>        (v_ij: fixed random unit vectors)

and y_i is s_i cut into ``num_classes`` equally filled classes (classification)
or s_i standardised (regression). A module can only predict its task well if
it receives information from the modules its row of W* names, so a learned
coupling W that means something should put its weight where W* is non-zero.

Structures of W* (diagonal always 1, the module's own latent):
``chain`` (i depends on i-1), ``star`` (every module depends on module 0),
``block`` (two groups, fully coupled inside), ``random`` (each off-diagonal
edge present with probability ``density``), or any matrix the caller passes.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..validation import _is_int, _is_real, as_float_tensor, check_int, check_seed, show
from .base import MultiTaskData, Split, Task, check_fractions, split_indices

MAX_MODULES = 64

Structure = Literal["chain", "star", "block", "random"]
STRUCTURES: tuple[str, ...] = ("chain", "star", "block", "random")


def make_coupling_structure(structure: Structure, num_modules: int, seed: int = 0, density: float = 0.3) -> Tensor:
    """A 0/1 ground-truth coupling (num_modules, num_modules) with ones on the diagonal."""
    if _is_int(num_modules) and num_modules < 2:
        raise ValueError(f"a coupling structure needs at least 2 modules, got {num_modules}")
    num_modules = check_int("num_modules", num_modules, min=2, max=MAX_MODULES)
    seed = check_seed(seed)
    n = num_modules
    W = torch.eye(n)
    if structure == "chain":
        W[torch.arange(1, n), torch.arange(0, n - 1)] = 1.0
    elif structure == "star":
        W[1:, 0] = 1.0
    elif structure == "block":
        half = (n + 1) // 2
        W[:half, :half] = 1.0
        W[half:, half:] = 1.0
    elif structure == "random":
        if not (_is_real(density) and 0 < density <= 1):
            raise ValueError(f"density must lie in (0, 1], got {show(density)}")
        gen = torch.Generator().manual_seed(seed)
        off = ~torch.eye(n, dtype=torch.bool)
        mask = (torch.rand(n, n, generator=gen) < density) & off
        if not mask.any():  # keep at least one edge so there is something to recover
            i, j = divmod(int(torch.randint(0, n * (n - 1), (1,), generator=gen)), n - 1)
            mask[i, j if j < i else j + 1] = True
        W[mask] = 1.0
    else:
        raise ValueError(f"unknown structure {structure!r}; choose from {list(STRUCTURES)} or pass W_true")
    return W


def _check_sizes(num_samples, input_dim, latent_dim, num_classes, kind, seed) -> int:
    """The synthetic generator's sizes: ValueError naming the first one of the wrong type or range."""
    if _is_int(num_samples) and num_samples < 30:
        raise ValueError(f"num_samples={num_samples} is too small; use at least 30")
    num_samples = check_int("num_samples", num_samples, min=30, max=1_000_000)
    check_int("input_dim", input_dim, min=1, max=4096)
    check_int("latent_dim", latent_dim, min=1, max=4096)
    check_seed(seed)
    if kind not in ("classification", "regression"):
        raise ValueError(f"kind must be 'classification' or 'regression', got {show(kind)}")
    if kind == "classification" and _is_int(num_classes) and num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    check_int("num_classes", num_classes, min=2, max=1000)
    return num_samples


def load_synthetic(num_modules: int = 4, structure: Structure = "chain", W_true: Tensor | None = None,
                   num_samples: int = 3000, input_dim: int = 8, latent_dim: int = 4, num_classes: int = 3,
                   kind: Literal["classification", "regression"] = "classification", density: float = 0.3,
                   seed: int = 0, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> MultiTaskData:
    """Coupled tasks ``task0..task{n-1}`` with inputs (N, num_modules, input_dim) and ``W_true`` set.

    Pass ``W_true`` (n, n) to choose the coupling; otherwise ``structure`` (and
    ``seed``/``density`` for ``random``) builds it. Non-zero entries weight the
    dependency; the diagonal should be non-zero so each task uses its own input.
    """
    label = structure if W_true is None else "custom"
    num_samples = _check_sizes(num_samples, input_dim, latent_dim, num_classes, kind, seed)
    fractions = check_fractions(fractions)
    if W_true is None:
        W_true = make_coupling_structure(structure, num_modules, seed, density)
    W_true = as_float_tensor("W_true", W_true)
    if W_true.dim() == 2 and W_true.shape[0] > MAX_MODULES:
        raise ValueError(f"W_true is {W_true.shape[0]}x{W_true.shape[0]}; at most {MAX_MODULES} modules")
    if W_true.dim() != 2 or W_true.shape[0] != W_true.shape[1] or W_true.shape[0] < 2:
        raise ValueError(f"W_true must be a square matrix with n >= 2, got shape {tuple(W_true.shape)}")
    if not torch.isfinite(W_true).all():
        raise ValueError("W_true contains NaN or inf")
    if kind not in ("classification", "regression"):
        raise ValueError(f"kind must be 'classification' or 'regression', got {kind!r}")
    if kind == "classification" and num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if num_samples < 30:
        raise ValueError(f"num_samples={num_samples} is too small; use at least 30")
    n = W_true.shape[0]
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(n, latent_dim, input_dim, generator=gen) * (2.0 / input_dim ** 0.5)
    v = torch.randn(n, n, latent_dim, generator=gen)
    v = v / v.norm(dim=-1, keepdim=True)
    u = torch.randn(num_samples, n, input_dim, generator=gen)
    z = torch.tanh(torch.einsum("mkd,bmd->bmk", A, u))                 # (N, n, k)
    s = torch.einsum("ij,ijk,bjk->bi", W_true, v, z)                   # (N, n)
    train_idx, val_idx, test_idx = split_indices(num_samples, fractions, seed)
    s_train = s[train_idx]
    y: dict[str, Tensor] = {}
    tasks = []
    for i in range(n):
        name = f"task{i}"
        if kind == "classification":
            cuts = torch.quantile(s_train[:, i], torch.linspace(0, 1, num_classes + 1)[1:-1])
            y[name] = torch.bucketize(s[:, i].contiguous(), cuts).long()
            tasks.append(Task(name, "classification", num_classes))
        else:
            y[name] = ((s[:, i] - s_train[:, i].mean()) / s_train[:, i].std()).unsqueeze(1)
            tasks.append(Task(name, "regression", 1))
    full = Split(u, y)
    return MultiTaskData(f"synthetic_{label}", tuple(tasks),
                         full.subset(train_idx), full.subset(val_idx), full.subset(test_idx),
                         input_shape=(input_dim,), per_module_inputs=True, W_true=W_true,
                         info={"structure": label, "seed": seed, "latent_dim": latent_dim})
