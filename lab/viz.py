"""Plotly figures of the coupling W and of training, from a live system or a saved ``History``.

Every view takes plain matrices or a ``History`` (so a saved run replays without
training). W conventions: ``W[i, j]`` is what module i takes from module j
(row = receiver); a stage's W is (num_modules, num_modules); "epoch 0" means
the W before training (``History.W_init``), epoch k the W after epoch k.

Views:

* :func:`W_heatmap` / :func:`W_heatmaps` - one heatmap per stage, diverging
  colours centred on 0, module names on the axes, values on hover;
* :func:`W_graph` - modules as nodes, W_ij as edges j -> i (width = |W_ij|,
  red positive, blue negative), edges under a threshold hidden by a slider;
* :func:`W_animation` - W across the recorded epochs (slider and play button);
  :func:`W_trajectories` - chosen entries W_ij(t) over the epochs;
* :func:`training_curves` - per-task loss and validation metric per epoch;
  :func:`task_weight_curves` - the loss weights lambda_i per epoch;
* :func:`W_vs_truth` - learned |W| next to the ground-truth W* with the
  recovery scores of :func:`lab.coupling.recovery_report`;
* :func:`W_side_by_side` - the W of two runs next to each other;
* :func:`robustness_curves` - robust metric vs attack radius per strategy, per task at one eps;
* :func:`W_before_after` - every stage's W before and after adaptation, and the change;
* :func:`compression_preview` - accuracy and packed size vs sparsity at one bit width, a marker at the slider;
* :func:`pareto` - accuracy vs real bytes of compression recipes, step by step, with the non-dominated points.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .coupling.recovery import edge_scores, recovery_report
from .history import History

COLORSCALE = "RdBu"          # reversed: red = positive, blue = negative
TASK_COLORS = qualitative.Plotly
POSITIVE, NEGATIVE = "#c0392b", "#2166ac"


# --- reading W out of whatever the caller has ------------------------------------------------
def _array(W) -> np.ndarray:
    return np.asarray(W.detach().cpu() if hasattr(W, "detach") else W, dtype=float)


def W_at_epoch(history: History, epoch: int | None = None) -> list[np.ndarray]:
    """The W of every stage after ``epoch`` (0 = before training, None = the last recorded)."""
    if epoch is None:
        if not history.W:
            if not history.W_init:
                raise ValueError("this history has no W recorded (no epoch finished and no initial W)")
            return [_array(W) for W in history.W_init]
        return history.W_at(-1)
    if epoch == 0:
        if not history.W_init:
            raise ValueError("this history has no initial W (W_init is empty)")
        return [_array(W) for W in history.W_init]
    if epoch not in history.epochs:
        raise ValueError(f"epoch {epoch} was not recorded; recorded epochs are 0 (before training) and "
                         f"{history.epochs[0] if history.epochs else '-'}..{history.epochs[-1] if history.epochs else '-'}")
    return history.W_at(history.epochs.index(epoch))


def as_matrices(source, epoch: int | None = None) -> list[np.ndarray]:
    """Stages' W from a History (at ``epoch``), a list of (n, n) matrices, one (n, n) or an (S, n, n) array."""
    if isinstance(source, History):
        return W_at_epoch(source, epoch)
    if isinstance(source, (list, tuple)) and source and np.ndim(_array(source[0])) == 2:
        mats = [_array(W) for W in source]
    else:
        arr = _array(source)
        if arr.ndim == 2:
            mats = [arr]
        elif arr.ndim == 3:
            mats = list(arr)
        else:
            raise ValueError(f"expected W of shape (n, n) or (stages, n, n), got shape {arr.shape}")
    for W in mats:
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"every W must be square (n, n), got shape {W.shape}")
    return mats


def snapshot_epochs(history: History) -> list[int]:
    """Epoch numbers with a W snapshot: 0 (before training, if recorded) and every recorded epoch."""
    return ([0] if history.W_init else []) + list(history.epochs)


def module_labels(source, n: int, labels: Sequence[str] | None = None) -> list[str]:
    """Names of the n modules: given labels, else the history's task names (module i runs task i), else m0.."""
    if labels is not None:
        labels = [str(v) for v in labels]
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} modules")
        return labels
    if isinstance(source, History) and len(source.task_names) == n:
        return list(source.task_names)
    return [f"m{i}" for i in range(n)]


def _zmax(mats, zmax: float | None) -> float:
    return zmax if zmax is not None else max(max(float(np.abs(W).max()) for W in mats), 1e-6)


def _heatmap_trace(W: np.ndarray, labels: list[str], zmax: float, showscale: bool = True, **kw) -> go.Heatmap:
    return go.Heatmap(**{**dict(z=W, x=labels, y=labels, zmin=-zmax, zmax=zmax, zmid=0, colorscale=COLORSCALE,
                                reversescale=True, texttemplate="%{z:.2f}", showscale=showscale,
                                hovertemplate="module %{y} takes from %{x}: %{z:.3f}<extra></extra>"), **kw})


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
    sizes = [points[s][1] for s in xs] + [size] + ([dense_bytes] if dense_bytes else [])
    fig.update_yaxes(title_text="bytes on disk (log)", type="log", row=1, col=2,      # room for the dashed line
                     range=[math.log10(0.8 * min(sizes)), math.log10(1.4 * max(sizes))])
    fig.update_layout(title=title or f"preview: prune + {bits_label} weights, no fine-tuning", width=940, height=400,
                      showlegend=False, meta={"sparsity": sparsity, "bits": bits_label})
    return fig


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
