"""Views of the coupling W: heatmaps, the module graph, W across epochs, learned W vs the ground truth W*,
and two runs side by side (conventions in :mod:`lab.viz`)."""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..coupling.recovery import edge_scores, recovery_report
from ..history import History
from .common import (COLORSCALE, NEGATIVE, POSITIVE, TASK_COLORS, W_at_epoch, _array, _heatmap_trace, _zmax,
                     as_matrices, module_labels, snapshot_epochs)


# --- heatmaps ----------------------------------------------------------------------------------
def W_heatmap(W, labels: Sequence[str] | None = None, title: str = "W", zmax: float | None = None) -> go.Figure:
    """Heatmap of one (n, n) coupling matrix: row i = what module i takes from module j.

    Diverging colour scale centred on 0; module names on both axes; values on hover.
    """
    W = _array(W)
    labels = list(labels) if labels is not None else [f"m{i}" for i in range(W.shape[0])]
    zmax = zmax if zmax is not None else max(float(np.abs(W).max()), 1e-6)
    fig = go.Figure(_heatmap_trace(W, labels, zmax))
    fig.update_layout(title=title, xaxis_title="from module j", yaxis_title="module i",
                      yaxis_autorange="reversed", width=420, height=380, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def W_heatmaps(source, labels: Sequence[str] | None = None, epoch: int | None = None, title: str | None = None,
               zmax: float | None = None) -> go.Figure:
    """One heatmap per stage side by side, sharing one colour scale (centred on 0)."""
    mats = as_matrices(source, epoch)
    n = mats[0].shape[0]
    labels = module_labels(source, n, labels)
    zmax = _zmax(mats, zmax)
    fig = make_subplots(rows=1, cols=len(mats), subplot_titles=[f"stage {s + 1}" for s in range(len(mats))],
                        horizontal_spacing=0.12 if len(mats) > 1 else 0.0)
    for s, W in enumerate(mats):
        fig.add_trace(_heatmap_trace(W, labels, zmax, showscale=(s == len(mats) - 1), name=f"stage {s + 1}"),
                      row=1, col=s + 1)
        fig.update_yaxes(autorange="reversed", row=1, col=s + 1)
        fig.update_xaxes(title_text="from module j", row=1, col=s + 1)
    fig.update_yaxes(title_text="module i", row=1, col=1)
    if title is None:
        title = "W" if not isinstance(source, History) else f"W of {source.strategy or 'run'}" + (
            "" if epoch is None else f", epoch {epoch}")
    fig.update_layout(title=title, width=120 + 330 * len(mats), height=380, margin=dict(l=60, r=20, t=70, b=50))
    return fig


# --- graph -------------------------------------------------------------------------------------
def _node_positions(n: int) -> np.ndarray:
    """Modules on a circle, module 0 at the top, clockwise: (n, 2)."""
    angles = math.pi / 2 - 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _graph_traces(W: np.ndarray, labels: list[str], threshold: float, wmax: float | None = None
                  ) -> tuple[list[go.Scatter], list[float]]:
    """Edge traces (one per off-diagonal entry, j -> i), then the node and label traces; |W_ij| per edge trace."""
    n = W.shape[0]
    pos = _node_positions(n)
    off = W[~np.eye(n, dtype=bool)]
    wmax = wmax if wmax is not None else max(float(np.abs(off).max()) if off.size else 0.0, 1e-6)
    traces, strengths = [], []
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            w = float(W[i, j])
            start, end = pos[j], pos[i]
            d = end - start
            normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-12)
            shift = 0.045 * normal                      # i<-j and j<-i drawn side by side
            a, b = start + 0.16 * d + shift, start + 0.84 * d + shift
            mid = (a + b) / 2
            traces.append(go.Scatter(
                x=[a[0], mid[0], b[0]], y=[a[1], mid[1], b[1]], mode="lines+markers",
                line=dict(width=0.5 + 7.5 * min(abs(w) / wmax, 1.0), color=POSITIVE if w >= 0 else NEGATIVE),
                marker=dict(symbol="arrow", angleref="previous", size=[0, 0, 11],
                            color=POSITIVE if w >= 0 else NEGATIVE),
                opacity=0.35 + 0.65 * min(abs(w) / wmax, 1.0), visible=abs(w) >= threshold, showlegend=False,
                name=f"{labels[i]} <- {labels[j]}",
                hovertemplate=f"{labels[i]} takes from {labels[j]}: W = {w:.3f}<extra></extra>"))
            strengths.append(abs(w))
    diag = np.diag(W)
    dmax = max(float(np.abs(diag).max()), 1e-6)
    traces.append(go.Scatter(
        x=pos[:, 0], y=pos[:, 1], mode="markers", text=labels,
        marker=dict(size=34, color=diag, colorscale=COLORSCALE, reversescale=True, cmid=0, cmin=-dmax, cmax=dmax,
                    line=dict(width=1, color="#444")),
        customdata=diag, hovertemplate="module %{text}: keeps W_ii = %{customdata:.3f}<extra></extra>",
        showlegend=False, name="modules"))
    outside = pos * 1.45
    traces.append(go.Scatter(
        x=outside[:, 0], y=outside[:, 1], mode="text", text=[f"<b>{lab}</b><br>{d:.2f}" for lab, d in zip(labels, diag)],
        textfont=dict(size=12, color="#222"), hoverinfo="skip", showlegend=False, name="module names"))
    return traces, strengths


