"""Views of W-guided compression: accuracy per task against the coupling edges kept, and accuracy against
real bytes for W-guided choices and their baselines (rows of :mod:`lab.benchmarks.w_guided`)."""
from __future__ import annotations

import statistics
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import TASK_COLORS

METHOD_STYLE = {"w": ("W-guided", "#c0392b", "circle"), "gradient": ("gradient (W·∂L/∂W)", "#e67e22", "diamond"),
                "magnitude": ("weight magnitude (no W)", "#7f8c8d", "square"),
                "random": ("random", "#2166ac", "x"), "uniform": ("uniform budget", "#27ae60", "triangle-up"),
                "full": ("full system", "#222222", "star"), "student": ("multi-head student", "#8e44ad", "star-diamond")}


def accuracy_vs_edges(rows: Sequence[dict], title: str = "accuracy per task vs coupling edges kept (no fine-tuning)"
                      ) -> go.Figure:
    """Left: mean test accuracy vs edges kept, |W| (line) and every random draw (points, with their median);
    right: accuracy per task for |W|. ``rows``: ``lab.benchmarks.w_guided.edge_curve`` output."""
    if not rows:
        raise ValueError("accuracy_vs_edges needs rows from lab.benchmarks.w_guided.edge_curve")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("mean over tasks: W-guided vs random", "per task, edges kept by |W|"))
    w = sorted((r for r in rows if r["method"] == "w"), key=lambda r: r["edges_kept"])
    rnd = [r for r in rows if r["method"] == "random"]
    fig.add_trace(go.Scatter(x=[r["edges_kept"] for r in w], y=[100 * r["acc"] for r in w], mode="lines+markers",
                             name=METHOD_STYLE["w"][0], line=dict(color=METHOD_STYLE["w"][1])), row=1, col=1)
    fig.add_trace(go.Scatter(x=[r["edges_kept"] for r in rnd], y=[100 * r["acc"] for r in rnd], mode="markers",
                             name="random draws", marker=dict(color=METHOD_STYLE["random"][1], symbol="x", size=7),
                             opacity=0.6), row=1, col=1)
    kept = sorted({r["edges_kept"] for r in rnd})
    fig.add_trace(go.Scatter(x=kept, y=[100 * statistics.median(r["acc"] for r in rnd if r["edges_kept"] == k)
                                        for k in kept], mode="lines", name="random median",
                             line=dict(color=METHOD_STYLE["random"][1], dash="dash")), row=1, col=1)
    for k, task in enumerate(w[0]["metrics"] if w else []):
        fig.add_trace(go.Scatter(x=[r["edges_kept"] for r in w], y=[100 * r["metrics"][task] for r in w],
                                 mode="lines+markers", name=task, line=dict(color=TASK_COLORS[k % len(TASK_COLORS)])),
                      row=1, col=2)
    fig.update_xaxes(title_text="off-diagonal edges kept (all stages)")
    fig.update_yaxes(title_text="test accuracy (%)", row=1, col=1)
    fig.update_layout(title=title, width=980, height=420)
    return fig


def accuracy_vs_bytes(rows: Sequence[dict], techniques: Sequence[str] = ("modules", "edges", "budgets"),
                      title: str = "accuracy vs real bytes: W-guided vs its baselines") -> go.Figure:
    """One panel per technique: test accuracy against packed bytes for every method (random: every draw),
    the full system and the multi-head student as references. ``rows``: any ``lab.benchmarks.w_guided``
    comparison rows (one seed or several)."""
    present = [t for t in techniques if any(r["technique"] == t for r in rows)]
    if not present:
        raise ValueError(f"no rows of techniques {list(techniques)} to plot")
    fig = make_subplots(rows=1, cols=len(present), subplot_titles=[f"{t}" for t in present], horizontal_spacing=0.08)
    shown = set()
    refs = [r for r in rows if r["technique"] in ("full", "student")]
    for col, technique in enumerate(present, 1):
        for r in [r for r in rows if r["technique"] == technique] + refs:
            name, color, symbol = METHOD_STYLE.get(r["method"], (r["method"], "#444", "circle"))
            fig.add_trace(go.Scatter(x=[r["bytes"] / 1000], y=[100 * r["acc"]], mode="markers", name=name,
                                     legendgroup=name, showlegend=name not in shown,
                                     marker=dict(color=color, symbol=symbol, size=11, line=dict(width=1, color="#222")),
                                     hovertemplate=f"{name} ({r['technique']}): %{{y:.2f}}%, %{{x:.2f}} KB"
                                                   "<extra></extra>"), row=1, col=col)
            shown.add(name)
        fig.update_xaxes(title_text="KB on disk (packed)", type="log", row=1, col=col)
    fig.update_yaxes(title_text="test accuracy (%)", row=1, col=1)
    fig.update_layout(title=title, width=360 * len(present) + 160, height=430)
    return fig
