"""What every training panel shares: Train/Stop buttons, progress bar, status line, messages,
a background training thread and throttled updates.

Why a thread: a training loop on the kernel's main thread keeps the kernel busy,
so a Stop click waits in the queue until the loop has ended and does nothing.
Started from the Train button, training runs in a background thread; the kernel
stays free to handle Stop, which sets a ``threading.Event`` the trainer checks
after every step.

A panel subclasses :class:`TrainingPanel` and implements :meth:`prepare`: read the
widgets, validate (raise ``ValueError`` with a readable reason) and return a
*job*, a function ``job(stop: threading.Event) -> None`` that trains and fills
the panel's figures. ``start()`` (the Train button) runs the job in a thread,
``run()`` runs it in the calling thread (scripts, tests, a notebook's default
path), ``stop()`` (the Stop button) asks it to end, ``wait()`` joins the thread.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from html import escape
from typing import Callable, Sequence

import ipywidgets as widgets
import torch

from .html import Level, message_html, panel_style_html
from ..runs import runs_root

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], None]
DESCRIPTION_STYLE = {"description_width": "120px"}
FIELD_WIDTH = "330px"


# --- layouts that fit JupyterLab's default width --------------------------------------------------------
# A notebook's output area is ~850 px wide at 1280 px with the file browser open: fixed-width rows of
# settings would be cut off there. Every panel builds its rows with these helpers: fields keep their width
# when there is room and shrink to their container otherwise, rows wrap onto the next line.
def field_layout(width: str = FIELD_WIDTH, **kw) -> widgets.Layout:
    """A new Layout for one input widget: ``width`` when there is room, never wider than its container."""
    return widgets.Layout(width=width, max_width="100%", **kw)


def wrap_row(children: Sequence[widgets.Widget], **kw) -> widgets.HBox:
    """A row of widgets that wraps onto the next line when the notebook is narrower than the row."""
    layout = {"flex_flow": "row wrap", "align_items": "center", "max_width": "100%", **kw}
    return widgets.HBox(list(children), layout=widgets.Layout(**layout))


def titled_column(title: str, *children: widgets.Widget) -> widgets.VBox:
    """A column of settings under a bold ``title`` (plain text), for a :func:`wrap_row` of columns."""
    return widgets.VBox([widgets.HTML(f"<b>{escape(title)}</b>"), *children],
                        layout=widgets.Layout(max_width="100%", margin="0 16px 4px 0"))


def settings_row(*columns: widgets.VBox) -> widgets.HBox:
    """Columns of settings side by side; a column that does not fit moves below the others."""
    return wrap_row(columns, align_items="flex-start")


def panel_style() -> widgets.HTML:
    """The panels' style sheet (wrapping status lines, scrollable tables) as a widget to put in a panel."""
    style = widgets.HTML(panel_style_html(), layout=widgets.Layout(display="none"))   # a hidden <style> applies
    style.add_class("lab-style")
    return style


def resolve_runs_root(root: str | os.PathLike | None = None) -> Path:
    """Where runs are saved: ``root`` if given, else ``$LAB_RUNS``, else the checkout's ``runs/``."""
    return runs_root(root)


