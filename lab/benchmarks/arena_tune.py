"""The arena's honest baseline: fixed task weights tuned on the validation split (Optuna, seeded TPE).

The search space is one ``lab.tune.spaces.Param`` per task, ``weight.<task>``,
log-uniform in [low, high] (default [0.1, 10]: ratios up to 100 between tasks, which
a 100x loss scale needs). The first trial is all-ones (equal weights), so the
tuned weighting is never worse on validation than equal weights; then TPE (seeded,
its first ``candidates // 2`` trials random). Each trial trains the system with the
given seed and scores it on *validation* only: Delta m % against the baseline's
validation metrics when given (what the arena ranks by), else the mean metric.

Why not a ``lab.tune`` study: those are persistent, multi-worker searches whose
trial kinds (coupling / compression recipes on the digits) are fixed; this is a
dozen-trial, in-memory, single-objective search on any task set, so it calls
Optuna directly and borrows only the space's ``Param``.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import replace

import optuna

from ..compare import run_strategy
from ..coupling.system import SystemConfig
from ..data.base import MultiTaskData
from ..train import TrainConfig
from ..tune.spaces import Param
from ..validation import check_float, check_int, check_seed
from ..weighting import make_weighting
from .delta_m import delta_m

MAX_CANDIDATES = 1000


def weight_params(task_names: tuple[str, ...], low: float = 0.1, high: float = 10.0) -> tuple[Param, ...]:
    """The search space: one log-uniform ``weight.<task>`` per task."""
    return tuple(Param(f"weight.{t}", "float", low, high, log=True, help=f"fixed lambda of task {t}")
                 for t in task_names)


def validation_score(val: dict[str, float], baseline: dict[str, float] | None) -> float:
    """Delta m % against ``baseline`` (same tasks) when given, else the mean metric."""
    if baseline is None:
        return statistics.fmean(val.values())
    return delta_m(val, baseline)


def tune_fixed_weights(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                       candidates: int, seed: int = 0, baseline_val: dict[str, float] | None = None,
                       low: float = 0.1, high: float = 10.0) -> tuple[tuple[float, ...], list[dict]]:
    """Best fixed task weights on validation among ``candidates`` trials (all-ones first, then TPE).

    Returns the weights (task order) and one record per trial: ``weights``, ``score`` (validation
    Delta m % or mean metric) and ``val`` (validation metric per task). Same seed, same records.
    """
    candidates = check_int("tune candidates", candidates, min=1, max=MAX_CANDIDATES)
    seed = check_seed(seed)
    low = check_float("lowest task weight", low, min=0.0, max=1e6, min_open=True)
    high = check_float("highest task weight", high, min=low, max=1e6)
    names = data.task_names
    params = weight_params(names, low, high)
    records: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        weights = tuple(float(p.suggest(trial)) for p in params)
        result = run_strategy(data, replace(system_config, seed=seed), replace(train_config, seed=seed),
                              weighting=make_weighting("fixed", weights=weights))
        val = result.history.final_metrics()
        score = validation_score(val, baseline_val)
        records.append({"weights": weights, "score": score, "val": val})
        return score if math.isfinite(score) else -math.inf

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(1, candidates // 2))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial({p.name: 1.0 for p in params})
    study.optimize(objective, n_trials=candidates)
    best = max(records, key=lambda r: r["score"])
    return best["weights"], records
