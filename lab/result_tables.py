"""Result tables as rows of dicts (one dict per row), shared by the CLI, notebooks and panels.

Print them with ``lab.tables.format_table`` or show them with ``lab.ui.html.html_table``:

* :func:`strategy_rows` - trained strategies side by side: test metric per task, mean, robust
  mean under attack (when measured), W* recovery (when known), parameters, seconds;
* :func:`robustness_rows` - clean vs robust test metric per strategy at one attack radius;
* :func:`transfer_rows` - one adaptation, per task: source/target metric before and after.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .history import History

if TYPE_CHECKING:
    from .compare import StrategyResult
    from .transfer import TransferResult


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def strategy_rows(results: Sequence["StrategyResult"], planned_epochs: int,
                  roles: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per result: ``run`` (its role, when ``roles`` gives one per result), ``strategy``,
    ``epochs`` ("done/planned"), the test metric of every task, ``mean``, ``robust`` (mean robust test
    metric, when ``history.extra["robust_metric"]`` holds one), ``W_auc`` (recovery of W*, when the data
    has one), ``params`` and ``train_s`` (seconds)."""
    if roles is not None and len(roles) != len(results):
        raise ValueError(f"got {len(roles)} roles for {len(results)} results")
    rows = []
    for k, r in enumerate(results):
        row: dict[str, Any] = {"run": roles[k]} if roles is not None else {}
        row.update(strategy=r.strategy, epochs=f"{r.history.num_epochs}/{planned_epochs}")
        row.update(r.test_metric)
        row["mean"] = r.mean_metric
        robust = r.history.extra.get("robust_metric")
        if robust is not None:
            row["robust"] = _mean(robust["metric"])
        if r.recovery is not None:
            row["W_auc"] = r.recovery["auc"]
        row.update(params=r.system.num_parameters(), train_s=r.train_seconds)
        rows.append(row)
    return rows


def robustness_rows(clean: dict[str, dict[str, float]], robust: dict[str, dict[str, float]],
                    histories: dict[str, History], planned_epochs: int) -> list[dict[str, Any]]:
    """One row per strategy of ``robust`` ({strategy: {task: metric under attack}}): ``epochs``
    ("done/planned", "(stopped)" when Stop ended it), ``clean`` and ``robust`` (means over tasks),
    ``drop`` (clean - robust) and the robust metric of every task."""
    rows = []
    for strategy, metrics in robust.items():
        h = histories[strategy]
        row: dict[str, Any] = {"strategy": strategy,
                               "epochs": f"{h.num_epochs}/{planned_epochs}" + (" (stopped)" if h.stopped else ""),
                               "clean": _mean(clean[strategy]), "robust": _mean(metrics)}
        row["drop"] = row["clean"] - row["robust"]
        row.update(metrics)
        rows.append(row)
    return rows


def transfer_rows(result: "TransferResult") -> list[dict[str, Any]]:
    """Per task of the target: ``source before``/``source after`` (the unshifted domain, when measured),
    ``target before``/``target after`` and ``target change``; a last row ``mean`` over the tasks."""
    rows = []
    for task in result.after["target"]:
        row: dict[str, Any] = {"task": task}
        if "source" in result.after:
            row.update({"source before": result.before["source"][task], "source after": result.after["source"][task]})
        tb, ta = result.before["target"][task], result.after["target"][task]
        row.update({"target before": tb, "target after": ta, "target change": ta - tb})
        rows.append(row)
    rows.append({"task": "mean", **{k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "task"}})
    return rows
