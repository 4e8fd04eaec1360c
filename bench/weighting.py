"""Loss-weighting comparison: ``.venv/bin/python -m bench.weighting [--tiny] [options]``.

Trains each strategy with every loss weighting over several seeds on one
dataset (digits by default) and prints test metric mean ± sd per task. Logic:
``lab.benchmarks.weighting``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date

import torch

from lab.benchmarks.weighting import format_weighting_summary, run_weighting_bench
from lab.coupling import SystemConfig
from lab.data import DATASETS, load_data
from lab.train import TrainConfig
from lab.weighting import WEIGHTINGS


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.weighting", description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits", choices=list(DATASETS))
    p.add_argument("--limit", type=int, default=None, help="seeded subset of this many examples")
    p.add_argument("--strategies", type=_list(str), default=("shared", "cross_stitch"))
    p.add_argument("--weightings", type=_list(str), default=tuple(WEIGHTINGS))
    p.add_argument("--seeds", type=_list(int), default=(0, 1, 2))
    p.add_argument("--widths", type=_list(int), default=(64, 64))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tiny:
        args.limit, args.seeds, args.widths, args.epochs = 200, (0, 1), (8,), 1
        args.weightings = ("equal", "uncertainty", "pcgrad")
    try:
        data = load_data(args.data, **({"limit": args.limit} if args.limit else {}))
        system_config = SystemConfig(widths=args.widths)
        train_config = TrainConfig(epochs=args.epochs, lr=args.lr)
        t0 = time.perf_counter()
        rows = run_weighting_bench(data, system_config, train_config, args.strategies, args.weightings, args.seeds)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"weightings on {data.name} (train {len(data.train)}, test {len(data.test)}): widths {list(args.widths)}, "
          f"{args.epochs} epochs, lr {args.lr}, seeds {list(args.seeds)}; {len(rows)} runs in "
          f"{time.perf_counter() - t0:.0f} s on {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"{date.today()}; test metric mean ± sd over seeds, final lambdas in task order "
          f"{'/'.join(data.task_names)}")
    print(format_weighting_summary(rows, data.task_names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
