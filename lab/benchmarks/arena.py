"""The weighting arena: every loss weighting x sharing strategy against independent modules.

The field's two summary numbers, over ``seeds`` (the seed changes the initial
weights and the batch order; the data split stays fixed):

* **Delta m %** (Maninis et al. 2019; the metric of LibMTL, Nash-MTL, FAMO): with
  M_i the test metric of task i and B_i that of the baseline — independent
  modules with equal weights, averaged over the same seeds —

      Delta m = 100 / T * sum_i (M_i - B_i) / |B_i|

  (every lab metric is higher-is-better, so no sign flips; > 0 = better than
  training each task alone). Reported per run, then as mean ± sd over seeds.
* **Mean rank**: per task, rank every (strategy, weighting) row, the baseline
  included, by its mean metric over seeds (1 = best, ties share the mean rank);
  then average over tasks.

``fixed_tuned`` is the honest baseline the literature asks for: fixed task weights
picked by a small random search on the *validation* split (candidates log-uniform
in [0.1, 10] per task plus all-ones, trained with the first seed), then trained
and tested like every other weighting.

``conflicting_synthetic`` builds tasks where weightings should differ: the
synthetic regression tasks with task 0's target multiplied by ``target_scale``
(10 -> its loss is 100x the others'; r2, the metric, is scale-free), so equal
weights let one task dominate the shared trunk's gradient.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import replace
from typing import Sequence

import torch

from ..compare import run_strategy, weighting_for
from ..coupling.system import SystemConfig
from ..data.base import MultiTaskData, Split
from ..data.synthetic import load_synthetic
from ..train import TrainConfig
from ..weighting import WEIGHTINGS, make_weighting

BASELINE = "independent"
TUNED = "fixed_tuned"


def delta_m(metrics: dict[str, float], baseline: dict[str, float]) -> float:
    """Delta m % of per-task metrics against the baseline's (same task names, higher is better)."""
    if set(metrics) != set(baseline) or not metrics:
        raise ValueError(f"delta_m needs the same tasks, got {sorted(metrics)} and {sorted(baseline)}")
    zero = [t for t, b in baseline.items() if b == 0]
    if zero:
        raise ValueError(f"delta_m: the baseline metric of {zero} is 0, so a relative change is undefined")
    return 100.0 / len(metrics) * sum((metrics[t] - baseline[t]) / abs(baseline[t]) for t in metrics)


