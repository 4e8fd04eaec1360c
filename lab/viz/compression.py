"""Views of compression: the slider preview (accuracy and packed size vs sparsity) and the Pareto plot of
accuracy vs real bytes over every step of every recipe."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import TASK_COLORS


def compression_preview(points: dict[float, tuple[float, int]], sparsity: float, accuracy: float, size: int,
                        bits_label: str = "float", baseline: float | None = None, dense_bytes: int | None = None,
                        title: str | None = None) -> go.Figure:
    """Test accuracy (left) and packed size on disk (right, log) against sparsity at one bit width.

    ``points[sparsity] = (accuracy in [0, 1], bytes)`` from ``lab.compress.Preview`` (no fine-tuning);
    a diamond marks the slider's ``sparsity`` with its ``accuracy`` and ``size``; ``baseline`` (the
    unmodified model's accuracy) and ``dense_bytes`` (its ``torch.save`` file) are dashed lines.
    Trace order is fixed (curve, marker, curve, marker) so a FigureWidget can be updated in place.
    """
    if not points:
        raise ValueError("compression_preview needs at least one (sparsity, accuracy, bytes) point")
    xs = sorted(points)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(f"test accuracy vs sparsity ({bits_label})",
                                        f"packed file vs sparsity ({bits_label})"))
    fig.add_trace(go.Scatter(x=xs, y=[100 * points[s][0] for s in xs], mode="lines+markers", name="accuracy",
                             line=dict(color=TASK_COLORS[0]),
                             hovertemplate="sparsity %{x:.2f}: %{y:.2f}%<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[sparsity], y=[100 * accuracy], mode="markers", name="slider",
                             marker=dict(color=TASK_COLORS[0], size=14, symbol="diamond", line=dict(width=1)),
                             hovertemplate="slider: sparsity %{x:.2f}, %{y:.2f}%<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[points[s][1] for s in xs], mode="lines+markers", name="bytes",
                             line=dict(color=TASK_COLORS[1]),
                             hovertemplate="sparsity %{x:.2f}: %{y:,} bytes<extra></extra>"), row=1, col=2)
    fig.add_trace(go.Scatter(x=[sparsity], y=[size], mode="markers", name="slider bytes",
                             marker=dict(color=TASK_COLORS[1], size=14, symbol="diamond", line=dict(width=1)),
                             hovertemplate="slider: sparsity %{x:.2f}, %{y:,} bytes<extra></extra>"), row=1, col=2)
    if baseline is not None:
        fig.add_hline(y=100 * baseline, line=dict(color="#888", dash="dash", width=1), row=1, col=1,
                      annotation_text="unmodified", annotation_position="bottom left")
    if dense_bytes is not None:
        fig.add_hline(y=dense_bytes, line=dict(color="#888", dash="dash", width=1), row=1, col=2,
                      annotation_text="torch.save fp32", annotation_position="bottom left")
    fig.update_xaxes(title_text="sparsity (fraction of weights set to zero)", range=[-0.02, 1.0])
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 101], row=1, col=1)
    fig.update_yaxes(title_text="bytes on disk (log)", type="log", row=1, col=2,      # room for the dashed line
                     range=_bytes_range(points, size, dense_bytes))
    fig.update_layout(title=title or f"preview: prune + {bits_label} weights, no fine-tuning", width=940, height=400,
                      showlegend=False, meta={"sparsity": sparsity, "bits": bits_label})
    return fig


def _bytes_range(points: dict[float, tuple[float, int]], size: int, dense_bytes: int | None) -> list[float]:
    """The log10 range of the bytes axis: every point, the marker and the dashed line, with a margin."""
    sizes = [b for _, b in points.values()] + [size] + ([dense_bytes] if dense_bytes else [])
    return [math.log10(0.8 * min(sizes)), math.log10(1.4 * max(sizes))]


def compression_preview_update(points: dict[float, tuple[float, int]], sparsity: float, accuracy: float, size: int,
                               bits_label: str = "float", dense_bytes: int | None = None,
                               curves: bool = True) -> tuple[dict[int, dict], dict]:
    """What changes in a :func:`compression_preview` figure when the slider moves at the same bits setting:
    ``(traces, layout)`` for ``FigureView.patch`` - the two diamonds (traces 1 and 3), the two curves
    (traces 0 and 2, only with ``curves=True``: when the curve gained a point) and the bytes axis' range.
    Applied to the figure of the previous step it gives the figure ``compression_preview`` draws for this one.
    """
    traces: dict[int, dict] = {1: {"x": [sparsity], "y": [100 * accuracy]}, 3: {"x": [sparsity], "y": [size]}}
    if curves:
        xs = sorted(points)
        traces[0] = {"x": xs, "y": [100 * points[s][0] for s in xs]}
        traces[2] = {"x": xs, "y": [points[s][1] for s in xs]}
    layout = {"yaxis2.range": _bytes_range(points, size, dense_bytes), "meta": {"sparsity": sparsity, "bits": bits_label}}
    return traces, layout


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (smaller ``x`` and larger ``y`` are better), sorted by x.

    A point is dominated when another has x <= its x and y >= its y, one of them strictly; of equal
    points the first is kept.
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((xo <= x and yo >= y and (xo < x or yo > y)) or ((xo, yo) == (x, y) and j < i)
                        for j, (xo, yo) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


def pareto(reports_by_run: dict[str, Sequence], title: str = "accuracy vs size: every step of every recipe"
           ) -> go.Figure:
    """Accuracy against real bytes on disk (log x), one series per recipe run, and the Pareto front.

    ``reports_by_run[label]`` is a run's ``lab.cost.Report`` list (step by step, the first the input
    model); a series joins its steps in order, hover shows the step, bytes, ratio and accuracy.
    Reports without bytes or accuracy are left out. The last trace marks the non-dominated steps over
    all runs (no other step is both smaller and at least as accurate) with a dashed staircase.
    """
    if not reports_by_run:
        raise ValueError("pareto needs at least one recipe run")
    fig = go.Figure()
    everything: list[tuple[float, float, str]] = []
    for k, (label, reports) in enumerate(reports_by_run.items()):
        kept = [r for r in reports if r.bytes is not None and r.metric is not None]
        ref = kept[0].bytes if kept else None
        xs, ys = [r.bytes for r in kept], [100 * r.metric for r in kept]
        text = [f"{r.step} ({r.runtime})" for r in kept]
        ratio = [ref / b if ref and b else None for b in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=label, text=text, customdata=ratio,
                                 line=dict(color=TASK_COLORS[k % len(TASK_COLORS)], width=1.5),
                                 marker=dict(size=9),
                                 hovertemplate=f"{label}<br>%{{text}}<br>%{{x:,}} bytes "
                                               "(%{customdata:.1f}x smaller)<br>accuracy %{y:.2f}%<extra></extra>"))
        everything += [(x, y, f"{label}: {t}") for x, y, t in zip(xs, ys, text)]
    front = pareto_front([(x, y) for x, y, _ in everything])
    fig.add_trace(go.Scatter(x=[everything[i][0] for i in front], y=[everything[i][1] for i in front],
                             mode="lines+markers", name="Pareto front (non-dominated)", line_shape="hv",
                             text=[everything[i][2] for i in front],
                             line=dict(color="#333", dash="dash", width=1),
                             marker=dict(size=16, symbol="circle-open", color="#333", line=dict(width=2)),
                             hovertemplate="non-dominated: %{text}<br>%{x:,} bytes, %{y:.2f}%<extra></extra>"))
    fig.update_xaxes(type="log", title_text="real bytes on disk (log scale; smaller is better)")
    fig.update_yaxes(title_text="test accuracy (%)")
    fig.update_layout(title=title, width=940, height=460, legend=dict(orientation="h", yanchor="top", y=-0.18),
                      meta={"front": [everything[i][2] for i in front]})
    return fig
