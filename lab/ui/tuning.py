"""``TuningPanel``: run a multi-objective study in the background, watch its Pareto front grow, stop,
resume, and open a Pareto trial in the compression panel or the W inspector.

    tp = TuningPanel(space="mlp_compression", trials=20)    # display(tp) shows it
    tp.form.ranges.value = "sparsity.1 = 0.9:0.99"          # narrow a key (the form shows every key)
    tp.start()                                              # Start: trials run in the background
    tp.stop(); tp.wait()                                    # Stop: the running trial is queued again
    tp.start()                                              # resume: the same study continues
    tp.trial_select.value = tp.trial_select.options[0][1]
    cp = tp.open_trial(where="compression")                 # rebuild it -> a CompressionPanel (or "inspector")

With one local worker the trials run in the panel's background thread; with more, in worker
processes (``lab.tune.LocalWorkers``, logs under ``runs/tune/logs``) while the thread follows the
study in its storage. The study itself is core (``lab.tune``): the CLI runs the same one.
State for tests and notebooks: ``study``, ``config``, ``rows`` (Pareto table), ``opened`` (the
last panel a trial was opened in), ``context`` (data and reference network of the space),
``front_view`` / ``optuna_view_box`` (figures).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import optuna

from ..tune.figures import VIEWS, optuna_view, pareto_figure
from ..tune.processes import LocalWorkers
from ..tune.results import failed_rows, get_trial, pareto_rows, rebuild, save_rebuilt, summary_line
from ..tune.study import TuneConfig, open_study
from ..tune.trials import TrialContext
from ..tune.worker import budget, run_worker
from .base import Job, Throttle, TrainingPanel, field_layout, readable_error, wrap_row
from .figure_view import FigureView
from .html import html_table
from .tuning_form import TuningForm

TABLE_COLUMNS = ["trial", "val_%", "test_%", "bytes", "x_smaller", "latency_x", "s", "plan"]


class TuningPanel(TrainingPanel):
    """The tuning studio (see the module docstring); ``form`` holds the settings widgets."""

    title = "Tuning studio"

    def __init__(self, space: str = "mlp_compression", *, runs_root=None, update_interval: float = 1.0,
                 num_threads: int | None = 1, **form_options: Any):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        optuna.logging.set_verbosity(optuna.logging.WARNING)     # the panel shows trials; no log line per trial
        self.form = TuningForm(space, runs_root=self.runs_root, **form_options)
        self.train_button.description = "Start"
        self.train_button.tooltip = "run the study's trials in the background (continues a study of this name)"
        self.study: optuna.Study | None = None
        self.config: TuneConfig | None = None
        self.workers: LocalWorkers | None = None
        self.rows: list[dict] = []
        self.opened: Any = None
        self.context: TrialContext | None = None
        self.front_view = FigureView(css_class="lab-tune-front", placeholder="the Pareto front appears here")
        self.table = widgets.HTML("<i>no trials yet</i>")
        self.view = widgets.Dropdown(options=[(v, k) for k, v in VIEWS.items()], value="hypervolume",
                                     description="Optuna view", layout=field_layout("360px"))
        self.view_button = widgets.Button(description="Show", icon="line-chart")
        self.optuna_view_box = FigureView(css_class="lab-tune-optuna")
        self.load_button = widgets.Button(description="Load study", icon="folder-open",
                                          tooltip="show the study of this name (storage above) without running")
        self.trial_select = widgets.Dropdown(options=[], description="Pareto trial", layout=field_layout("360px"))
        self.open_compression = widgets.Button(description="Open in compression panel", icon="compress",
                                               layout=field_layout("220px"))
        self.open_inspector = widgets.Button(description="Open in W inspector", icon="search",
                                             layout=field_layout("180px"))
        self.opened_box = widgets.VBox([])
        self._open_thread: threading.Thread | None = None
        self.view_button.on_click(lambda _: self.show_view())
        self.load_button.on_click(lambda _: self._guard(self.load_study))
        self.open_compression.on_click(lambda _: self.open_in_background("compression"))
        self.open_inspector.on_click(lambda _: self.open_in_background("inspector"))
        self.controls.children = (self.train_button, self.stop_button, self.load_button, self.progress, self.status)
        self.ui = widgets.VBox([
            widgets.HTML("<h3 style='margin:4px 0'>Tuning studio</h3>Search the settings for the best trade-offs "
                         "(accuracy on the validation split; bytes of the real file on disk; latency as a ratio to "
                         "each worker's calibration model). Start runs in the background; Stop queues the running "
                         "trial again; Start again resumes the study."),
            self.form.widget, self.controls, self.message, self.front_view.box, self.table,
            wrap_row([self.trial_select, self.open_compression, self.open_inspector]), self.opened_box,
            wrap_row([self.view, self.view_button]), self.optuna_view_box.box])
        self.ui.add_class("lab-tuning")

    # --- the job --------------------------------------------------------------------------------------
    def prepare(self) -> Job:
        config, workers = self.form.read()
        study = open_study(config)        # refuses another space under this name, an unreachable database
        self.study, self.config = study, config
        self.refresh()
        return lambda stop: self._run(study, config, workers, stop)

    def _run(self, study: optuna.Study, config: TuneConfig, workers: int, stop: threading.Event) -> None:
        self.progress.max, self.progress.bar_style = config.trials, "info"
        self.status.value = f"starting {workers} worker(s) on study {config.study!r}..."
        throttle = Throttle(self.update_interval)
        if workers == 1:
            run_worker(study, config, stop=stop, context=self.context_for(config),
                       on_trial=lambda _: self.refresh() if throttle.ready() else None)
        else:
            self.workers = LocalWorkers(config.study, config.storage_url, workers, first=0,
                                        log_dir=self.runs_root / "tune" / "logs").start()
            while self.workers.alive() and not stop.is_set():
                stop.wait(self.update_interval)
                self.refresh()
            codes = self.workers.stop() if stop.is_set() else self.workers.wait()
            if any(c not in (0, None) for c in codes):
                self.show_message(f"a worker failed (exit codes {codes}):\n{self.workers.tail()}", "error")
        self.refresh()
        b = budget(study)
        done = "stopped" if stop.is_set() else "done"
        self.progress.bar_style = "warning" if stop.is_set() else "success"
        self.status.value = f"{done}: {b.complete} complete, {b.failed} failed of {config.trials} trials" + \
            (" - press Start to resume" if stop.is_set() else "")

    def context_for(self, config: TuneConfig) -> TrialContext:
        """The trial context (data, trained reference) of ``config``'s space, built once per space."""
        if self.context is None or self.context.space.base != config.space.base or \
                self.context.space.kind != config.space.kind:
            self.status.value = "preparing the data (and training the reference network)..."
            self.context = TrialContext.build(config.space)
        return self.context

    # --- showing the study ----------------------------------------------------------------------------
    def load_study(self) -> optuna.Study:
        """Open the study named in the form (as it is, nothing runs) and show it."""
        config, _ = self.form.read()
        self.study, self.config = open_study(config), config
        self.refresh()
        return self.study

    def refresh(self) -> None:
        """Re-read the study from its storage: figure, Pareto table, trial list, progress."""
        if self.study is None or self.config is None:
            return
        study, config = self.study, self.config
        b = budget(study)
        self.progress.value = min(b.used - b.running - b.waiting, config.trials)
        self.status.value = summary_line(study, config)
        self.front_view.show(pareto_figure(study, config.objectives))
        self.rows = pareto_rows(study, config.objectives)
        failed = failed_rows(study)
        self.table.value = html_table(self.rows, columns=TABLE_COLUMNS, caption="Pareto trials (val_%: selection; "
                                      "test_%: for reading only)") + \
            (html_table(failed[-5:], caption=f"{len(failed)} failed trial(s), latest:") if failed else "")
        options = [(f"trial {r['trial']}: val {r['val_%']:.2f}%, {r['bytes']:,} B", r["trial"]) for r in self.rows]
        if [v for _, v in options] != [v for _, v in self.trial_select.options]:
            current = self.trial_select.value
            self.trial_select.options = options
            values = [v for _, v in options]         # keep the choice; else the first trial (never a blank choice)
            self.trial_select.value = current if current in values else (values[0] if values else None)

    def show_view(self, view: str | None = None) -> None:
        """Draw one of Optuna's views (``lab.tune.figures.VIEWS``) of the study."""
        if view is not None:
            self.view.value = view
        try:
            if self.study is None:
                raise ValueError("no study yet: press Start or Load study")
            self.optuna_view_box.show(optuna_view(self.study, self.config.objectives, self.view.value))
        except ValueError as err:
            self.show_message(str(err), "warning")

    # --- opening a trial ------------------------------------------------------------------------------
    def open_trial(self, number: int | None = None, where: str = "compression"):
        """Rebuild Pareto trial ``number`` (default: the selected one) and open it: ``"compression"`` -> a
        CompressionPanel holding the model, ``"inspector"`` -> a WInspector on its saved run (coupled
        systems). Returns the panel (also ``self.opened``, shown below the table)."""
        if where not in ("compression", "inspector"):
            raise ValueError(f"where must be 'compression' or 'inspector', got {where!r}")
        if self.study is None:
            raise ValueError("no study yet: press Start or Load study")
        number = self.trial_select.value if number is None else number
        if number is None:
            raise ValueError("no Pareto trial to open yet")
        if where == "inspector" and self.config.space.kind == "compression":
            raise ValueError("this space compresses a trained network: there is no W to inspect; open it in the "
                             "compression panel")
        trial = get_trial(self.study, number)
        self.status.value = f"rebuilding trial {number}..."
        outcome, context = rebuild(self.config, trial, self.context_for(self.config))
        label = f"trial {number} of {self.config.study}"
        if where == "compression":
            from .compress import CompressionPanel
            from .compress_runs import LoadedModel

            panel = CompressionPanel(runs_root=self.runs_root)
            panel.use_model(LoadedModel.of(outcome.model, context.data, label, f"{label}: {outcome.plan.describe()}", 1))
        else:
            from .inspector import WInspector

            run_dir = save_rebuilt(self.config, trial, outcome, self.runs_root)
            panel = WInspector(self.runs_root, select=Path(run_dir).name)
        self.opened = panel
        self.opened_box.children = (panel.ui,)
        self.status.value = f"opened trial {number} in the {'compression panel' if where == 'compression' else 'W inspector'}"
        return panel

    def open_in_background(self, where: str) -> None:
        """The Open buttons: rebuild in a thread (seconds), so the kernel stays free."""
        def job():
            self._guard(lambda: self.open_trial(where=where))

        self._open_thread = threading.Thread(target=job, daemon=True, name="TuningPanel-open")
        self._open_thread.start()

    def wait_open(self, timeout: float | None = None) -> None:
        if self._open_thread is not None:
            self._open_thread.join(timeout)

    def _guard(self, fn) -> None:
        try:
            fn()
        except Exception as err:      # shown in the panel; a button must never raise into the kernel
            self.show_message(readable_error(err), "error")
