"""Weighting arena: ``.venv/bin/python -m bench.arena [--tiny] [options]``.

Every loss weighting / gradient aggregator x {shared, cross_stitch} over several
seeds, on the digits tasks (tasks that share features) and on conflicting
synthetic tasks (orthogonal directions through a bottleneck trunk, task 0's loss
100x the others'), scored by Delta m % against independent modules, mean rank and
the paired difference to equal weights; a tuned fixed weighting is the honest
baseline. Logic: ``lab.benchmarks.arena``; task sets: ``lab.benchmarks.arena_sets``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date

import torch

from lab.atomic import atomic_write_json
from lab.benchmarks.arena import run_arena, summarize_arena
from lab.benchmarks.arena_sets import ARENA_SETS, conflict_at_init, load_arena_set
from lab.coupling import SystemConfig
from lab.tables import format_table
from lab.train import TrainConfig
from lab.weighting import WEIGHTINGS


def _list(cast):
    def parse(text: str):
        try:
            return tuple(cast(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.arena", description=__doc__.splitlines()[0])
    p.add_argument("--arenas", type=_list(str), default=tuple(ARENA_SETS),
                   help=f"comma-separated from {list(ARENA_SETS)}")
    p.add_argument("--size", type=int, default=None, help="examples per task set (default: the set's own)")
    p.add_argument("--strategies", type=_list(str), default=("shared", "cross_stitch"))
    p.add_argument("--weightings", type=_list(str), default=tuple(w for w in WEIGHTINGS if w != "fixed"))
    p.add_argument("--seeds", type=_list(int), default=(0, 1, 2, 3, 4))
    p.add_argument("--widths", type=_list(int), default=None, help="trunk widths (default: the set's own)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the set's own)")
    p.add_argument("--tune", type=int, default=12, help="trials of the tuned fixed weighting (0 = none)")
    p.add_argument("--json", default=None, help="also write every run's row (lambdas per epoch included) here")
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tiny:
        args.size, args.seeds, args.widths, args.epochs, args.tune = 200, (0, 1), (8,), 1, 2
        args.weightings = ("equal", "mgda", "upgrad", "famo")
    unknown = [a for a in args.arenas if a not in ARENA_SETS]
    if unknown:
        print(f"error: unknown arenas {unknown}; choose from {list(ARENA_SETS)}", file=sys.stderr)
        return 2
    command = "python -m bench.arena " + " ".join(argv if argv is not None else sys.argv[1:])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{command.strip()}\n{date.today()}, {platform.machine()} {platform.processor() or ''}".rstrip()
          + f", {os.cpu_count()} cores, load {load:.1f} at start, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    everything = {}
    for name in args.arenas:
        arena = ARENA_SETS[name]
        widths, lr = args.widths or arena.widths, args.lr or arena.lr
        try:
            data = load_arena_set(name, args.size)
            t0 = time.perf_counter()
            rows = run_arena(data, SystemConfig(widths=widths), TrainConfig(epochs=args.epochs, lr=lr),
                             args.strategies, args.weightings, args.seeds, tune_candidates=args.tune)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"\n## {name}: {arena.description}\n{data.name} (train {len(data.train)}, test {len(data.test)}), "
              f"widths {list(widths)}, {args.epochs} epochs, lr {lr:g}, seeds {list(args.seeds)}; "
              f"{len(rows)} runs in {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f} at the end. "
              f"Delta m % against independent modules (equal weights); test metric mean ± sd over seeds; "
              f"lambdas in task order {'/'.join(data.task_names)}")
        conflict = []
        for strategy in args.strategies:
            C = conflict_at_init(data, SystemConfig(strategy=strategy, widths=widths, seed=args.seeds[0]))
            if C is not None:
                T = C.shape[0]
                conflict.append(f"{strategy} {float(C[~torch.eye(T, dtype=torch.bool)].mean()):+.2f} "
                                f"(min {float(C.min()):+.2f})")
        print("trunk-gradient cosine at init, heads fitted (mean over task pairs): " + "; ".join(conflict))
        tuned = {r["strategy"]: r["tuned_weights"] for r in rows if "tuned_weights" in r}
        if tuned:
            print("fixed_tuned weights (picked on validation): "
                  + "; ".join(f"{s} " + "/".join(f"{w:.2f}" for w in ws) for s, ws in tuned.items()))
        print(format_table(summarize_arena(rows, data.task_names)), flush=True)
        everything[name] = rows
    if args.json:
        atomic_write_json(args.json, {"command": command, "arenas": everything})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