_NODE_TRACES = 2   # the node markers and their labels follow the edge traces


def _graph_axes(fig: go.Figure, **where) -> None:
    fig.update_xaxes(visible=False, range=[-1.85, 1.85], **where)
    fig.update_yaxes(visible=False, range=[-1.85, 1.85], scaleanchor="x" if not where else None, **where)


def W_graph(W, labels: Sequence[str] | None = None, threshold: float = 0.05, title: str = "W as a module graph",
            slider: bool = True, epoch: int | None = None, stage: int = 0) -> go.Figure:
    """Modules as nodes on a circle, an arrow j -> i for every W_ij with |W_ij| >= ``threshold``.

    Edge width and opacity grow with |W_ij| (red positive, blue negative); the node
    colour is the module's own weight W_ii. ``W`` is one (n, n) matrix or a History
    (then ``epoch`` and ``stage`` pick the matrix). With ``slider`` the figure carries
    a threshold slider that hides weaker edges (works in a static figure too).
    """
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    mats = as_matrices(W, epoch)
    if not 0 <= stage < len(mats):
        raise ValueError(f"stage {stage} does not exist; this W has stages 0..{len(mats) - 1}")
    M = mats[stage]
    labels = module_labels(W, M.shape[0], labels)
    traces, strengths = _graph_traces(M, labels, threshold)
    fig = go.Figure(traces)
    _graph_axes(fig)
    fig.update_layout(title=title, width=460, height=480, margin=dict(l=20, r=20, t=60, b=70 if slider else 20),
                      plot_bgcolor="white", meta={"threshold": threshold})
    if slider and strengths:
        top = max(strengths)
        levels = np.round(np.linspace(0, top, 11), 3)
        steps = [dict(method="restyle", label=f"{t:.2f}",
                      args=[{"visible": [s >= t for s in strengths] + [True] * _NODE_TRACES}]) for t in levels]
        active = int(np.argmin(np.abs(levels - threshold)))
        fig.update_layout(sliders=[dict(active=active, steps=steps, currentvalue=dict(prefix="hide |W_ij| < "),
                                        pad=dict(t=10), len=0.9, x=0.05)])
    return fig


