"""Loss-weighting benchmark: every weighting x strategy over several seeds, test metric mean ± sd.

Each (strategy, weighting, seed) trains a fresh system with the same
architecture and budget (``lab.compare.compare_weightings``); the seed changes
the initial weights and the batch order (the data split stays fixed, so the
spread is training noise, not split noise). Rows: per-task test metric, their
mean, and the mean final lambda per task (what the weighting settled on).
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Sequence

from ..compare import compare_weightings
from ..coupling.system import SystemConfig
from ..data.base import MultiTaskData
from ..tables import format_table
from ..train import TrainConfig


def run_weighting_bench(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                        strategies: Sequence[str], weightings: Sequence[str], seeds: Sequence[int],
                        options: dict[str, dict] | None = None) -> list[dict]:
    """One row per (strategy, weighting, seed): test metric per task, ``mean``, final lambdas, seconds."""
    rows = []
    for strategy in strategies:
        for seed in seeds:
            results = compare_weightings(data, replace(system_config, strategy=strategy, seed=seed),
                                         replace(train_config, seed=seed), list(weightings), options)
            for r in results:
                rows.append({"strategy": strategy, "weighting": r.weighting, "seed": seed, **r.test_metric,
                             "mean": r.mean_metric,
                             **{f"lambda_{t}": v for t, v in r.history.task_weights[-1].items()},
                             "seconds": r.train_seconds})
    return rows


def summarize_weightings(rows: list[dict], task_names: Sequence[str], digits: int = 3) -> list[dict]:
    """Per (strategy, weighting): "mean ± sd" of each task's metric and of their mean; mean final lambdas."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], row["weighting"]), []).append(row)

    def cell(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.fmean(values):.{digits}f} ± {sd:.{digits}f}"

    out = []
    for (strategy, weighting), group in groups.items():
        row = {"strategy": strategy, "weighting": weighting, "seeds": len(group)}
        for key in list(task_names) + ["mean"]:
            row[key] = cell([g[key] for g in group])
        row["final lambdas"] = "/".join(f"{statistics.fmean(g[f'lambda_{t}'] for g in group):.2f}" for t in task_names)
        row["train_s"] = statistics.fmean(g["seconds"] for g in group)
        out.append(row)
    return out


def format_weighting_summary(rows: list[dict], task_names: Sequence[str]) -> str:
    return format_table(summarize_weightings(rows, task_names))
