"""``ArenaPanel``: pick two loss weightings and a task set, press Train, see their task weights and Delta m %.

The panel only reads widgets and draws: the runs are ``lab.benchmarks.arena.run_arena``
(independent modules as the baseline, then each method with the same seeds), the
numbers ``method_summary``, the figure ``lab.viz.arena.weighting_duel``. With
``LAB_FAST=1`` the defaults are a seconds-long setting (5 epochs, 1 seed; else 20 epochs, 3 seeds).

    panel = ArenaPanel()
    panel.method_a.value, panel.method_b.value, panel.task_set.value = "equal", "imtl_g", "conflict"
    panel.run()                 # or press Train; panel.summaries holds the numbers, panel.view.figure the plot
"""
from __future__ import annotations

import threading
from html import escape

import ipywidgets as widgets

from ..benchmarks.arena import BASELINE, method_summary, run_arena
from ..benchmarks.arena_sets import ARENA_SETS, load_arena_set
from ..coupling.system import SystemConfig
from ..settings import fast_mode
from ..train import TrainConfig
from ..validation import MAX_EPOCHS
from ..viz.arena import weighting_duel
from ..weighting import WEIGHTINGS
from .base import DESCRIPTION_STYLE, TrainingPanel, field_layout, settings_row, titled_column
from .figure_view import FigureView

METHODS = tuple(w for w in WEIGHTINGS if w != "fixed")        # fixed needs weights: the arena tunes them instead
STRATEGIES = ("shared", "cross_stitch")
SET_LABELS = {"digits": "digits (tasks share features)", "conflict": "conflicting (synthetic)"}


class _Stopped(Exception):
    """Raised between runs when Stop was pressed."""


class ArenaPanel(TrainingPanel):
    """Two methods x one task set x one strategy; ``summaries`` holds ``method_summary`` per method after a run."""

    title = "Weighting arena"

    def __init__(self, *, epochs: int | None = None, seeds: int | None = None, size: int | None = None, **kw):
        super().__init__(**kw)
        fast = fast_mode()
        self.size = size                         # None: the whole task set (fast enough: the models are small)
        style, layout = DESCRIPTION_STYLE, field_layout()
        self.method_a = widgets.Dropdown(options=METHODS, value="equal", description="method A", style=style,
                                         layout=layout)
        self.method_b = widgets.Dropdown(options=METHODS, value="imtl_g", description="method B", style=style,
                                         layout=field_layout())
        self.task_set = widgets.Dropdown(options=[(SET_LABELS[k], k) for k in ARENA_SETS], value="conflict",
                                         description="task set", style=style, layout=field_layout())
        self.strategy = widgets.Dropdown(options=STRATEGIES, value="shared", description="sharing", style=style,
                                         layout=field_layout())
        self.epochs = widgets.BoundedIntText(value=epochs or (5 if fast else 20), min=1, max=200,
                                             description="epochs", style=style, layout=field_layout())
        self.seeds = widgets.BoundedIntText(value=seeds or (1 if fast else 3), min=1, max=10, description="seeds",
                                            style=style, layout=field_layout())
        self.epochs.add_class("lab-epochs")
        self.about = widgets.HTML("")
        self.view = FigureView(placeholder="Pick two methods and press Train.")
        self.summaries: dict[str, dict] = {}
        self.task_set.observe(lambda _: self._describe(), names="value")
        self._describe()
        self.ui = widgets.VBox([
            settings_row(titled_column("methods", self.method_a, self.method_b),
                         titled_column("experiment", self.task_set, self.strategy, self.epochs, self.seeds)),
            self.about, self.controls, self.message, self.view.box])
        self.ui.add_class("lab-arena")               # CSS classes: for the browser test

    def _describe(self) -> None:
        arena = ARENA_SETS[self.task_set.value]
        self.about.value = (f"<i>{escape(arena.description)}; widths {list(arena.widths)}, "
                            f"learning rate {arena.lr:g}</i>")

    def prepare(self):
        a, b = self.method_a.value, self.method_b.value
        if a == b:
            raise ValueError(f"pick two different methods (both are {a!r})")
        epochs, seeds = int(self.epochs.value), int(self.seeds.value)
        if not 1 <= epochs <= MAX_EPOCHS or not 1 <= seeds <= 10:
            raise ValueError(f"epochs must be >= 1 and seeds from 1 to 10, got {epochs} and {seeds}")
        name, strategy = self.task_set.value, self.strategy.value
        arena = ARENA_SETS[name]
        system_config, train_config = SystemConfig(widths=arena.widths), TrainConfig(epochs=epochs, lr=arena.lr)
        total = seeds * 3

        def job(stop: threading.Event) -> None:
            self.progress.max, self.progress.value, self.progress.bar_style = total, 0, "info"
            self.status.value = f"loading {name}..."
            data = load_arena_set(name, self.size)

            def on_row(row: dict) -> None:
                self.progress.value += 1
                self.status.value = (f"trained {row['strategy']} / {row['weighting']}, seed {row['seed']} "
                                     f"({self.progress.value}/{total})")
                if stop.is_set():
                    raise _Stopped

            try:
                rows = run_arena(data, system_config, train_config, [strategy], [a, b], list(range(seeds)),
                                 on_row=on_row)
            except _Stopped:
                self.status.value = f"stopped after {self.progress.value} of {total} runs (nothing drawn)"
                return
            self.summaries = {m: method_summary(rows, strategy, m, data.task_names) for m in (a, b)}
            seconds = sum(r["seconds"] for r in rows if r["strategy"] != BASELINE)
            self.view.show(weighting_duel(self.summaries, data.task_names,
                                          title=f"{name}, {strategy}: {a} vs {b} ({seeds} seed(s), {epochs} epochs)"))
            self.progress.bar_style = "success"
            self.status.value = (f"done: {a} Delta m {self.summaries[a]['delta_m_mean']:+.2f} %, {b} "
                                 f"{self.summaries[b]['delta_m_mean']:+.2f} % ({seconds:.1f} s of training)")
        return job
