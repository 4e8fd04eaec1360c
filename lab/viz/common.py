"""What every view shares: the colours, and reading W out of whatever the caller has (a History at an
epoch, one (n, n) matrix, a list of them or an (S, n, n) array) with the modules' names."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from ..history import History

COLORSCALE = "RdBu"          # reversed: red = positive, blue = negative
TASK_COLORS = qualitative.Plotly
POSITIVE, NEGATIVE = "#c0392b", "#2166ac"


# --- reading W out of whatever the caller has ------------------------------------------------
def _array(W) -> np.ndarray:
    return np.asarray(W.detach().cpu() if hasattr(W, "detach") else W, dtype=float)


def W_at_epoch(history: History, epoch: int | None = None) -> list[np.ndarray]:
    """The W of every stage after ``epoch`` (0 = before training, None = the last recorded)."""
    if epoch is None:
        if not history.W:
            if not history.W_init:
                raise ValueError("this history has no W recorded (no epoch finished and no initial W)")
            return [_array(W) for W in history.W_init]
        return history.W_at(-1)
    if epoch == 0:
        if not history.W_init:
            raise ValueError("this history has no initial W (W_init is empty)")
        return [_array(W) for W in history.W_init]
    if epoch not in history.epochs:
        raise ValueError(f"epoch {epoch} was not recorded; recorded epochs are 0 (before training) and "
                         f"{history.epochs[0] if history.epochs else '-'}..{history.epochs[-1] if history.epochs else '-'}")
    return history.W_at(history.epochs.index(epoch))


def as_matrices(source, epoch: int | None = None) -> list[np.ndarray]:
    """Stages' W from a History (at ``epoch``), a list of (n, n) matrices, one (n, n) or an (S, n, n) array."""
    if isinstance(source, History):
        return W_at_epoch(source, epoch)
    if isinstance(source, (list, tuple)) and source and np.ndim(_array(source[0])) == 2:
        mats = [_array(W) for W in source]
    else:
        arr = _array(source)
        if arr.ndim == 2:
            mats = [arr]
        elif arr.ndim == 3:
            mats = list(arr)
        else:
            raise ValueError(f"expected W of shape (n, n) or (stages, n, n), got shape {arr.shape}")
    for W in mats:
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"every W must be square (n, n), got shape {W.shape}")
    return mats


def snapshot_epochs(history: History) -> list[int]:
    """Epoch numbers with a W snapshot: 0 (before training, if recorded) and every recorded epoch."""
    return ([0] if history.W_init else []) + list(history.epochs)


def module_labels(source, n: int, labels: Sequence[str] | None = None) -> list[str]:
    """Names of the n modules: given labels, else the history's task names (module i runs task i), else m0.."""
    if labels is not None:
        labels = [str(v) for v in labels]
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} modules")
        return labels
    if isinstance(source, History) and len(source.task_names) == n:
        return list(source.task_names)
    return [f"m{i}" for i in range(n)]


def _zmax(mats, zmax: float | None) -> float:
    return zmax if zmax is not None else max(max(float(np.abs(W).max()) for W in mats), 1e-6)


def _heatmap_trace(W: np.ndarray, labels: list[str], zmax: float, showscale: bool = True, **kw) -> go.Heatmap:
    return go.Heatmap(**{**dict(z=W, x=labels, y=labels, zmin=-zmax, zmax=zmax, zmid=0, colorscale=COLORSCALE,
                                reversescale=True, texttemplate="%{z:.2f}", showscale=showscale,
                                hovertemplate="module %{y} takes from %{x}: %{z:.3f}<extra></extra>"), **kw})
