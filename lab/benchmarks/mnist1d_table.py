"""The MNIST-1D paper's table (Greydanus 2020, https://arxiv.org/abs/2011.14439, Table 1) with the lab's modules.

Paper test accuracies: logistic regression 32 %, MLP 68 %, CNN 94 %, GRU 91 % (human 96 %), trained
on 4000 examples and tested on 1000. Here the same generator's 5000 examples (``lab.data.load_mnist1d``,
seed 42) give 3200 train, 800 validation and the paper's 1000 test examples: every row picks its
epoch on validation (``TrainConfig.restore_best``) and reports test accuracy. ``ROWS`` holds each
module's settings, chosen on validation accuracy (never on test).

* ``run_table``: one row per (module, seed): a single network (``shared`` with one module) on the
  digit task.
* ``run_coupled``: the same modules on three tasks derived from MNIST-1D (digit, parity, >= 5), one
  module per task, ``independent`` against ``cross_stitch`` (same modules, budget and seed).
* ``summarize``: mean ± sd over seeds per (module, strategy), the paper's number beside it.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Sequence

from ..compare import run_strategy
from ..coupling.system import SystemConfig
from ..data.base import MultiTaskData
from ..tables import format_table
from ..train import TrainConfig

PAPER: dict[str, float] = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}


@dataclass(frozen=True)
class Row:
    """One line of the table: a module (``system``: block, widths, dropout, ...) and its training."""

    name: str
    system: SystemConfig
    train: TrainConfig


ROWS: dict[str, Row] = {    # each the best validation accuracy of the settings tried (docs/BENCHMARKS.md lists them)
    "logistic": Row("logistic", SystemConfig(block="logistic", widths=(10,)),
                    TrainConfig(epochs=60, lr=1e-2, weight_decay=1e-3, batch_size=256, lr_schedule="cosine",
                                restore_best=True)),
    "mlp": Row("mlp", SystemConfig(block="mlp", widths=(512, 512, 512), dropout=0.5),
               TrainConfig(epochs=100, lr=1e-3, weight_decay=1e-3, lr_schedule="cosine", restore_best=True)),
    "cnn": Row("cnn", SystemConfig(block="cnn", widths=(32, 32, 32), kernel_size=5, batch_norm=True),
               TrainConfig(epochs=30, lr=3e-3, lr_schedule="cosine", restore_best=True)),
    "gru": Row("gru", SystemConfig(block="gru", widths=(32, 32)),
               TrainConfig(epochs=40, lr=3e-3, lr_schedule="cosine", restore_best=True)),
}
COUPLED_EPOCHS = 15     # the coupled comparison trains 3 modules per run: a shorter budget, the same for both sides


def coupled_rows(rows: dict[str, Row], epochs: int = COUPLED_EPOCHS) -> dict[str, Row]:
    """``rows`` with at most ``epochs`` epochs (the cosine schedule then spans the shorter run)."""
    return {name: Row(name, r.system, replace(r.train, epochs=min(epochs, r.train.epochs))) for name, r in rows.items()}


def tiny_rows(epochs: int = 2) -> dict[str, Row]:
    """``ROWS`` shrunk to seconds (narrow modules, ``epochs`` epochs): the test suite's setting."""
    return {name: Row(name, replace(r.system, widths=tuple(min(w, 8) for w in r.system.widths)),
                      replace(r.train, epochs=epochs))
            for name, r in ROWS.items()}


def _run(data: MultiTaskData, row: Row, strategy: str, seed: int) -> dict:
    num_modules = 1 if strategy == "shared" else None
    cpu0 = time.process_time()
    result = run_strategy(data, replace(row.system, strategy=strategy, num_modules=num_modules, seed=seed),
                          replace(row.train, seed=seed))
    cpu = time.process_time() - cpu0          # this process's CPU time: the budget, whatever the machine's load
    h = result.history
    best = h.epochs.index(h.restored_epoch) if h.restored_epoch in h.epochs else -1
    val = {t: h.val_metric[t][best] for t in h.task_names}
    return {"module": row.name, "strategy": strategy, "seed": seed,
            **{f"test_{t}": v for t, v in result.test_metric.items()},
            "test_mean": result.mean_metric, "val_mean": sum(val.values()) / len(val), "epoch": h.epochs[best],
            "params": result.system.num_parameters(), "seconds": result.train_seconds, "cpu_s": cpu}


def run_table(data: MultiTaskData, rows: Sequence[Row], seeds: Sequence[int]) -> list[dict]:
    """One record per (row, seed): test accuracy per task, validation mean at the chosen epoch, seconds.
    ``data``: MNIST-1D with the digit task only (a single network per row)."""
    return [_run(data, row, "shared", seed) for row in rows for seed in seeds]


def run_coupled(data: MultiTaskData, rows: Sequence[Row], seeds: Sequence[int],
                strategies: Sequence[str] = ("independent", "cross_stitch")) -> list[dict]:
    """One record per (row, strategy, seed) on multi-task MNIST-1D (one module per task)."""
    return [_run(data, row, strategy, seed) for row in rows for strategy in strategies for seed in seeds]


def _cell(values: list[float], digits: int = 1) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.{digits}f} ± {100 * sd:.{digits}f}"


def summarize(records: list[dict], task_names: Sequence[str]) -> list[dict]:
    """Per (module, strategy): test accuracy per task and their mean as "mean ± sd" in %, the paper's
    digit accuracy, validation mean, chosen epoch, parameters, wall seconds and CPU seconds per run."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["module"], r["strategy"]), []).append(r)
    out = []
    for (module, strategy), group in groups.items():
        row = {"module": module, "strategy": strategy, "seeds": len(group)}
        for t in task_names:
            row[f"test {t} %"] = _cell([g[f"test_{t}"] for g in group])
        if len(task_names) > 1:
            row["test mean %"] = _cell([g["test_mean"] for g in group])
        if "digit" in task_names:
            row["paper digit %"] = f"{100 * PAPER[module]:.0f}" if module in PAPER else "-"
        row["val mean %"] = _cell([g["val_mean"] for g in group])
        row["epoch"] = "/".join(str(g["epoch"]) for g in group)
        row["params"] = group[0]["params"]
        row["s/run"] = f"{statistics.fmean(g['seconds'] for g in group):.0f}"
        row["cpu s/run"] = f"{statistics.fmean(g['cpu_s'] for g in group):.0f}"
        out.append(row)
    return out


def format_summary(records: list[dict], task_names: Sequence[str]) -> str:
    return format_table(summarize(records, task_names))
