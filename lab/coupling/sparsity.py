"""A penalty that makes the coupling learn to be sparse before it is pruned.

Added to the training loss as ``strength * penalty``, on the off-diagonal of every stage's W (the
diagonal, a module's own state, is free):

* ``l1``:    sum_s sum_{i != j} |W^s_ij|                     (per channel: summed over channels too)
* ``group``: sum_s sum_{i != j} ||W^s_ij,:||_2 over channels (group lasso: an edge's channels go to
  zero together; for scalar W it equals ``l1``)

Only a learned, input-independent W has edges to penalise: cross-stitch (full or pruned).

    loss = task_loss + 1e-3 * coupling_penalty(system, "l1")
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ..validation import check_float
from .cross_stitch import CrossStitch
from .edge_mix import EdgeMix

PENALTIES: tuple[str, ...] = ("l1", "group")
Penalty = Literal["l1", "group"]


def _edge_weights(system: nn.Module) -> list[Tensor]:
    """Every off-diagonal coupling weight, each (1,) or (C,), with gradients."""
    coupling = getattr(system, "coupling", None)
    if isinstance(coupling, CrossStitch):
        out = []
        for W in coupling.W:
            n = W.shape[0]
            off = ~torch.eye(n, dtype=torch.bool)
            out.extend(W[off].reshape(n * (n - 1), -1).unbind(0))
        return out
    if isinstance(coupling, EdgeMix):
        return [w[k].reshape(-1) for order, w in zip(coupling.edge_order, coupling.w)
                for k, (i, j) in enumerate(order) if i != j]
    strategy = getattr(getattr(system, "config", None), "strategy", type(system).__name__)
    raise ValueError(f"a sparse-coupling penalty needs a learned cross-stitch W; this model's coupling is "
                     f"{strategy!r} (no learned, input-independent edges to make sparse)")


def check_penalty(kind: str, strength: float) -> None:
    if kind not in PENALTIES:
        raise ValueError(f"coupling penalty must be one of {list(PENALTIES)}, got {kind!r}")
    check_float("coupling penalty strength (sparse_coupling)", strength, min=0.0, max=1e6)


def coupling_penalty(system: nn.Module, kind: Penalty = "l1") -> Tensor:
    """The penalty (a scalar tensor with gradients) on the off-diagonal of ``system``'s W."""
    check_penalty(kind, 0.0)
    weights = _edge_weights(system)
    if not weights:
        return torch.zeros(())
    if kind == "l1":
        return sum(w.abs().sum() for w in weights)
    return sum(w.norm(p=2) for w in weights)
