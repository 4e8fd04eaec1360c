"""``LatestOnly``: run a refresh for a burst of slider steps so that the last step always wins and
nothing queues.

A slider dragged in the browser sends one message per step. Handled one by one on the kernel's
thread, each step would redraw in full while the next ones wait in the kernel's queue: the screen
lags further behind with every step. ``LatestOnly`` runs the refresh in a background thread instead:
a request that arrives while a refresh is running only marks it dirty (the kernel is free again at
once), and when the running refresh ends it runs once more - reading the widgets' values then, so
with the last step's. Requests made from Python (a test, a notebook cell setting ``.value``) run in
the calling thread and are done when the assignment returns, as before.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


def from_browser(change: dict) -> bool:
    """True when a widget's trait change came from the browser (a comm message), not from Python code.

    ipywidgets applies a browser update under the widget's property lock (``Widget.set_state``);
    an assignment in Python runs without it.
    """
    return bool(getattr(change.get("owner"), "_property_lock", None))


class LatestOnly:
    """Coalesces requests for ``refresh`` (a function without arguments that reads its inputs itself).

    ``request(background=True)``: run ``refresh`` in a worker thread, or - when one is running -
    once more after it ends, however many requests arrived meanwhile. ``request(background=False)``
    runs it now, in the calling thread. ``wait()`` blocks until no refresh is running or pending.
    Counters for tests: ``requests`` and ``runs``.
    """

    def __init__(self, refresh: Callable[[], None], name: str = "refresh"):
        self.refresh = refresh
        self.name = name
        self.requests = 0
        self.runs = 0
        self._lock = threading.Lock()
        self._running = False
        self._pending = False
        self._idle = threading.Event()
        self._idle.set()

    def request(self, background: bool = True) -> None:
        with self._lock:
            self.requests += 1
            if not background:
                self.runs += 1
        if not background:
            self.refresh()
            return
        with self._lock:
            if self._running:
                self._pending = True         # the running refresh goes again when it ends
                return
            self._running = True
            self._idle.clear()
        threading.Thread(target=self._loop, daemon=True, name=f"lab-{self.name}").start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._pending = False
                self.runs += 1
            try:
                self.refresh()
            except Exception:                # a refresh reports its own errors; never kill the loop silently
                log.exception("%s failed", self.name)
            with self._lock:
                if not self._pending:
                    self._running = False
                    self._idle.set()
                    return

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no refresh is running or pending; True when idle."""
        return self._idle.wait(timeout)
