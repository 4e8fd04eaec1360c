"""Tab 3 Recipe: ``lab.compress.run_recipe`` in the background, step by step with fine-tuning.

The table fills as steps finish, Stop ends the recipe between steps. Every run is saved as
``runs/<time>-compress-<model>/recipe.json`` after every step (``lab.compress.recipe_runs``, the
format ``python -m lab compress --save`` writes too) and added to the **Pareto plot** (accuracy vs
real bytes), so recipes can be compared. The settings are a ``RecipeConfig``.
"""
from __future__ import annotations

import html
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ...compress.recipe import describe_steps
from ...compress.recipe_config import RecipeConfig
from ...compress.recipe_runs import RecipeRun, load_recipe_run, record_recipe
from ...cost import CostWeights, Report, format_reports, report_row
from ...runs import new_run_dir
from ...viz import pareto
from ..base import (DESCRIPTION_STYLE, Job, field_layout, readable_error, settings_row, titled_column,
                    wrap_row)
from ..compress_runs import LoadedModel
from ..figure_view import FigureView
from ..html import html_table
from ..playground import parse_floats
from .shell import Tab

if TYPE_CHECKING:
    import plotly.graph_objects as go

TABLE_COLUMNS = ("step", "acc_%", "nonzero", "KB", "x_smaller", "kFLOPs", "eff_kFLOPs", "us", "peak_KB", "runtime",
                 "f")
_NO_TABLE = "<i>the step-by-step table appears here after Run recipe</i>"
_NO_PARETO = "every recipe run lands on the Pareto plot here"


