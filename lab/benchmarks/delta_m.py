"""Delta m % and mean rank: the multi-task field's two summary numbers (pure functions).

* **Delta m %** (Maninis et al. 2019; the metric of LibMTL, Nash-MTL, FAMO): with
  M_i the metric of task i and B_i that of the baseline (independent modules),

      Delta m = 100 / T * sum_i (M_i - B_i) / |B_i|

  (every lab metric is higher-is-better, so no sign flips; > 0 = better than
  training each task alone).
* **Mean rank**: per task, rank every row by its metric (1 = best, ties share the
  mean rank); then average over tasks.
* **Paired difference**: two methods trained with the same seeds (same initial
  weights and batch order) compared seed by seed, with a paired t-test.
"""
from __future__ import annotations

import math
import statistics
from typing import Sequence



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


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(mean, sample sd, two-sided paired t-test p) of a_k - b_k over seeds k; p is NaN below 2 pairs
    or when every difference is the same (sd 0)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_difference needs two equally long non-empty lists, got {len(a)} and {len(b)}")
    diff = [x - y for x, y in zip(a, b)]
    mean = statistics.fmean(diff)
    if len(diff) < 2:
        return mean, 0.0, math.nan
    sd = statistics.stdev(diff)
    from scipy import stats   # loaded when a test is run: `import lab.ui` stays light (tests/test_import_cost.py)
    p = float(stats.ttest_rel(a, b).pvalue) if sd > 0 else math.nan
    return mean, sd, p
