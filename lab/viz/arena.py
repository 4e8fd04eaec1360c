"""The weighting arena side by side: two methods' task weights per epoch and their Delta m %."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import TASK_COLORS


def weighting_duel(summaries: dict[str, dict], task_names: Sequence[str], title: str = "") -> go.Figure:
    """``summaries``: method name -> ``lab.benchmarks.arena.method_summary`` (two methods, in order).

    Left: one panel per method, lambda_i per epoch (mean over seeds), one line per task in the same
    colour in both panels. Right: Delta m % against independent modules per method, mean and seed sd.
    """
    methods = list(summaries)
    fig = make_subplots(rows=1, cols=len(methods) + 1, horizontal_spacing=0.08,
                        subplot_titles=[f"{m}: lambda per task" for m in methods] + ["Delta m % vs independent"])
    for col, method in enumerate(methods, start=1):
        curves = summaries[method]["task_weights"]
        epochs = list(range(1, len(curves) + 1))
        for k, task in enumerate(task_names):
            fig.add_trace(go.Scatter(x=epochs, y=[c[task] for c in curves], mode="lines+markers",
                                     name=task, legendgroup=task, showlegend=col == 1,
                                     line=dict(color=TASK_COLORS[k % len(TASK_COLORS)])), row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.add_trace(go.Bar(x=methods, y=[summaries[m]["delta_m_mean"] for m in methods],
                         error_y=dict(type="data", array=[summaries[m]["delta_m_sd"] for m in methods]),
                         marker_color=["#4c78a8", "#f58518"][:len(methods)] + ["#54a24b"] * (len(methods) - 2),
                         name="Delta m %", showlegend=False), row=1, col=len(methods) + 1)
    fig.update_yaxes(title_text="lambda", row=1, col=1)
    fig.update_layout(title=title, width=360 * (len(methods) + 1), height=340, margin=dict(t=70))
    return fig
