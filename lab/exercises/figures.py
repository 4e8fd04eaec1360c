"""Small before/after figures shown under a check (plotly; a few hundred points at most)."""
from __future__ import annotations

import numpy as np
import torch


def _2d(t) -> np.ndarray:
    a = np.asarray(t.detach().double() if isinstance(t, torch.Tensor) else t, dtype=float)
    return a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)


def before_after(before, yours, expected, title: str, labels=("before", "yours", "the lab's")):
    """Three heatmaps side by side on one colour scale: the input, your output, the lab's output."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    mats = [_2d(before), _2d(yours), _2d(expected)]
    top = max(float(np.abs(m).max()) for m in mats) or 1.0
    fig = make_subplots(rows=1, cols=3, subplot_titles=labels, horizontal_spacing=0.05)
    for k, m in enumerate(mats):
        fig.add_trace(go.Heatmap(z=m, zmin=-top, zmax=top, colorscale="RdBu", reversescale=True,
                                 showscale=k == 2), row=1, col=k + 1)
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=k + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=k + 1)
    fig.update_layout(title=title, height=230, width=720, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def staircase(w, yours, expected, title: str):
    """Weights before (x) against after (y): a b-bit quantizer is a staircase."""
    import plotly.graph_objects as go

    x = _2d(w).reshape(-1)
    order = np.argsort(x)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x[order], y=_2d(expected).reshape(-1)[order], mode="lines", name="the lab's",
                             line=dict(shape="hv", width=3, color="lightgray")))
    fig.add_trace(go.Scatter(x=x[order], y=_2d(yours).reshape(-1)[order], mode="markers", name="yours",
                             marker=dict(size=6)))
    fig.update_layout(title=title, xaxis_title="weight before", yaxis_title="weight after", height=280, width=520,
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def bars(names, yours, expected, title: str, yaxis: str):
    """Your values next to the lab's, one pair of bars per name."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=list(names), y=_2d(yours).reshape(-1), name="yours"),
                     go.Bar(x=list(names), y=_2d(expected).reshape(-1), name="the lab's")])
    fig.update_layout(title=title, yaxis_title=yaxis, barmode="group", height=260, width=520,
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def arrows(before, yours, expected, title: str):
    """2-D gradients as arrows from the origin: before, yours and the lab's after projection."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, g, dash in (("before", before, "dot"), ("yours", yours, "solid"), ("the lab's", expected, "dash")):
        g = _2d(g)
        for k, row in enumerate(g):
            fig.add_trace(go.Scatter(x=[0, row[0]], y=[0, row[1]], mode="lines+markers", name=f"{label} g{k}",
                                     line=dict(dash=dash)))
    fig.update_layout(title=title, height=320, width=520, yaxis_scaleanchor="x", margin=dict(l=10, r=10, t=50, b=10))
    return fig
