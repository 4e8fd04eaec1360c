"""Trials per minute with 1 and 2 local worker processes, on SQLite, an Optuna journal file and PostgreSQL.

Every configuration runs a fresh study of ``--trials`` equal-cost trials (the per-layer MLP space
with every key fixed but the sparsities) with ``LocalWorkers``; throughput is counted from the
storage's own timestamps, first trial start to last trial end, so process start-up (imports, the
reference network's training) is left out. PostgreSQL runs on loopback (tests/postgres.py starts
a throwaway server) unless ``--postgres URL`` names one. On a shared 2-core machine compare the
ratios (2 workers / 1 worker, storage / SQLite), not the absolute numbers.

    .venv/bin/python -m bench.tune_throughput               # ~3 min on 2 busy cores
    .venv/bin/python -m bench.tune_throughput --quick       # SQLite only, tiny (the test suite runs this)
"""
from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from lab.tables import format_table
from lab.tune import LocalWorkers, TuneConfig, build_space, open_study

FIXED = {"clusters.0": "8", "clusters.1": "4", "clusters.2": "8", "bias_clusters": "8", "prune_steps": "2",
         "finetune_epochs": "3", "finetune_lr": "0.001", "kmeans_lr": "0.0003"}


def measure(storage: str, workers: int, trials: int, name: str, limit: int | None, log_dir: Path) -> dict:
    space = build_space("mlp_compression", FIXED, limit=limit, reference_epochs=10)
    config = TuneConfig(space, sampler="random", trials=trials, study=name, storage=storage)
    open_study(config)                         # tables and study first: workers then only join
    t0 = time.perf_counter()
    local = LocalWorkers(name, config.storage_url, workers, first=0, log_dir=log_dir).start()
    codes = local.wait(timeout=900)
    wall = time.perf_counter() - t0
    if codes != [0] * workers:
        raise RuntimeError(f"workers ended with {codes}:\n{local.tail()}")
    done = open_study(config).get_trials(states=(TrialState.COMPLETE,))
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    kind = "sqlite" if storage.endswith(".db") else "journal" if storage.endswith(".journal") else "postgresql"
    return {"storage": kind,
            "workers": workers, "trials": len(done), "span_s": span, "trials_per_min": 60 * len(done) / span,
            "wall_s": wall, "per_worker": {w: sum(t.user_attrs["worker"].endswith(f":w{w}") for t in done)
                                           for w in range(workers)}}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--postgres", default=None, help="a PostgreSQL URL (default: start one on loopback)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials, limit = (2, 300) if args.quick else (args.trials, None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        storages = [str(tmp / "t.db"), str(tmp / "t.journal")]
        if not args.quick:
            if args.postgres:
                storages.append(args.postgres)
            else:
                from tests.postgres import postgres_server

                storages.append(stack.enter_context(postgres_server()))
        else:
            storages = storages[:1]
        for storage in storages:
            for workers in ((1,) if args.quick else (1, 2)):
                rows.append(measure(storage, workers, trials, f"tp-{workers}-{len(rows)}", limit, tmp / "logs"))
                print(f"  {rows[-1]['storage']} x{workers}: {rows[-1]['trials_per_min']:.1f} trials/min", flush=True)
    base = {r["workers"]: r["trials_per_min"] for r in rows if r["storage"] == "sqlite"}
    for r in rows:
        r["vs_1_worker"] = r["trials_per_min"] / next(x["trials_per_min"] for x in rows
                                                      if x["storage"] == r["storage"] and x["workers"] == 1)
        r["vs_sqlite"] = r["trials_per_min"] / base[r["workers"]]
    print(f"Trials per minute ({trials} equal-cost trials per run; load average {os.getloadavg()[0]:.1f} at the end):")
    print(format_table([{k: v for k, v in r.items() if k != "per_worker"} | {"per_worker": str(r["per_worker"])}
                        for r in rows], digits=2))
    return {"rows": rows}


if __name__ == "__main__":
    main()