class RecipeTab(Tab):
    """Owns the recipe widgets, the Run recipe job, the step table and the Pareto plot. State:
    ``runs`` (RecipeRun list, every recipe this session), ``recipe_rows`` (the table shown),
    ``live_run`` (the run in progress, or the last one)."""

    title = "Recipe"
    action = "recipe"
    verb = "run the recipe"

    def __init__(self, host, recipe: RecipeConfig | None = None):
        super().__init__(host)
        recipe = recipe or RecipeConfig.defaults()
        s = DESCRIPTION_STYLE
        wide = field_layout          # one Layout per widget: its width, narrower when the notebook is
        self.recipe = widgets.Text(description="recipe", style=s, layout=wide("640px"),
                                   placeholder="e.g. prune:0.9,kmeans:16,int8")
        self.recipe.add_class("lab-recipe")
        self.finetune_epochs = widgets.BoundedIntText(min=0, max=500, description="fine-tune epochs", style=s,
                                                      layout=wide())
        self.finetune_lr = widgets.FloatText(description="fine-tune lr", style=s, layout=wide())
        self.latency = widgets.Checkbox(description="time every step (latency, memory; slower)", indent=False)
        self.weights = widgets.Text(description="f weights", style=s, layout=wide(),
                                    tooltip="weights of f = C/C0 + S/S0 (+ L/L0): flops, bytes[, latency]")
        self.recipe_button = widgets.Button(description="Run recipe", button_style="primary", icon="play",
                                            tooltip="run the recipe step by step (in the background)")
        self.recipe_button.add_class("lab-run-recipe")
        self.clear_button = widgets.Button(description="clear runs", icon="trash",
                                           tooltip="forget the recipe runs of this session (their files stay)")
        self.recipe_table = widgets.HTML(_NO_TABLE)
        self.recipe_table.add_class("lab-results")
        self.pareto_view = FigureView(css_class="lab-pareto-view", placeholder=_NO_PARETO)
        self.runs: list[RecipeRun] = []
        self.recipe_rows: list[dict[str, Any]] = []
        self.live_run: RecipeRun | None = None
        self._quiet = False

        self.set_recipe(recipe)
        self.recipe_button.on_click(lambda _: host.start(self.action))
        self.clear_button.on_click(lambda _: self.clear_runs())
        self.weights.observe(lambda _: self._on_weights_change(), names="value")
        steps_help = widgets.HTML("<details><summary>recipe steps</summary><pre style='font-size:12px'>"
                                  + describe_steps() + "</pre></details>")
        self.widget = widgets.VBox([
            widgets.HTML("Steps run in order, each fine-tuned (except int8/fakequant), each measured: accuracy, "
                         "real bytes, FLOPs, latency. Runs accumulate on the Pareto plot."),
            self.recipe, steps_help,
            settings_row(titled_column("fine-tuning", self.finetune_epochs, self.finetune_lr),
                         titled_column("measurement", self.latency, self.weights)),
            wrap_row([self.recipe_button, self.clear_button]), self.recipe_table, self.pareto_view.box])

    # --- widgets <-> config -----------------------------------------------------------------------------
    def set_recipe(self, config: RecipeConfig) -> None:
        """Put ``config`` into the Recipe tab's widgets."""
        self._quiet = True
        try:
            self.recipe.value, self.finetune_epochs.value = config.recipe, config.finetune_epochs
            self.finetune_lr.value, self.latency.value = config.finetune_lr, config.latency
            self.weights.value = ", ".join(f"{w:g}" for w in config.weights)
            self._threads, self._recipe_seed = config.threads, config.seed
        finally:
            self._quiet = False

    def read_recipe(self) -> RecipeConfig:
        """The Recipe tab's values as a validated RecipeConfig (ValueError with the reason otherwise)."""
        weights = parse_floats(self.weights.value, "objective weights") or (1.0, 1.0, 0.0)
        return RecipeConfig(recipe=self.recipe.value, finetune_epochs=self.finetune_epochs.value,
                            finetune_lr=self.finetune_lr.value, latency=self.latency.value, threads=self._threads,
                            weights=weights, seed=self._recipe_seed)

    # --- the job: Run recipe ----------------------------------------------------------------------------
    def prepare(self) -> Job:
        loaded = self.host.require_model()
        config = self.read_recipe()
        config.check_for(loaded.model, loaded.data)      # what the recipe needs of this model, before it runs
        return partial(self._run_recipe, config, loaded)

    def _run_recipe(self, config: RecipeConfig, loaded: LoadedModel, stop: threading.Event) -> None:
        host, p = self.host, self.host.progress
        specs = config.steps()
        label = f"{len(self.runs) + 1}: {loaded.label} {config.recipe}"
        run_dir = new_run_dir(f"compress-{loaded.label}", root=host.runs_root)
        run = RecipeRun(label, config.recipe, loaded.label, run_dir=run_dir, model_version=loaded.version)
        self.live_run = run
        p.max, p.value, p.bar_style = len(specs) + 1, 0, "info"
        host.status.value = f"recipe {config.recipe}: measuring {loaded.label} as it is..."

        def on_step(report: Report, done: int, total: int) -> None:
            p.value = done + 1
            nxt = f"; running {specs[done]}..." if done < total else ""
            acc = "" if report.metric is None else f" {100 * report.metric:.2f}%"
            host.status.value = f"recipe {config.recipe}: {done}/{total} steps done ({report.step}{acc}){nxt}"
            self._show_table(run, config.cost_weights())    # then saved: a kernel restart loses no finished step

        try:
            record_recipe(run, loaded.model, loaded.data, config, model_description=loaded.description, stop=stop,
                          on_step=on_step)
        except ValueError:
            host.error = run.error
            host.show_message(f"The recipe failed at {run.error}" + (" (the steps before it are in the table)"
                                                                     if len(run.reports) > 1 else ""), "error")
            host.status.value = f"failed: {run.error}"
            p.bar_style = "danger"
            return
        self.runs.append(run)
        self._show_table(run, config.cost_weights())
        self._show_pareto()
        last = run.reports[-1]
        ref = run.reports[0]
        summary = (f"{ref.bytes / last.bytes:.1f}x smaller ({ref.bytes:,} -> {last.bytes:,} bytes), accuracy "
                   f"{100 * ref.metric:.2f}% -> {100 * last.metric:.2f}%") if last.bytes and last.metric is not None \
            else ""
        p.value, p.bar_style = len(run.reports), "warning" if run.stopped else "success"
        if run.stopped:
            host.status.value = (f"stopped: recipe {config.recipe} ended after {len(run.reports) - 1}/{len(specs)} "
                                 f"steps; {summary}; saved in {run_dir.name}")
        else:
            host.status.value = f"done: recipe {config.recipe}: {summary}; saved in {run_dir.name}"

    # --- the table and the Pareto plot ------------------------------------------------------------------
    def _show_table(self, run: RecipeRun, weights: CostWeights) -> None:
        ref = run.reports[0]
        rows = [{k: report_row(r, ref, weights)[k] for k in TABLE_COLUMNS} for r in run.reports]
        self.recipe_rows = rows
        notes = [f"{r.step}: {n}" for r in run.reports for n in r.notes]
        caption = (f"{run.label}{' (stopped)' if run.stopped else ''} - KB: real file on disk (packed format), "
                   f"x_smaller vs the first row, us: median at batch 1 (- when not timed), f = "
                   f"{weights.flops:g}·C/C0 + {weights.bytes:g}·S/S0 + {weights.latency:g}·L/L0")
        notes_html = ("<ul style='font-size:12px;margin:2px 0'>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                      + "</ul>") if notes else ""
        self.recipe_table.value = html_table(rows, columns=TABLE_COLUMNS, digits=2, caption=caption) + notes_html

    def _on_weights_change(self) -> None:
        if self._quiet or not self.runs:
            return
        try:
            weights = self.read_recipe().cost_weights()
        except ValueError as err:
            self.host.show_message(f"Cannot use these weights: {readable_error(err)}", "error")
            return
        if self.host.message_text.startswith("Cannot use these weights"):
            self.host.show_message("")
        self._show_table(self.runs[-1], weights)

    def _show_pareto(self) -> None:
        if not self.runs:
            self.pareto_view.clear(_NO_PARETO)
            return
        self.pareto_view.show(pareto({r.label: r.reports for r in self.runs},
                                     title="accuracy vs real bytes: every step of every recipe run"))

    def clear_runs(self) -> None:
        """Forget this session's recipe runs (the table, the Pareto plot); their folders stay on disk."""
        if self.host.running:
            self.host.show_message("A job is running: press Stop or wait before clearing the runs.", "warning")
            return
        self.runs, self.recipe_rows, self.live_run = [], [], None
        self.recipe_table.value = _NO_TABLE
        self._show_pareto()

    def add_run(self, run: RecipeRun) -> None:
        """Add a run made elsewhere (the W tab's steps) to the table and the Pareto plot."""
        self.runs.append(run)
        self.live_run = run
        self._show_table(run, self._weights_or_default())
        self._show_pareto()

    def load_saved(self, run_dir: str | Path) -> RecipeRun:
        """Add a recipe run saved earlier (its ``recipe.json``: the panel's or ``compress --save``'s) to the
        table and the Pareto plot."""
        run = load_recipe_run(run_dir)
        run.label = f"{len(self.runs) + 1}: {run.model_label} {run.recipe} (saved)"
        self.runs.append(run)
        self._show_table(run, self._weights_or_default())
        self._show_pareto()
        return run

    def _weights_or_default(self) -> CostWeights:
        try:
            return self.read_recipe().cost_weights()
        except ValueError:
            return CostWeights()

    def recipe_text(self, run: RecipeRun | None = None) -> str:
        """The step table of ``run`` (default: the latest) as plain text (for print)."""
        run = run or (self.runs[-1] if self.runs else None)
        if run is None:
            return "(no recipe run yet)"
        return format_reports(run.reports, self._weights_or_default())

    def pareto_figure(self) -> "go.Figure | None":
        return self.pareto_view.snapshot()
