"""W-guided compression vs honest baselines: ``.venv/bin/python -m bench.w_guided [--tiny] [options]``.

Prints one table (mean ± sd over seeds per setting, technique and method; random baselines as the
median of their draws) and the verdicts; the logic is in ``lab.benchmarks.w_guided``. ``--tiny`` is
the seconds-long setting the test suite runs.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date

import torch

from lab.benchmarks.w_guided import WGuidedBenchConfig, run_w_guided
from lab.benchmarks.w_guided_summary import format_summary, summarize, verdicts

TINY = dict(structures=("redundant",), seeds=(0, 1), digits_seeds=(0,), draws=2, num_samples=300, widths=(8, 8),
            epochs=2, digits_widths=(8, 8), digits_epochs=1, digits_limit=200, finetune_epochs=1, student_hidden=(8,),
            student_epochs=1)


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    d = WGuidedBenchConfig()
    p = argparse.ArgumentParser(prog="python -m bench.w_guided", description=__doc__.splitlines()[0])
    p.add_argument("--structures", type=_list(str), default=d.structures, help="known structures (redundant,hub,chain)")
    p.add_argument("--seeds", type=_list(int), default=d.seeds, help="seeds of the synthetic settings")
    p.add_argument("--digits-seeds", type=_list(int), default=d.digits_seeds, help="seeds on the digits ('' for none)")
    p.add_argument("--draws", type=int, default=d.draws, help="random draws per seed")
    p.add_argument("--samples", type=int, default=d.num_samples)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--json", default=None, help="also write every row, the summary and the verdicts to this file")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny models)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    options = dict(structures=args.structures, seeds=args.seeds, digits_seeds=args.digits_seeds, draws=args.draws,
                   num_samples=args.samples, epochs=args.epochs, finetune_epochs=args.finetune_epochs)
    if args.tiny:
        options.update(TINY)
    try:
        config = WGuidedBenchConfig(**options)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = run_w_guided(config)
    summary = summarize(rows)
    lines = verdicts(summary)
    print(f"W-guided compression: structures {list(config.structures)} x seeds {list(config.seeds)}, digits seeds "
          f"{list(config.digits_seeds)}, {config.draws} random draws, fine-tuning {config.finetune_epochs} epochs; "
          f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s on {platform.machine()}, "
          f"{torch.get_num_threads()} torch thread(s), {date.today()}")
    print(format_summary(summary))
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config.to_dict(), "rows": rows, "summary": summary, "verdicts": lines}, f, indent=1,
                      default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
