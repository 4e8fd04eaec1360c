"""Plotly figures of the coupling W (more views are added by the interactive lab)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go


def W_heatmap(W, labels: Sequence[str] | None = None, title: str = "W", zmax: float | None = None) -> go.Figure:
    """Heatmap of one (n, n) coupling matrix: row i = what module i takes from module j.

    Diverging colour scale centred on 0; module names on both axes; values on hover.
    """
    W = np.asarray(W.detach().cpu() if hasattr(W, "detach") else W, dtype=float)
    labels = list(labels) if labels is not None else [f"m{i}" for i in range(W.shape[0])]
    zmax = zmax if zmax is not None else max(float(np.abs(W).max()), 1e-6)
    fig = go.Figure(go.Heatmap(z=W, x=labels, y=labels, zmin=-zmax, zmax=zmax, zmid=0, colorscale="RdBu",
                               reversescale=True, text=np.round(W, 2), texttemplate="%{text}",
                               hovertemplate="module %{y} takes from %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="from module j", yaxis_title="module i",
                      yaxis_autorange="reversed", width=420, height=380, margin=dict(l=60, r=20, t=50, b=50))
    return fig