# --- W over training -----------------------------------------------------------------------------
def W_animation(history: History, labels: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
    """Every stage's W across the recorded epochs: a slider (and play button) steps through epochs."""
    epochs = snapshot_epochs(history)
    if not epochs:
        raise ValueError("this history has no W snapshots to animate")
    snaps = [W_at_epoch(history, e) for e in epochs]
    zmax = max(float(np.abs(W).max()) for mats in snaps for W in mats)
    fig = W_heatmaps(history, labels, epoch=epochs[-1], zmax=zmax)
    n_stages = len(snaps[0])
    names = [str(e) for e in epochs]
    fig.frames = [go.Frame(name=name, data=[go.Heatmap(z=W) for W in mats],
                           traces=list(range(n_stages)),
                           layout=go.Layout(title_text=f"W of {history.strategy or 'run'}, epoch {e}"
                                            + (" (before training)" if e == 0 else "")))
                  for name, e, mats in zip(names, epochs, snaps)]
    play = dict(type="buttons", direction="left", x=0.0, y=-0.2, xanchor="left", yanchor="top", showactive=False,
                pad=dict(t=0, r=10),
                buttons=[dict(label="play", method="animate",
                              args=[None, dict(frame=dict(duration=300, redraw=True), fromcurrent=True)]),
                         dict(label="pause", method="animate",
                              args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])
    slider = dict(active=len(names) - 1, currentvalue=dict(prefix="epoch "), x=0.2, len=0.8, y=-0.12,
                  yanchor="top", pad=dict(t=10),
                  steps=[dict(method="animate", label=name,
                              args=[[name], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                         for name in names])
    fig.update_layout(updatemenus=[play], sliders=[slider], height=500, margin=dict(b=130),
                      title=title or f"W of {history.strategy or 'run'}, epoch {epochs[-1]}")
    return fig


def W_trajectories(history: History, entries: Sequence[tuple[int, int, int]] | None = None,
                   labels: Sequence[str] | None = None, top: int = 6, title: str | None = None) -> go.Figure:
    """W_ij over the epochs for chosen ``entries`` (stage, i, j), 0-based.

    By default the ``top`` off-diagonal entries that moved most from their initial value.
    """
    epochs = snapshot_epochs(history)
    if not epochs:
        raise ValueError("this history has no W snapshots")
    series = np.stack([np.stack(W_at_epoch(history, e)) for e in epochs])   # (T, S, n, n)
    _, S, n, _ = series.shape
    names = module_labels(history, n, labels)
    if entries is None:
        moved = np.abs(series[-1] - series[0])
        moved[:, np.eye(n, dtype=bool)] = -1
        order = np.argsort(-moved, axis=None, kind="stable")[:min(top, S * n * (n - 1))]
        entries = [tuple(int(v) for v in np.unravel_index(k, moved.shape)) for k in order]
    fig = go.Figure()
    for k, (s, i, j) in enumerate(entries):
        if not (0 <= s < S and 0 <= i < n and 0 <= j < n):
            raise ValueError(f"entry (stage={s}, i={i}, j={j}) is outside W of {S} stages x {n} x {n}")
        fig.add_trace(go.Scatter(x=epochs, y=series[:, s, i, j], mode="lines+markers",
                                 name=f"stage {s + 1}: {names[i]} <- {names[j]}",
                                 line=dict(color=TASK_COLORS[k % len(TASK_COLORS)]),
                                 hovertemplate="epoch %{x}: %{y:.3f}<extra>%{fullData.name}</extra>"))
    fig.add_hline(y=0, line=dict(color="#999", width=1, dash="dot"))
    fig.update_layout(title=title or "W_ij over training", xaxis_title="epoch (0 = before training)",
                      yaxis_title="W_ij", width=640, height=380, legend=dict(font=dict(size=10)))
    return fig


# --- learned W vs ground truth ---------------------------------------------------------------------
def W_vs_truth(source, W_true=None, labels: Sequence[str] | None = None, epoch: int | None = None,
               stages: list[int] | None = None, title: str | None = None) -> go.Figure:
    """Learned coupling strength (mean |W| over ``stages``) next to the ground-truth |W*|.

    Only off-diagonal entries are scored (the diagonal is a module's own state), so
    the diagonal is left blank. The title carries :func:`recovery_report`'s scores;
    ``fig.layout.meta['recovery']`` holds them as numbers.
    """
    if W_true is None:
        W_true = source.W_true if isinstance(source, History) else None
    if W_true is None:
        raise ValueError("no ground-truth W* given (only synthetic data has one; pass W_true=...)")
    mats = as_matrices(source, epoch)
    truth = np.abs(_array(W_true))
    report = recovery_report(mats, truth, stages=stages)
    scores = edge_scores(mats, stages)
    n = truth.shape[0]
    labels = module_labels(source, n, labels)
    diag = np.eye(n, dtype=bool)
    learned = np.where(diag, np.nan, scores)
    true_off = np.where(diag, np.nan, truth)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.15,
                        subplot_titles=("learned: mean |W_ij| over stages", "ground truth |W*_ij|"))
    for col, (Z, name, zmax) in enumerate(((learned, "learned", np.nanmax(learned) if n > 1 else 1.0),
                                          (true_off, "W*", max(np.nanmax(true_off), 1e-6) if n > 1 else 1.0)), 1):
        z = [[None if np.isnan(v) else float(v) for v in row] for row in Z]    # None: a gap (JSON-safe)
        text = [["" if v is None else f"{v:.2f}" for v in row] for row in z]
        fig.add_trace(go.Heatmap(z=z, x=labels, y=labels, zmin=0, zmax=max(float(zmax), 1e-6), colorscale="Reds",
                                 text=text, texttemplate="%{text}",
                                 showscale=False, name=name,
                                 hovertemplate=f"{name}: module %{{y}} <- %{{x}}: %{{z:.3f}}<extra></extra>"),
                      row=1, col=col)
        fig.update_yaxes(autorange="reversed", row=1, col=col)
        fig.update_xaxes(title_text="from module j", row=1, col=col)
    fig.update_yaxes(title_text="module i", row=1, col=1)
    score = (f"edge AUC {report['auc']:.2f}, precision@{report['k']} {report['precision_at_k']:.2f}, "
             f"Spearman {report['spearman']:.2f}")
    fig.update_layout(title=(title + " - " if title else "W* recovery: ") + score, width=760, height=400,
                      meta={"recovery": report})
    return fig


# --- two runs side by side ---------------------------------------------------------------------------
def W_side_by_side(sources: Sequence, titles: Sequence[str], epochs: Sequence[int | None] | None = None,
                   stage: int = 0, kind: Literal["heatmap", "graph"] = "heatmap", threshold: float = 0.05,
                   labels: Sequence[Sequence[str] | None] | None = None, title: str | None = None) -> go.Figure:
    """The W of ``stage`` from each source (History or matrices) in its own panel, one colour scale."""
    if kind not in ("heatmap", "graph"):
        raise ValueError(f"kind must be 'heatmap' or 'graph', got {kind!r}")
    if len(sources) != len(titles):
        raise ValueError(f"got {len(sources)} sources but {len(titles)} titles")
    epochs = list(epochs) if epochs is not None else [None] * len(sources)
    mats = []
    for src, e in zip(sources, epochs):
        stages = as_matrices(src, e)
        if not 0 <= stage < len(stages):
            raise ValueError(f"stage {stage} does not exist in a W with {len(stages)} stages")
        mats.append(stages[stage])
    names = [module_labels(src, M.shape[0], (labels or [None] * len(sources))[k])
             for k, (src, M) in enumerate(zip(sources, mats))]
    zmax = _zmax(mats, None)
    fig = make_subplots(rows=1, cols=len(mats), subplot_titles=list(titles), horizontal_spacing=0.1)
    for k, (M, lab) in enumerate(zip(mats, names), 1):
        if kind == "heatmap":
            fig.add_trace(_heatmap_trace(M, lab, zmax, showscale=(k == len(mats))), row=1, col=k)
            fig.update_yaxes(autorange="reversed", row=1, col=k)
        else:
            traces, _ = _graph_traces(M, lab, threshold, wmax=max(
                float(np.abs(m[~np.eye(m.shape[0], dtype=bool)]).max()) for m in mats))
            for tr in traces:
                fig.add_trace(tr, row=1, col=k)
            _graph_axes(fig, row=1, col=k)
            fig.update_yaxes(scaleanchor="x" if k == 1 else f"x{k}", row=1, col=k)   # round, not squashed
    fig.update_layout(title=title or f"W, stage {stage + 1}", width=40 + 420 * len(mats), height=460,
                      plot_bgcolor="white" if kind == "graph" else None)
    return fig
