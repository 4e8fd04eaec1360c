"""Views of robustness and transfer: robust metric vs attack radius, and W before and after adaptation."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import TASK_COLORS, _heatmap_trace, _zmax, as_matrices, module_labels


# --- robustness and transfer ---------------------------------------------------------------------------
def robustness_curves(curves: dict[str, dict[float, dict[str, float]]], eps: float | None = None,
                      title: str | None = None, metric: str = "accuracy") -> go.Figure:
    """Robust test metric against the attack radius eps, one line per strategy, and the per-task
    metric at ``eps`` as grouped bars.

    ``curves[strategy][eps][task]`` is the task's metric on inputs attacked with that eps
    (eps = 0: clean). Left: the mean over tasks vs eps, with a diamond (and a dashed line)
    at ``eps``; right: one bar per task and strategy at ``eps`` (None: the largest eps).
    Trace order is fixed (curves, markers, bars; strategies in the given order) so a
    FigureWidget can be updated in place.
    """
    if not curves or any(not points for points in curves.values()):
        raise ValueError("robustness_curves needs at least one eps value per strategy")
    if eps is None:
        eps = max(max(points) for points in curves.values())
    tasks = list(next(iter(next(iter(curves.values())).values())))
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, column_widths=[0.55, 0.45],
                        subplot_titles=(f"mean {metric} over tasks vs eps", f"per task at eps = {eps:.3g}"))
    mean = lambda d: sum(d.values()) / len(d)  # noqa: E731
    colors = {s: TASK_COLORS[k % len(TASK_COLORS)] for k, s in enumerate(curves)}
    for s, points in curves.items():
        xs = sorted(points)
        fig.add_trace(go.Scatter(x=xs, y=[mean(points[e]) for e in xs], mode="lines+markers", name=s,
                                 legendgroup=s, line=dict(color=colors[s]),
                                 hovertemplate=f"{s}: %{{y:.3f}} at eps %{{x:.3g}}<extra></extra>"), row=1, col=1)
    for s, points in curves.items():
        at = points.get(eps)
        fig.add_trace(go.Scatter(x=[eps], y=[mean(at) if at else None], mode="markers", name=f"{s} at eps",
                                 legendgroup=s, showlegend=False,
                                 marker=dict(color=colors[s], size=13, symbol="diamond", line=dict(width=1)),
                                 hovertemplate=f"{s} at eps %{{x:.3g}}: %{{y:.3f}}<extra></extra>"), row=1, col=1)
    for s, points in curves.items():
        at = points.get(eps) or {}
        fig.add_trace(go.Bar(x=tasks, y=[at.get(t) for t in tasks], name=f"{s} per task", legendgroup=s,
                             showlegend=False, marker_color=colors[s],
                             hovertemplate=f"{s}, %{{x}}: %{{y:.3f}}<extra></extra>"), row=1, col=2)
    fig.add_vline(x=eps, line=dict(color="#888", dash="dash", width=1), row=1, col=1)
    fig.update_xaxes(title_text="attack radius eps (input units)", row=1, col=1)
    fig.update_yaxes(title_text=f"test {metric} under attack", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title or f"robust {metric} per strategy", barmode="group", width=940, height=420,
                      legend=dict(orientation="h", yanchor="top", y=-0.2), meta={"eps": eps})
    return fig


def W_before_after(before, after, labels: Sequence[str] | None = None, title: str = "W before and after adaptation"
                   ) -> go.Figure:
    """Heatmaps of every stage's W before (row 1) and after (row 2) a change such as transfer, and the
    change after - before (row 3, its own colour scale, since it is usually much smaller)."""
    before, after = as_matrices(before), as_matrices(after)
    if len(before) != len(after) or any(b.shape != a.shape for b, a in zip(before, after)):
        raise ValueError(f"before and after must have the same stages and shapes, got "
                         f"{[b.shape for b in before]} and {[a.shape for a in after]}")
    n, stages = before[0].shape[0], len(before)
    labels = module_labels(None, n, labels)
    change = [a - b for b, a in zip(before, after)]
    zmax, dmax = _zmax(before + after, None), _zmax(change, None)
    fig = make_subplots(rows=3, cols=stages, vertical_spacing=0.09, horizontal_spacing=0.12,
                        subplot_titles=[f"{row}, stage {s + 1}" for row in ("before", "after", "change")
                                        for s in range(stages)])
    for r, (mats, zm) in enumerate(((before, zmax), (after, zmax), (change, dmax)), 1):
        for s, W in enumerate(mats):
            bar = dict(len=0.3, y=0.5 if r < 3 else 0.12) if s == stages - 1 and r >= 2 else {}
            extra = {"colorbar": bar} if bar else {}
            if r == 3:
                extra["texttemplate"] = "%{z:+.3f}"
            fig.add_trace(_heatmap_trace(W, labels, zm, showscale=bool(bar),
                                         name=f"{('before', 'after', 'change')[r - 1]} stage {s + 1}", **extra),
                          row=r, col=s + 1)
            fig.update_yaxes(autorange="reversed", row=r, col=s + 1)
    fig.update_layout(title=title, width=120 + 330 * stages, height=960, margin=dict(l=60, r=20, t=70, b=40))
    return fig
