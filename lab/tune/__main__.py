"""``python -m lab.tune --study NAME [--storage URL] [--worker K]``: one worker process of a study.

Joins the study (its space and objectives come from the study's record), runs trials until the
study's budget is used (``lab.tune.worker.run_worker``) and prints one line per trial. SIGTERM or
SIGINT ends the running trial at its next step and queues it again. ``LocalWorkers`` starts these.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

import optuna

from .study import join_study
from .worker import describe_trial, run_worker


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.tune", description="one worker of a lab study")
    p.add_argument("--study", required=True)
    p.add_argument("--storage", default=None)
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--trials", type=int, default=None, help="the study's total (default: as recorded)")
    p.add_argument("--heartbeat", type=int, default=None)
    p.add_argument("--grace", type=int, default=None)
    args = p.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import torch

    torch.set_num_threads(1)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        study, config = join_study(args.study, args.storage, worker=args.worker, trials=args.trials,
                                   heartbeat=args.heartbeat, grace=args.grace)
        run_worker(study, config, worker=args.worker, stop=stop,
                   on_trial=lambda t: print(f"[worker {args.worker}] {describe_trial(t, config.objectives)}",
                                            flush=True))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
