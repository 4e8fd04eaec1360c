"""Weighting arena: ``.venv/bin/python -m bench.arena [--tiny] [options]``.

Every loss weighting / gradient aggregator x {shared, cross_stitch} over several
seeds, on the digits tasks and on conflicting synthetic tasks (task 0's loss
100x the others'), scored by Delta m % against independent modules and by mean
rank; a tuned fixed weighting is the honest baseline. Logic:
``lab.benchmarks.arena``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date

import torch

from lab.benchmarks.arena import conflicting_synthetic, run_arena, summarize_arena
from lab.coupling import SystemConfig
from lab.data import load_data
from lab.tables import format_table
from lab.train import TrainConfig
from lab.weighting import WEIGHTINGS

ARENAS = ("digits", "conflict")


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.arena", description=__doc__.splitlines()[0])
    p.add_argument("--arenas", type=_list(str), default=ARENAS, help=f"comma-separated from {list(ARENAS)}")
    p.add_argument("--limit", type=int, default=None, help="digits: seeded subset of this many examples")
    p.add_argument("--samples", type=int, default=3000, help="conflict: number of synthetic examples")
    p.add_argument("--target-scale", type=float, default=10.0, help="conflict: task 0's target factor")
    p.add_argument("--strategies", type=_list(str), default=("shared", "cross_stitch"))
    p.add_argument("--weightings", type=_list(str), default=tuple(w for w in WEIGHTINGS if w != "fixed"))
    p.add_argument("--seeds", type=_list(int), default=(0, 1, 2, 3, 4))
    p.add_argument("--widths", type=_list(int), default=(64, 64))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--tune", type=int, default=8, help="candidates of the tuned fixed weighting (0 = none)")
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return p


def load_arena(name: str, args) -> object:
    if name == "digits":
        return load_data("digits", **({"limit": args.limit} if args.limit else {}))
    return conflicting_synthetic(num_samples=args.samples, target_scale=args.target_scale)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tiny:
        args.limit, args.samples, args.seeds, args.widths, args.epochs, args.tune = 200, 200, (0, 1), (8,), 1, 2
        args.weightings = ("equal", "mgda", "upgrad", "famo")
    unknown = [a for a in args.arenas if a not in ARENAS]
    if unknown:
        print(f"error: unknown arenas {unknown}; choose from {list(ARENAS)}", file=sys.stderr)
        return 2
    command = "python -m bench.arena " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{command.strip()}\n{date.today()}, {platform.machine()} {platform.processor() or ''}".rstrip()
          + f", {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    for name in args.arenas:
        try:
            data = load_arena(name, args)
            t0 = time.perf_counter()
            rows = run_arena(data, SystemConfig(widths=args.widths), TrainConfig(epochs=args.epochs, lr=args.lr),
                             args.strategies, args.weightings, args.seeds, tune_candidates=args.tune)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"\n## {name}: {data.name} (train {len(data.train)}, test {len(data.test)}), widths "
              f"{list(args.widths)}, {args.epochs} epochs, lr {args.lr}, seeds {list(args.seeds)}; "
              f"{len(rows)} runs in {time.perf_counter() - t0:.0f} s. Delta m % against independent modules "
              f"(equal weights); test metric mean ± sd over seeds; lambdas in task order "
              f"{'/'.join(data.task_names)}")
        tuned = {r["strategy"]: r["tuned_weights"] for r in rows if "tuned_weights" in r}
        if tuned:
            print("fixed_tuned weights (picked on validation): "
                  + "; ".join(f"{s} " + "/".join(f"{w:.2f}" for w in ws) for s, ws in tuned.items()))
        print(format_table(summarize_arena(rows, data.task_names)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
