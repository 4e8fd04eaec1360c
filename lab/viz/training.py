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


def training_curves(history: History, title: str | None = None) -> go.Figure:
    """Per-task loss (train dashed, validation solid) and validation metric against the epoch.

    The joint loss of every step is drawn in grey when ``history.steps_per_epoch`` is known.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss per task", "validation metric per task"),
                        horizontal_spacing=0.12)
    metric_of = _metric_names(history)
    spe = history.steps_per_epoch
    if spe and history.step_loss:
        x = (np.arange(len(history.step_loss)) + 1) / spe
        fig.add_trace(go.Scatter(x=x, y=history.step_loss, mode="lines", name="joint loss (steps)",
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
