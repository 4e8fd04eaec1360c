"""Figures of a study: the live Pareto plot, hand-made points beside it, and Optuna's own plotly views.

    pareto_figure(study, ("accuracy", "bytes"))                 # every trial grey, the front red, log bytes
    pareto_figure(study, objectives, extra={"hand recipes": [(97.2, 5180, "gradual:0.95,kmeans:16")]})
    optuna_view(study, objectives, "hypervolume")               # optuna.visualization, as a go.Figure

Accuracy is the validation metric in %, bytes are real file bytes on disk.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import optuna
import plotly.graph_objects as go

from .objectives import OBJECTIVES
from .results import completed, pareto_trials

VIEWS: dict[str, str] = {"pareto": "Optuna's Pareto front", "hypervolume": "hypervolume history",
                         "importances": "parameter importances (first objective)", "history": "optimisation history"}


def _xy(objectives: Sequence[str]) -> tuple[int, int]:
    """Indices of the objectives on the x and y axes: bytes (or the second) across, accuracy (or the first) up."""
    names = list(objectives)
    y = names.index("accuracy") if "accuracy" in names else 0
    x = names.index("bytes") if "bytes" in names else (1 if len(names) > 1 and y != 1 else 0)
    return x, y


def _value(name: str, v: float) -> float:
    return 100.0 * v if name == "accuracy" else v


def pareto_figure(study: optuna.Study, objectives: Sequence[str],
                  extra: dict[str, list[tuple[float, float, str]]] | None = None,
                  title: str | None = None) -> go.Figure:
    """Completed trials (grey) and the Pareto front (red, joined in order) on the first two axes;
    ``extra``: named groups of (y, x, label) points drawn beside them (e.g. hand recipes)."""
    x, y = _xy(objectives)
    names = list(objectives)
    trials = completed(study)
    front = pareto_trials(study, objectives)
    on_front = {t.number for t in front}

    def trace(ts, name, color, mode="markers"):
        return go.Scatter(x=[_value(names[x], t.values[x]) for t in ts], y=[_value(names[y], t.values[y]) for t in ts],
                          mode=mode, name=name, marker={"color": color, "size": 8},
                          text=[f"trial {t.number}<br>{t.user_attrs.get('plan', '')}" for t in ts],
                          hovertemplate="%{text}<br>%{x:,.4g}, %{y:.2f}<extra></extra>")

    front_sorted = sorted(front, key=lambda t: t.values[x])
    fig = go.Figure([trace([t for t in trials if t.number not in on_front], "trials", "#bbbbbb"),
                     trace(front_sorted, "Pareto front", "#d62728", "lines+markers")])
    for k, (group, points) in enumerate((extra or {}).items()):
        fig.add_trace(go.Scatter(x=[p[1] for p in points], y=[p[0] for p in points], mode="markers", name=group,
                                 marker={"symbol": "diamond", "size": 10, "color": ["#1f77b4", "#2ca02c"][k % 2]},
                                 text=[p[2] for p in points], hovertemplate="%{text}<br>%{x:,.4g}, %{y:.2f}<extra></extra>"))
    log_x = names[x] in ("bytes", "flops") and all(t.values[x] > 0 for t in trials)
    fig.update_layout(title=title or f"{study.study_name}: {len(trials)} trials, {len(front)} on the front",
                      xaxis_title=OBJECTIVES[names[x]].label, yaxis_title=OBJECTIVES[names[y]].label,
                      xaxis_type="log" if log_x else "linear", height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def reference_point(study: optuna.Study, objectives: Sequence[str]) -> list[float]:
    """A hypervolume reference point just worse than every completed trial in every objective."""
    ref = []
    for i, name in enumerate(objectives):
        values = [t.values[i] for t in completed(study)]
        if OBJECTIVES[name].direction == "maximize":
            ref.append(min(values) - 0.01 * (abs(min(values)) or 1))
        else:
            ref.append(max(values) * 1.1 if max(values) > 0 else max(values) + 1)
    return ref


def optuna_view(study: optuna.Study, objectives: Sequence[str], view: str) -> go.Figure:
    """One of Optuna's plotly views (``VIEWS``) of ``study``; ValueError when it has nothing to show yet."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {list(VIEWS)}")
    if not completed(study):
        raise ValueError("no completed trial yet: nothing to plot")
    from optuna import visualization as vis

    names = [OBJECTIVES[n].label for n in objectives]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")   # the sign is handled below
        if view == "pareto":
            return vis.plot_pareto_front(study, target_names=names) if len(objectives) > 1 else \
                vis.plot_optimization_history(study, target_name=names[0])
        if view == "hypervolume":
            if len(objectives) < 2:
                raise ValueError("the hypervolume needs two or more objectives")
            return vis.plot_hypervolume_history(study, reference_point=reference_point(study, objectives))
        if view == "history":
            return vis.plot_optimization_history(study, target=lambda t: t.values[0], target_name=names[0])
        if len(completed(study)) < 2:
            raise ValueError("parameter importances need two or more completed trials")
        sign = -1.0 if OBJECTIVES[objectives[0]].direction == "maximize" else 1.0   # importance of doing well
        return vis.plot_param_importances(study, target=lambda t: sign * t.values[0], target_name=names[0])