def readable_error(err: BaseException) -> str:
    """One line a learner can act on: the message of a ValueError, else the exception's type and message."""
    if isinstance(err, ValueError) and str(err):
        return str(err)
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds (always with ``force=True``)."""

    def __init__(self, interval: float):
        if interval < 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        self.interval = float(interval)
        self._last = -float("inf")

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False

    def done(self) -> None:
        """Call after a slow update: the next one waits ``interval`` from now, not from its start."""
        self._last = time.monotonic()


class TrainingPanel:
    """Base of the training panels (see the module docstring).

    ``update_interval``: seconds between live figure updates (0 = every step).
    ``runs_root``: where runs are saved (default ``$LAB_RUNS`` or ``runs``).
    ``num_threads``: torch threads while a job runs (restored after; None = leave as is). The
    lab's models are small: one thread trains them as fast as two on an idle machine and
    avoids a 10x slowdown when the kernel shares its cores with a browser or another job.
    Widgets for tests and the browser: ``train_button``, ``stop_button``,
    ``progress``, ``status`` (text like ``"stopped: cross_stitch trained 3/20 epochs"``)
    and ``message``. ``message_text`` and ``error`` hold the last message and error as text.
    """

    title = "Training panel"

    def __init__(self, *, runs_root: str | os.PathLike | None = None, update_interval: float = 0.25,
                 num_threads: int | None = 1):
        self.runs_root = resolve_runs_root(runs_root)
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}")
        self.num_threads = num_threads
        self.update_interval = float(update_interval)
        Throttle(self.update_interval)          # validates the interval
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play",
                                           tooltip="train with these settings (runs in the background)")
        self.train_button.add_class("lab-train")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                          tooltip="end training after the current step; keeps the history")
        self.stop_button.add_class("lab-stop")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", bar_style="info",
                                            layout=field_layout("220px"))
        self.progress.add_class("lab-progress")
        self.status = widgets.Label("ready", layout=widgets.Layout(width="auto", max_width="100%"))
        self.status.add_class("lab-status")
        self.message = widgets.HTML("")
        self.message.add_class("lab-message")
        self.message_text = ""
        self.error: str | None = None
        self._lock = threading.Lock()
        self._busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.train_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.controls = wrap_row([self.train_button, self.stop_button, self.progress, self.status, panel_style()])
        self.ui: widgets.Widget = widgets.VBox([self.controls, self.message])

    # --- what subclasses provide --------------------------------------------------------------------
    def prepare(self) -> Job:
        """Read and validate the widgets; return the job to run. Raise ValueError for bad settings."""
        raise NotImplementedError

    # --- running --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._busy

    def start(self) -> bool:
        """The Train button: validate, then train in a background thread. False if refused."""
        job = self._begin()
        if job is None:
            return False
        self._thread = threading.Thread(target=self._execute, args=(job,), daemon=True,
                                        name=f"{type(self).__name__}-train")
        self._thread.start()
        return True

    def run(self) -> bool:
        """Like the Train button but in the calling thread (blocks until done). True when it ran without error."""
        job = self._begin()
        if job is None:
            return False
        self._execute(job)
        return self.error is None

    def stop(self) -> None:
        """The Stop button: ask the running job to end after its current step."""
        if self._busy:
            self._stop.set()
            self.status.value = f"{self.status.value} - stopping..."
        else:
            self.show_message("Nothing is training; Stop has nothing to end.", "info")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a training thread to end; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return not self._busy

    def _begin(self) -> Job | None:
        with self._lock:
            if self._busy:
                self.show_message("Training is already running: press Stop, or wait until it ends, "
                                  "before you press Train again.", "warning")
                return None
            before = self.status.value
            self.status.value = "starting: checking the settings..."     # on screen before any work
            try:
                job = self.prepare()
            except (ValueError, TypeError) as err:
                self.status.value = before
                self.error = readable_error(err)
                self.show_message(f"Cannot train with these settings: {self.error}", "error")
                return None
            self._busy = True
        self._stop.clear()
        self.error = None
        self.show_message("")
        self.stop_button.disabled = False
        return job

    def _execute(self, job: Job) -> None:
        threads = torch.get_num_threads()
        try:
            if self.num_threads is not None:
                torch.set_num_threads(self.num_threads)
            job(self._stop)
        except Exception as err:   # shown in the panel; the traceback goes to the log, not the learner
            log.debug("training job failed", exc_info=True)
            self.error = readable_error(err)
            self.show_message(f"Training failed: {self.error}", "error")
            self.status.value = f"failed: {self.error}"
            self.progress.bar_style = "danger"
        finally:
            torch.set_num_threads(threads)
            with self._lock:
                self._busy = False
            self.stop_button.disabled = True

    # --- messages ---------------------------------------------------------------------------------------
    def show_message(self, text: str, level: Level = "info") -> None:
        """Show ``text`` in the panel's message area (empty text clears it)."""
        self.message_text = text
        self.message.value = message_html(text, level) if text else ""

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)
