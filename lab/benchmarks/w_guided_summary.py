"""Summaries of the W-guided benchmark (:mod:`lab.benchmarks.w_guided`): one row per (setting, technique,
method) over seeds, the verdicts the issue asks for, and text tables.

Random baselines are summarised per seed as the **median over their draws**, then averaged over seeds
like every other method. Accuracy is the mean test metric over tasks, in %; ``delta`` is the mean of
(method - full system) in points; ``KB`` the packed file; ``kFLOPs`` dense per example.
"""
from __future__ import annotations

import statistics
from typing import Sequence

from ..tables import format_table

ORDER = {"full": 0, "modules": 1, "edges": 2, "budgets": 3, "student": 4}
METHOD_ORDER = {"full": 0, "w": 1, "gradient": 2, "magnitude": 3, "random": 4, "uniform": 5, "student": 6}


def _per_seed(rows: Sequence[dict], key: str) -> dict[int, float]:
    """{seed: value}: the row's value, or the median over a random baseline's draws."""
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        if r.get(key) is not None:
            by_seed.setdefault(r["seed"], []).append(float(r[key]))
    return {seed: statistics.median(values) for seed, values in by_seed.items()}


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(rows: Sequence[dict]) -> list[dict]:
    """One dict per (setting, technique, method): seeds, acc mean/sd, delta vs full, per-task means, bytes,
    FLOPs, and for module choices ``found`` = (right choices, choices): over seeds, and for ``random`` over
    every draw of every seed; for edges ``edge_recall`` (share of the true edges kept)."""
    rows = [r for r in rows if r["technique"] in ORDER]
    full = {(r["setting"], r["seed"]): r for r in rows if r["technique"] == "full"}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["setting"], r["technique"], r["method"]), []).append(r)
    out = []
    for (setting, technique, method), group in groups.items():
        acc = _per_seed(group, "acc")
        delta = [acc[s] - full[(setting, s)]["acc"] for s in acc if (setting, s) in full]
        tasks = list(group[0]["metrics"])
        per_task = {t: statistics.fmean(_per_seed([{**r, "v": r["metrics"][t]} for r in group], "v").values())
                    for t in tasks}
        mean, sd = _mean_sd(list(acc.values()))
        row = {"setting": setting, "technique": technique, "method": method, "seeds": len(acc),
               "acc": mean, "acc_sd": sd, "delta": statistics.fmean(delta) if delta else 0.0,
               "per_task": per_task, "bytes": statistics.fmean(_per_seed(group, "bytes").values()),
               "flops": statistics.fmean(_per_seed(group, "flops").values())}
        found = [r["found"] for r in group if r.get("found") is not None and r.get("draw") is None]
        if method == "random":
            found = [r["found"] for r in group if r.get("found") is not None]
        row["found"] = (sum(found), len(found)) if found else None
        recall = _per_seed(group, "edge_recall")
        row["edge_recall"] = statistics.fmean(recall.values()) if recall else None
        out.append(row)
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    return sorted(out, key=lambda r: (settings.index(r["setting"]), ORDER[r["technique"]],
                                      METHOD_ORDER.get(r["method"], 9)))


def verdicts(summary: Sequence[dict]) -> list[str]:
    """Plain sentences: the issue's goals, met or not, per setting."""
    find = {(r["setting"], r["technique"], r["method"]): r for r in summary}
    lines = []
    for setting in dict.fromkeys(r["setting"] for r in summary):
        w_mod = find.get((setting, "modules", "w"))
        if w_mod and w_mod["found"]:
            k, n = w_mod["found"]
            what = {"redundant": "found the redundant module", "hub": "left the hub in place"}.get(setting)
            if what:
                lines.append(f"{setting}: W's module choice {what} in {k} of {n} seeds")
        w_edge, rnd = find.get((setting, "edges", "w")), find.get((setting, "edges", "random"))
        if w_edge and rnd:
            gap = 100 * (w_edge["acc"] - rnd["acc"])
            lines.append(f"{setting}: W-guided edges (keep half) {100 * w_edge['delta']:+.2f} points vs the full system "
                         f"({'within' if w_edge['delta'] >= -0.01 else 'NOT within'} 1 point), {gap:+.2f} vs the random "
                         f"median ({'>=' if gap >= 3 else 'NOT >='} 3 points)")
        for technique in ("modules", "budgets"):
            w, uni = find.get((setting, technique, "w")), find.get((setting, technique, "uniform"))
            if w and uni:
                gap = w["acc"] - uni["acc"]
                better = "better" if gap > 0.0005 else "worse" if gap < -0.0005 else "the same"
                lines.append(f"{setting}: {technique} by W {100 * (w['acc'] - uni['acc']):+.2f} points vs uniform at "
                             f"equal bytes ({better}; {w['bytes'] / 1000:.2f} vs {uni['bytes'] / 1000:.2f} KB)")
    return lines


def format_summary(summary: Sequence[dict], digits: int = 2) -> str:
    """The summary as a text table (accuracies in %, per task as a/b/c/d)."""
    table = []
    for s in summary:
        found = "" if s["found"] is None else f"{s['found'][0]}/{s['found'][1]}"
        table.append({"setting": s["setting"], "technique": s["technique"], "method": s["method"],
                      "seeds": s["seeds"], "acc_%": f"{100 * s['acc']:.{digits}f} ± {100 * s['acc_sd']:.{digits}f}",
                      "delta": f"{100 * s['delta']:+.{digits}f}",
                      "per_task_%": "/".join(f"{100 * v:.1f}" for v in s["per_task"].values()),
                      "KB": f"{s['bytes'] / 1000:.2f}", "kFLOPs": f"{s['flops'] / 1000:.1f}", "found": found,
                      "edge_recall": "" if s["edge_recall"] is None else f"{s['edge_recall']:.2f}"})
    return format_table(table)
