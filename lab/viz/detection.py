"""Views of the detection system: per-task curves of several runs, and what the classifier sees.

* :func:`detection_curves` - validation proposal IoU, digit accuracy and box IoU per epoch, one line per run;
* :func:`classifier_view` - test canvases with the target box (green) and the classifier's window (orange),
  and below each the crop the classifier reads (``lab.detection.classifier_windows``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..history import History
from .common import TASK_COLORS

PANELS = (("proposal", "proposal IoU (L_det)"), ("digit", "digit accuracy (L_cls)"), ("box", "box IoU (L_loc)"))


def detection_curves(histories: dict[str, History], title: str = "validation metric per task") -> go.Figure:
    """One subplot per task (proposal IoU, digit accuracy, box IoU), one line per run label."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in PANELS], horizontal_spacing=0.07)
    for k, (label, history) in enumerate(histories.items()):
        color = TASK_COLORS[k % len(TASK_COLORS)]
        for col, (task, _) in enumerate(PANELS, start=1):
            values = history.val_metric.get(task, [])
            fig.add_trace(go.Scatter(x=history.epochs[:len(values)], y=values, mode="lines+markers", name=label,
                                     legendgroup=label, showlegend=col == 1, line=dict(color=color),
                                     hovertemplate=f"{label}: %{{y:.3f}}<extra>epoch %{{x}}</extra>"), row=1, col=col)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text="epoch", row=1, col=col)
        fig.update_yaxes(range=[0, 1], row=1, col=col)
    fig.update_layout(title=title, width=900, height=360, margin=dict(t=60, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, font=dict(size=11)))
    return fig


def _outline(box: Sequence[float], side: int, color: str, name: str) -> go.Scatter:
    x0, y0, x1, y1 = (float(v) * side - 0.5 for v in box)
    return go.Scatter(x=[x0, x1, x1, x0, x0], y=[y0, y0, y1, y1, y0], mode="lines", line=dict(color=color, width=2),
                      name=name, hoverinfo="skip", showlegend=False)


def classifier_view(canvases: np.ndarray, targets: np.ndarray, windows: np.ndarray, crops: np.ndarray,
                    captions: Sequence[str], title: str = "what the classifier sees") -> go.Figure:
    """Canvases (K, H, W) with target boxes and windows (K, 4) in [0, 1]; crops (K, h, w) below; a caption each."""
    k = len(canvases)
    fig = make_subplots(rows=2, cols=k, subplot_titles=list(captions) + [""] * k, vertical_spacing=0.06,
                        horizontal_spacing=0.02)
    side = canvases.shape[-1]
    for i in range(k):
        fig.add_trace(go.Heatmap(z=canvases[i], colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                 hovertemplate="%{z:.2f}<extra></extra>"), row=1, col=i + 1)
        fig.add_trace(_outline(targets[i], side, "#2ca02c", "target"), row=1, col=i + 1)
        fig.add_trace(_outline(windows[i], side, "#ff7f0e", "window"), row=1, col=i + 1)
        fig.add_trace(go.Heatmap(z=crops[i], colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                 hovertemplate="%{z:.2f}<extra></extra>"), row=2, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=None)
    fig.update_layout(title=title + " (top: canvas, green = target, orange = classifier's window; "
                      "bottom: the crop)", width=900, height=380, margin=dict(t=70, b=10, l=10, r=10))
    fig.update_annotations(font_size=11)
    return fig
