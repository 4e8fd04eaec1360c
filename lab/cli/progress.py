"""``RunProgress``: one line per training run on stderr, so a long ``--compare`` is never silent."""
from __future__ import annotations

import sys
import time
from typing import TextIO

from ..history import History
from ..train import Callback


class RunProgress(Callback):
    """Prints ``[k/total] training <strategy> (<epochs> epochs) ...`` when run k starts and
    ``[k/total] <strategy> done: <n>/<epochs> epochs in <s> s (total <s> s)`` when it ends.

    ``total``: the runs planned (strategies x weightings); one instance follows them all, in order.
    Lines go to ``stream`` (default stderr, so stdout keeps only the tables) and are flushed at once.
    """

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.stream = total, stream
        self.started = 0
        self._t0 = self._run_t0 = time.perf_counter()

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def _label(self, system, history: History) -> str:
        weighting = history.config.get("weighting")
        return system.strategy + (f" ({weighting} weighting)" if weighting and weighting != "fixed" else "")

    def on_train_start(self, system, history: History) -> None:
        self.started += 1
        self._run_t0 = time.perf_counter()
        epochs = history.config.get("train", {}).get("epochs", "?")
        self._print(f"[{self.started}/{self.total}] training {self._label(system, history)} ({epochs} epochs) ...")

    def on_train_end(self, system, history: History) -> None:
        now = time.perf_counter()
        epochs = history.config.get("train", {}).get("epochs", "?")
        how = "stopped" if history.stopped else "done"
        self._print(f"[{self.started}/{self.total}] {self._label(system, history)} {how}: {history.num_epochs}/"
                    f"{epochs} epochs in {now - self._run_t0:.1f} s (total {now - self._t0:.1f} s)")
