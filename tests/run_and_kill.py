"""Train with ``python -m lab couple ... --save`` and SIGKILL it at random moments (for test_kill_consistency).

    python tests/run_and_kill.py ROOT KILLS SEED [couple args...]

Imports the lab once, then for each kill forks a child that runs the CLI's ``main`` with
``LAB_RUNS=ROOT/<k>``; as soon as that run's first ``history.json`` exists the parent waits a random
0-0.3 s and kills the child with SIGKILL (no cleanup of any kind runs). Prints one JSON line:
``{"killed": n, "timeouts": m}``.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere a no-op."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def main() -> int:
    root, kills, seed, couple_args = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    os.environ.pop("LAB_FAST", None)               # LAB_FAST would cap training at 3 epochs
    from lab.cli import main as lab_main          # import once; every child is a fork

    rng = random.Random(seed)
    killed = timeouts = 0
    for k in range(kills):
        runs = root / str(k)
        pid = os.fork()
        if pid == 0:                               # the child: train until killed, never return into the loop
            code = 1
            try:
                signal.alarm(120)                  # a safety net: never outlive a broken parent for long
                _die_with_parent()
                import torch
                torch.set_num_threads(1)
                os.environ["LAB_RUNS"] = str(runs)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                code = lab_main(["couple", *couple_args, "--save"])
            finally:
                os._exit(code)
        assert pid > 0
        deadline, reaped = time.monotonic() + 30, False
        while not list(runs.glob("*/history.json")) and time.monotonic() < deadline:
            reaped = os.waitpid(pid, os.WNOHANG)[0] != 0
            if reaped:
                break
            time.sleep(0.005)
        started = bool(list(runs.glob("*/history.json")))
        if not reaped:
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        killed += started and not reaped
        timeouts += not started
    print(json.dumps({"killed": killed, "timeouts": timeouts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
