"""Views of training: per-task loss and validation metric per epoch, and the loss weights per epoch."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..history import History
from .common import TASK_COLORS


# --- training curves -----------------------------------------------------------------------------
def _metric_names(history: History) -> dict[str, str]:
    tasks = history.config.get("system", {}).get("tasks", []) if isinstance(history.config, dict) else []
    return {t["name"]: t.get("metric", "metric") for t in tasks if isinstance(t, dict) and "name" in t}


def downsample(x: np.ndarray, y, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a long series for display: the mean x and y of equal consecutive
    bins (the series itself when it is short enough). ``x``, ``y``: 1-D of the same length."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if len(y) <= max_points:
        return x, y
    edges = np.linspace(0, len(y), max_points + 1).round().astype(int)
    return np.add.reduceat(x, edges[:-1]) / np.diff(edges), np.add.reduceat(y, edges[:-1]) / np.diff(edges)


def training_curves(history: History, title: str | None = None, max_step_points: int = 400) -> go.Figure:
    """Per-task loss (train dashed, validation solid) and validation metric against the epoch.

    The joint loss of every step is drawn in grey when ``history.steps_per_epoch`` is known, as at most
    ``max_step_points`` bin means (a live figure stays a few KB however long the run).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss per task", "validation metric per task"),
                        horizontal_spacing=0.12)
    metric_of = _metric_names(history)
    spe = history.steps_per_epoch
    if spe and history.step_loss:
        x, y = downsample((np.arange(len(history.step_loss)) + 1) / spe, history.step_loss, max_step_points)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="joint loss (steps)",
                                 line=dict(color="#bbb", width=1), hovertemplate="%{y:.3f}<extra>step</extra>"),
                      row=1, col=1)
    for k, task in enumerate(history.task_names):
        color = TASK_COLORS[k % len(TASK_COLORS)]
        if history.train_loss.get(task):
            fig.add_trace(go.Scatter(x=history.epochs, y=history.train_loss[task], mode="lines",
                                     name=f"{task} train", legendgroup=task,
                                     line=dict(color=color, dash="dash")), row=1, col=1)
        if history.val_loss.get(task):
            fig.add_trace(go.Scatter(x=history.epochs, y=history.val_loss[task], mode="lines+markers",
                                     name=f"{task} val", legendgroup=task, line=dict(color=color)), row=1, col=1)
        if history.val_metric.get(task):
            fig.add_trace(go.Scatter(x=history.epochs, y=history.val_metric[task], mode="lines+markers",
                                     name=f"{task} {metric_of.get(task, 'metric')}", legendgroup=task,
                                     showlegend=False, line=dict(color=color),
                                     hovertemplate=f"{task} ({metric_of.get(task, 'metric')}): %{{y:.3f}}"
                                                   "<extra>epoch %{x}</extra>"), row=1, col=2)
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_yaxes(title_text="loss", row=1, col=1)
    metrics = sorted(set(metric_of.values())) or ["metric"]
    fig.update_yaxes(title_text=" / ".join(metrics), row=1, col=2)
    fig.update_layout(title=title or f"training of {history.strategy or 'run'}"
                      + (" (stopped early)" if history.stopped else ""), width=900, height=420,
                      legend=dict(orientation="h", yanchor="top", y=-0.22, font=dict(size=11)))
    return fig


def task_weight_curves(history: History, title: str = "loss weight per task") -> go.Figure:
    """The effective lambda_i of every task per epoch (what the loss weighting chose)."""
    fig = go.Figure()
    for k, task in enumerate(history.task_names):
        ys = [w.get(task) for w in history.task_weights]
        fig.add_trace(go.Scatter(x=history.epochs, y=ys, mode="lines+markers", name=task,
                                 line=dict(color=TASK_COLORS[k % len(TASK_COLORS)])))
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="lambda", width=560, height=320)
    return fig
