"""The tuner against hand-made settings: hand recipes as points beside the front, and which of them
the front dominates; best trials per value of a param (e.g. fixed vs adaptive loss weightings).

    points = recipe_points(context, ["prune:0.9,kmeans:16", "gradual:0.95:steps=4,kmeans:16"], finetune)
    dominated(points, study, ("accuracy", "bytes"))     # [True, False]: a Pareto trial beats the first
    best_by_param(study, "weighting")                    # one row per weighting: its best validation accuracy

Points are measured like trials (``lab.tune.objectives``): validation accuracy selects, test is shown.
"""
from __future__ import annotations

from typing import Any, Sequence

import optuna

from ..compress.fit import FitConfig
from ..compress.recipe import RecipeOptions, run_recipe
from ..cost import FAST_MEASURE
from ..metrics import evaluate_model
from .results import completed, pareto_trials
from .trials import TrialContext


def recipe_points(context: TrialContext, recipes: Sequence[str], finetune: FitConfig,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Run each recipe on the context's reference model (``run_recipe``, as ``python -m lab compress``):
    {recipe, val_%, test_%, bytes, x_smaller} per recipe, or {recipe, error} when a step refuses."""
    if context.reference is None:
        raise ValueError("hand recipes compress a trained reference: use a compression space's context")
    data, out = context.data, []
    for recipe in recipes:
        try:
            result = run_recipe(context.reference, recipe, data,
                                RecipeOptions(finetune=finetune, measure=FAST_MEASURE, seed=seed))
        except ValueError as err:              # e.g. global pruning emptied a layer: recorded, not raised
            out.append({"recipe": recipe, "error": str(err)})
            continue
        val = evaluate_model(result.model, data.val, data.tasks)
        test = evaluate_model(result.model, data.test, data.tasks)
        size = result.reports[-1].bytes
        out.append({"recipe": recipe, "val_%": 100 * sum(val.values()) / len(val),
                    "test_%": 100 * sum(test.values()) / len(test), "bytes": size,
                    "x_smaller": result.reports[0].bytes / size})
    return out


def dominated(points: Sequence[dict[str, Any]], study: optuna.Study, objectives: Sequence[str]) -> list[bool | None]:
    """For each point ({val_%, bytes}): is some Pareto trial at least as accurate (validation) and at
    most as large, and better in one of the two? None for a point with an ``error``."""
    names = list(objectives)
    if "accuracy" not in names or "bytes" not in names:
        raise ValueError(f"comparing with hand recipes needs the accuracy and bytes objectives, got {names}")
    a, s = names.index("accuracy"), names.index("bytes")
    front = [(100 * t.values[a], t.values[s]) for t in pareto_trials(study, names)]
    return [None if "error" in p else
            any(acc >= p["val_%"] and size <= p["bytes"] and (acc > p["val_%"] or size < p["bytes"])
                for acc, size in front) for p in points]


def best_by_param(study: optuna.Study, param: str, objective: int = 0) -> list[dict[str, Any]]:
    """One row per value of ``param`` among completed trials: trial count and the best value of
    objective ``objective`` (validation accuracy in %, with its test accuracy and bytes)."""
    groups: dict[Any, list] = {}
    for t in completed(study):
        if param in t.params:
            groups.setdefault(t.params[param], []).append(t)
    if not groups:
        raise ValueError(f"no completed trial has the param {param!r}")
    direction = study.directions[objective]
    rows = []
    for value, trials in groups.items():
        best = (max if direction == optuna.study.StudyDirection.MAXIMIZE else min)(
            trials, key=lambda t: t.values[objective])
        rows.append({param: value, "trials": len(trials), "best_val_%": 100 * best.user_attrs["val_metric"],
                     "its_test_%": 100 * best.user_attrs["test_metric"], "bytes": best.user_attrs["bytes"],
                     "trial": best.number})
    return sorted(rows, key=lambda r: -r["best_val_%"])
