"""W-recovery benchmark: ``.venv/bin/python -m bench.w_recovery [--tiny] [options]``.

Prints one table (mean ± sd over seeds per structure and strategy); the logic is
in ``lab.benchmarks.w_recovery``. ``--tiny`` is the seconds-long setting the
test suite runs.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date

import torch

from lab.benchmarks.w_recovery import RecoveryBenchConfig, format_summary, run_w_recovery, summarize

TINY = dict(structures=("chain", "random"), seeds=(0, 1), strategies=("independent", "cross_stitch"),
            num_modules=3, num_samples=200, widths=(8,), epochs=1)


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    d = RecoveryBenchConfig()
    p = argparse.ArgumentParser(prog="python -m bench.w_recovery", description=__doc__.splitlines()[0])
    p.add_argument("--structures", type=_list(str), default=d.structures)
    p.add_argument("--seeds", type=_list(int), default=d.seeds)
    p.add_argument("--strategies", type=_list(str), default=d.strategies)
    p.add_argument("--num-modules", type=int, default=d.num_modules)
    p.add_argument("--samples", type=int, default=d.num_samples)
    p.add_argument("--density", type=float, default=d.density, help="edge probability of the random structure")
    p.add_argument("--widths", type=_list(int), default=d.widths)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--json", default=None, help="also write every run's row and the summary to this file")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    options = dict(structures=args.structures, seeds=args.seeds, strategies=args.strategies,
                   num_modules=args.num_modules, num_samples=args.samples, density=args.density,
                   widths=args.widths, epochs=args.epochs, lr=args.lr)
    if args.tiny:
        options.update(TINY)
    try:
        config = RecoveryBenchConfig(**options)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = run_w_recovery(config)
    summary = summarize(rows)
    print(f"W recovery: {config.num_modules} modules, {config.num_samples} samples, widths {list(config.widths)}, "
          f"{config.epochs} epochs, lr {config.lr}, seeds {list(config.seeds)}; "
          f"{len(rows)} runs in {time.perf_counter() - t0:.0f} s on {platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, {date.today()}")
    print(format_summary(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config.to_dict(), "runs": rows, "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
