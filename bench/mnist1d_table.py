"""MNIST-1D, the paper's table with the lab's modules: ``.venv/bin/python -m bench.mnist1d_table [--tiny] [options]``.

Rows (logistic, MLP, CNN, GRU; settings in ``lab.benchmarks.mnist1d_table.ROWS``, chosen on
validation) are trained on the digit task over several seeds, each picking its epoch on validation
and reporting test accuracy mean ± sd beside the paper's number. ``--coupled`` then trains the same
modules on three MNIST-1D tasks (digit, parity, >= 5), independent against cross-stitch. ``--tiny``
is the seconds-long setting the test suite runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

import torch

from lab.benchmarks.mnist1d_table import (COUPLED_EPOCHS, ROWS, coupled_rows, format_summary, run_coupled, run_table,
                                         tiny_rows)
from lab.data import load_mnist1d
from lab.validation import check_seed


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.mnist1d_table", description=__doc__.splitlines()[0])
    p.add_argument("--modules", type=_list(str), default=tuple(ROWS), help="rows to train (default: all)")
    p.add_argument("--seeds", type=_list(int), default=(0, 1, 2), help="training seeds (default: 0,1,2)")
    p.add_argument("--coupled", action="store_true", help="also train the modules coupled on three MNIST-1D tasks")
    p.add_argument("--coupled-modules", type=_list(str), default=None,
                   help="rows for --coupled (default: every row of --modules)")
    p.add_argument("--coupled-epochs", type=int, default=COUPLED_EPOCHS,
                   help=f"epochs of the coupled runs, at most each row's (default: {COUPLED_EPOCHS})")
    p.add_argument("--skip-table", action="store_true", help="train only the coupled comparison (with --coupled)")
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--json", default=None, help="also write every run's record to this file")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        seeds = [check_seed(s, "--seeds") for s in args.seeds]
        if not seeds:
            raise ValueError("--seeds must name at least one seed")
        rows = tiny_rows() if args.tiny else dict(ROWS)
        names = list(args.modules)
        coupled_names = list(args.coupled_modules) if args.coupled_modules is not None else names
        unknown = [n for n in names + coupled_names if n not in rows]
        if unknown or not names:
            raise ValueError(f"unknown or no modules {unknown}; choose from {list(rows)}")
        if args.coupled_epochs < 1:
            raise ValueError(f"--coupled-epochs must be >= 1, got {args.coupled_epochs}")
        if args.skip_table and not args.coupled:
            raise ValueError("--skip-table leaves nothing to train without --coupled")
        samples = 600 if args.tiny else 5000
        digit = load_mnist1d(tasks=("digit",), num_samples=samples)
        multi = load_mnist1d(num_samples=samples) if args.coupled else None
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    records = [] if args.skip_table else run_table(digit, [rows[n] for n in names], seeds)
    if records:
        print(f"MNIST-1D (train {len(digit.train)}, val {len(digit.val)}, test {len(digit.test)}), seeds {seeds}: "
          f"{len(records)} runs in {time.perf_counter() - t0:.0f} s on {platform.machine()} "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), {torch.get_num_threads()} torch thread(s), "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; test accuracy at the best validation epoch")
        print(format_summary(records, ("digit",)), flush=True)
    coupled = []
    if multi is not None:
        t1 = time.perf_counter()
        short = coupled_rows(rows, args.coupled_epochs)
        coupled = run_coupled(multi, [short[n] for n in coupled_names], seeds)
        print(f"\ncoupled on {'/'.join(multi.task_names)} (one module per task, at most {args.coupled_epochs} epochs), "
              f"seeds {seeds}: {len(coupled)} runs in {time.perf_counter() - t1:.0f} s on {platform.machine()} "
              f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), {torch.get_num_threads()} torch thread(s), "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
        print(format_summary(coupled, multi.task_names))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"table": records, "coupled": coupled}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
