"""The weighting arena: every loss weighting x sharing strategy against independent modules.

Over ``seeds`` (the seed changes the initial weights and the batch order; the data
split stays fixed), every (strategy, weighting) is trained and tested; rows are
scored by **Delta m %** against the baseline — independent modules with equal
weights, its test metrics averaged over the same seeds — and summarised as mean ±
sd over seeds, **mean rank** over tasks, and the **paired difference** of Delta m
to the same strategy with equal weights (same seeds; paired t-test p), which says
whether a method differs from equal weights by more than seed noise
(``lab.benchmarks.delta_m``).

``fixed_tuned`` is the honest baseline the literature asks for: fixed task weights
tuned on the *validation* split (``lab.benchmarks.arena_tune``: all-ones first, then
seeded TPE; scored by validation Delta m against the baseline's validation metrics;
trained with the first seed), then trained and tested like every other weighting.

Each row also records ``task_weights``, the lambda per task of every epoch
(``History.task_weights``), and ``val``, the final validation metric per task.
How much a task set's gradients conflict is measured apart, at initialisation
(``lab.benchmarks.arena_sets.conflict_at_init``).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import replace
from typing import Sequence

from ..compare import run_strategy, weighting_for
from ..coupling.system import SystemConfig
from ..data.base import MultiTaskData, Split
from ..train import TrainConfig
from ..weighting import WEIGHTINGS, make_weighting
from .arena_tune import tune_fixed_weights
from .delta_m import delta_m, mean_ranks, paired_difference

BASELINE = "independent"
TUNED = "fixed_tuned"
REFERENCE = "equal"          # the weighting every other one is paired with


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


def run_arena(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
              strategies: Sequence[str], weightings: Sequence[str], seeds: Sequence[int],
              options: dict[str, dict] | None = None, tune_candidates: int = 0,
              on_row=None) -> list[dict]:
    """One row per run: strategy, weighting, seed, test metric per task, Delta m %, final lambdas,
    ``task_weights`` (lambdas per epoch), ``val`` (validation metric per task), seconds.

    The baseline (independent modules, equal weights) is trained for every seed
    first; its rows have strategy ``independent``. ``tune_candidates`` > 0 adds a
    ``fixed_tuned`` weighting per strategy (see the module docstring). ``on_row(row)``
    is called after every finished run (progress).
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
        row = {"strategy": strategy, "weighting": name, "seed": seed, **result.test_metric,
               **{f"lambda_{t}": v for t, v in result.history.task_weights[-1].items()},
               "task_weights": [dict(w) for w in result.history.task_weights],
               "val": result.history.final_metrics(),
               "seconds": result.train_seconds}
        if on_row is not None:
            on_row(row)
        return row

    rows = [one(BASELINE, "equal", s, make_weighting("equal")) for s in seeds]
    baseline_val = {t: statistics.fmean(r["val"][t] for r in rows) for t in data.task_names}
    for strategy in strategies:
        tuned = None
        if tune_candidates:
            tuned, _ = tune_fixed_weights(data, replace(system_config, strategy=strategy), train_config,
                                          tune_candidates, seed=seeds[0], baseline_val=baseline_val)
        for seed in seeds:
            for name in weightings:
                rows.append(one(strategy, name, seed, weighting_for(name, train_config, options.get(name))))
            if tuned is not None:
                row = one(strategy, TUNED, seed, make_weighting("fixed", weights=tuned))
                row["tuned_weights"] = list(tuned)
                rows.append(row)
    baseline = {t: statistics.fmean(r[t] for r in rows if r["strategy"] == BASELINE) for t in data.task_names}
    for row in rows:
        row["delta_m"] = delta_m({t: row[t] for t in data.task_names}, baseline)
    return rows


def _cell(values: list[float], fmt: str) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):{fmt}} ± {sd:{fmt}}"


def _versus_reference(group: list[dict], reference: list[dict] | None) -> str:
    """Paired Delta m difference to the reference rows of the same seeds: "+1.23 ± 0.45 (p 0.03)"."""
    if reference is None or group is reference:
        return ""
    by_seed = {r["seed"]: r["delta_m"] for r in reference}
    pairs = [(g["delta_m"], by_seed[g["seed"]]) for g in group if g["seed"] in by_seed]
    if not pairs:
        return ""
    mean, sd, p = paired_difference([a for a, _ in pairs], [b for _, b in pairs])
    return f"{mean:+.2f} ± {sd:.2f}" + (f" (p {p:.2g})" if math.isfinite(p) else "")


def summarize_arena(rows: list[dict], task_names: Sequence[str], digits: int = 3) -> list[dict]:
    """Per (strategy, weighting), in run order: Delta m % and each task's metric as "mean ± sd" over
    seeds, the mean rank, the paired Delta m difference to the strategy's equal weights, the mean
    final lambdas and the mean training seconds."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], row["weighting"]), []).append(row)
    means = {key: {t: statistics.fmean(g[t] for g in group) for t in task_names} for key, group in groups.items()}
    ranks = mean_ranks(means)
    out = []
    for key, group in groups.items():
        reference = groups.get((key[0], REFERENCE)) if key[0] != BASELINE else None
        row = {"strategy": key[0], "weighting": key[1], "seeds": len(group),
               "delta_m %": _cell([g["delta_m"] for g in group], ".2f"), "mean rank": round(ranks[key], 2),
               "vs equal (paired)": _versus_reference(group, reference)}
        for t in task_names:
            row[t] = _cell([g[t] for g in group], f".{digits}f")
        row["final lambdas"] = "/".join(f"{statistics.fmean(g[f'lambda_{t}'] for g in group):.2f}"
                                        for t in task_names)
        row["train_s"] = round(statistics.fmean(g["seconds"] for g in group), 2)
        out.append(row)
    return out


def method_summary(rows: list[dict], strategy: str, weighting: str, task_names: Sequence[str]) -> dict:
    """One method's runs in ``rows`` (a ``run_arena`` result): ``task_weights`` (lambda per task per epoch,
    mean over seeds), ``delta_m`` (per seed), ``delta_m_mean``, ``delta_m_sd`` (0 for one seed) and ``test``
    (mean test metric per task). ValueError when ``rows`` hold no such run."""
    group = [r for r in rows if (r["strategy"], r["weighting"]) == (strategy, weighting)]
    if not group:
        raise ValueError(f"no {strategy} / {weighting} run in these rows")
    epochs = min(len(r["task_weights"]) for r in group)
    curves = [{t: statistics.fmean(r["task_weights"][e][t] for r in group) for t in task_names} for e in range(epochs)]
    deltas = [r["delta_m"] for r in group]
    return {"task_weights": curves, "delta_m": deltas, "delta_m_mean": statistics.fmean(deltas),
            "delta_m_sd": statistics.stdev(deltas) if len(deltas) > 1 else 0.0,
            "test": {t: statistics.fmean(r[t] for r in group) for t in task_names}}


__all__ = ["BASELINE", "REFERENCE", "TUNED", "delta_m", "mean_ranks", "method_summary", "paired_difference", "run_arena",
           "scale_targets", "summarize_arena", "tune_fixed_weights"]