def mean_ranks(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """``table[row][task]`` = mean metric -> mean over tasks of each row's rank (1 = best, ties averaged)."""
    rows = list(table)
    tasks = list(next(iter(table.values()))) if table else []
    ranks = {r: 0.0 for r in rows}
    for task in tasks:
        values = {r: table[r][task] for r in rows}
        for r in rows:
            better = sum(v > values[r] for v in values.values())
            ties = sum(v == values[r] for v in values.values())
            ranks[r] += better + (ties + 1) / 2
    return {r: ranks[r] / len(tasks) for r in rows}


def scale_targets(data: MultiTaskData, factors: dict[str, float]) -> MultiTaskData:
    """A copy of ``data`` with regression targets multiplied per task (loss x factor^2)."""
    for name, factor in factors.items():
        task = next((t for t in data.tasks if t.name == name), None)
        if task is None or task.kind != "regression":
            raise ValueError(f"scale_targets: {name!r} is not a regression task of {data.name} "
                             f"(tasks: {list(data.task_names)})")
        if not (math.isfinite(factor) and factor != 0):
            raise ValueError(f"scale_targets: the factor for {name!r} must be a finite non-zero number, got {factor}")

    def scaled(split: Split) -> Split:
        return Split(split.x, {t: y * factors[t] if t in factors else y for t, y in split.y.items()})

    info = {**data.info, "target_scale": {t: float(f) for t, f in factors.items()}}
    return replace(data, name=f"{data.name}_scaled", train=scaled(data.train), val=scaled(data.val),
                   test=scaled(data.test), info=info)


def conflicting_synthetic(seed: int = 0, num_modules: int = 4, num_samples: int = 3000,
                          target_scale: float = 10.0) -> MultiTaskData:
    """Synthetic regression tasks (chain W*) whose task 0 has its target x ``target_scale``."""
    data = load_synthetic(num_modules=num_modules, structure="chain", kind="regression", num_samples=num_samples,
                          seed=seed)
    return scale_targets(data, {data.task_names[0]: target_scale})


def tune_fixed_weights(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                       candidates: int, seed: int = 0) -> tuple[tuple[float, ...], list[dict]]:
    """Fixed task weights with the best mean *validation* metric among all-ones and ``candidates - 1``
    log-uniform draws in [0.1, 10]; returns them and one record per candidate."""
    if candidates < 1:
        raise ValueError(f"tune candidates must be >= 1, got {candidates}")
    gen = torch.Generator().manual_seed(seed)
    T = len(data.tasks)
    trials = [(1.0,) * T] + [tuple(float(v) for v in torch.exp(torch.empty(T).uniform_(math.log(0.1), math.log(10),
                                                                                        generator=gen)))
                             for _ in range(candidates - 1)]
    records = []
    for weights in trials:
        result = run_strategy(data, replace(system_config, seed=seed), replace(train_config, seed=seed),
                              weighting=make_weighting("fixed", weights=weights))
        val = result.history.final_metrics()
        records.append({"weights": weights, "val_mean": sum(val.values()) / len(val)})
    best = max(records, key=lambda r: r["val_mean"])
    return best["weights"], records


def run_arena(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
              strategies: Sequence[str], weightings: Sequence[str], seeds: Sequence[int],
              options: dict[str, dict] | None = None, tune_candidates: int = 0) -> list[dict]:
    """One row per run: strategy, weighting, seed, test metric per task, Delta m %, final lambdas, seconds.

    The baseline (independent modules, equal weights) is trained for every seed
    first; its rows have strategy ``independent``. ``tune_candidates`` > 0 adds a
    ``fixed_tuned`` weighting per strategy (see the module docstring).
    """
    unknown = [w for w in weightings if w not in WEIGHTINGS]
    if unknown:
        raise ValueError(f"unknown weightings {unknown}; choose from {list(WEIGHTINGS)}")
    if BASELINE in strategies:
        raise ValueError(f"{BASELINE!r} is the baseline every row is compared with; leave it out of the strategies")
    if not seeds:
        raise ValueError("give at least one seed")
    options = dict(options or {})
    for name in weightings:                              # bad options fail before any training
        weighting_for(name, train_config, options.get(name))

    def one(strategy: str, name: str, seed: int, weighting) -> dict:
        result = run_strategy(data, replace(system_config, strategy=strategy, seed=seed),
                              replace(train_config, seed=seed), weighting=weighting)
        return {"strategy": strategy, "weighting": name, "seed": seed, **result.test_metric,
                **{f"lambda_{t}": v for t, v in result.history.task_weights[-1].items()},
                "seconds": result.train_seconds}

    rows = [one(BASELINE, "equal", s, make_weighting("equal")) for s in seeds]
    tuned: dict[str, tuple[float, ...]] = {}
    for strategy in strategies:
        if tune_candidates:
            tuned[strategy], _ = tune_fixed_weights(data, replace(system_config, strategy=strategy), train_config,
                                                    tune_candidates, seed=seeds[0])
        for seed in seeds:
            for name in weightings:
                rows.append(one(strategy, name, seed, weighting_for(name, train_config, options.get(name))))
            if tune_candidates:
                row = one(strategy, TUNED, seed, make_weighting("fixed", weights=tuned[strategy]))
                row["tuned_weights"] = list(tuned[strategy])
                rows.append(row)
    baseline = {t: statistics.fmean(r[t] for r in rows if r["strategy"] == BASELINE) for t in data.task_names}
    for row in rows:
        row["delta_m"] = delta_m({t: row[t] for t in data.task_names}, baseline)
    return rows


def summarize_arena(rows: list[dict], task_names: Sequence[str], digits: int = 3) -> list[dict]:
    """Per (strategy, weighting), in run order: Delta m % and each task's metric as "mean ± sd" over
    seeds, the mean rank, the mean final lambdas and the mean training seconds."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], row["weighting"]), []).append(row)

    def cell(values: list[float], fmt: str) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.fmean(values):{fmt}} ± {sd:{fmt}}"

    means = {key: {t: statistics.fmean(g[t] for g in group) for t in task_names} for key, group in groups.items()}
    ranks = mean_ranks(means)
    out = []
    for key, group in groups.items():
        row = {"strategy": key[0], "weighting": key[1], "seeds": len(group),
               "delta_m %": cell([g["delta_m"] for g in group], ".2f"), "mean rank": round(ranks[key], 2)}
        for t in task_names:
            row[t] = cell([g[t] for g in group], f".{digits}f")
        row["final lambdas"] = "/".join(f"{statistics.fmean(g[f'lambda_{t}'] for g in group):.2f}"
                                        for t in task_names)
        row["train_s"] = round(statistics.fmean(g["seconds"] for g in group), 2)
        out.append(row)
    return out
