"""Local worker processes: ``n`` copies of ``python -m lab.tune`` on one study.

    workers = LocalWorkers("mlp_compression", storage_url, count=2, log_dir=runs/"tune"/"logs")
    workers.start(); workers.wait()          # or workers.stop(): SIGTERM, each ends its trial's step
                                             # and re-queues it; SIGKILL after ``grace`` seconds

The study must exist before the workers start (``open_study`` in the parent): two processes that
create the tables of an empty database at the same moment race (``lab.tune.storage``). Processes
inherit the environment (``PYTHONPATH``, ``LAB_RUNS``, ``LAB_FAST``); each uses one torch thread.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO


class LocalWorkers:
    """Worker processes of one study on this machine (see the module docstring). ``first`` numbers
    them (worker indices ``first .. first+count-1``, which shift their sampler seeds)."""

    def __init__(self, study: str, storage: str, count: int, *, trials: int | None = None,
                 heartbeat: int | None = None, grace: int | None = None, log_dir: str | Path | None = None,
                 first: int = 1):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"workers must be an integer >= 1, got {count!r}")
        self.study, self.storage, self.count, self.first = study, storage, count, first
        self.trials, self.heartbeat, self.grace = trials, heartbeat, grace
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.processes: list[subprocess.Popen] = []
        self._logs: list[IO] = []

    def command(self, worker: int) -> list[str]:
        cmd = [sys.executable, "-m", "lab.tune", "--study", self.study, "--storage", self.storage,
               "--worker", str(worker)]
        for flag, value in (("--trials", self.trials), ("--heartbeat", self.heartbeat), ("--grace", self.grace)):
            if value is not None:
                cmd += [flag, str(value)]
        return cmd

    def log_path(self, worker: int) -> Path | None:
        return None if self.log_dir is None else self.log_dir / f"{self.study}-worker{worker}.log"

    def start(self) -> "LocalWorkers":
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        for k in range(self.first, self.first + self.count):
            out = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_path(k), "a", encoding="utf-8")
                self._logs.append(out)
            self.processes.append(subprocess.Popen(self.command(k), env=env, stdout=out,
                                                   stderr=subprocess.STDOUT if out else None))
        return self

    def alive(self) -> int:
        return sum(p.poll() is None for p in self.processes)

    def wait(self, timeout: float | None = None) -> list[int | None]:
        """Wait for every process (up to ``timeout`` seconds in all); their return codes (None: still running)."""
        end = None if timeout is None else time.monotonic() + timeout
        for p in self.processes:
            try:
                p.wait(None if end is None else max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self._close_logs()
        return [p.poll() for p in self.processes]

    def stop(self, grace: float = 30.0) -> list[int | None]:
        """SIGTERM every running worker (each ends its trial at the next step and re-queues it), then
        SIGKILL what still runs after ``grace`` seconds."""
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = self.wait(grace)
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        return codes

    def tail(self, lines: int = 5) -> str:
        """The last lines of every worker's log (when logging to files)."""
        out = []
        for k in range(self.first, self.first + self.count):
            path = self.log_path(k)
            if path is not None and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                out.append(f"worker {k}:\n" + "\n".join(text))
        return "\n".join(out)

    def _close_logs(self) -> None:
        if all(p.poll() is not None for p in self.processes):
            for f in self._logs:
                f.close()
            self._logs = []
