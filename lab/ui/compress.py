"""Compression panel: make a trained model small for the edge and measure what every step buys.

    cp = CompressionPanel()                        # in a notebook: display(cp) shows the panel
    cp.train()                                     # 1 Model: train the reference MLP (= Train, waiting)
    cp.sparsity.value, cp.bits.value = 0.9, "4"    # 2 Preview: re-scored at once, no fine-tuning
    cp.preview_row                                 # accuracy, bytes, ratio, effective FLOPs of that setting
    cp.recipe.value = "prune:0.9,kmeans:16,int8"
    cp.compress()                                  # 3 Recipe: step by step (= Run recipe, waiting)
    cp.runs[-1].reports, cp.pareto_figure()        # one lab.cost.Report per step; all runs on one Pareto plot
    cp.export()                                    # 4 Export: ONNX file, parity, ONNX Runtime latency and int8

Four tabs, one status line (with Stop) below them:

1. **Model** - a reference network (``lab.models``: mlp, lenet, dscnn) trained on the digits in
   the background (seeded, seconds), or a ``CoupledSystem`` loaded from a saved run trained on the
   digits tasks (``lab.runs``; e.g. a cross-stitch run of the playground or ``python -m lab couple``).
2. **Preview** - sliders for sparsity and bit width (and per-channel/per-tensor scales) call
   ``lab.compress.Preview`` on every change: magnitude pruning + fake quantization of the trained
   model, no fine-tuning, scored on the test split, its packed file written to disk to count real
   bytes. A curve of accuracy (and bytes) vs sparsity at the chosen bits is measured once per bits
   setting (cached) and gains every point the slider visits.
3. **Recipe** - ``lab.compress.run_recipe`` in the background, step by step with fine-tuning; the
   table fills as steps finish, Stop ends the recipe between steps. Every run is saved as
   ``runs/<time>-compress-<model>/recipe.json`` (settings and every Report) and added to the
   **Pareto plot** (accuracy vs real bytes), so recipes can be compared.
4. **Export** - ``lab.deploy.deploy`` of the last float model of the latest recipe (or of the
   model itself): ``model.onnx`` in that run's folder, ONNX Runtime parity per output, file bytes,
   ONNX Runtime vs eager torch latency and, when the recipe ended in int8, the ONNX Runtime int8 file.

Bad values (a step that does not exist, sparsity >= 1, bits outside 2-16) give a readable message
in the panel, never a traceback. The tabs' settings are ``ModelSource`` and ``RecipeConfig``
(:mod:`lab.ui.compress_config`); loaded models, recipe runs and their files are in
:mod:`lab.ui.compress_runs`. ``bench/compress_panel.py`` times a slider move through the panel.
"""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from torch import nn

from ..compress.fakequant import check_bits
from ..compress.preview import Preview, PreviewResult
from ..compress.prune import check_sparsity
from ..compress.recipe import describe_steps, run_recipe
from ..compress.reference import REFERENCE_FIT, digit_data, train_reference
from ..cost import (KB, CostWeights, MeasureConfig, Report, count_flops, eval_mode, evaluate_model, example_input,
                    format_reports, measure, report_row, time_call)
from ..data import DIGITS_TASKS, MultiTaskData, load_digits_tasks
from ..deploy import deploy
from ..history import atomic_write_text
from ..models import build_model, count_parameters
from ..runs import load_run, new_run_dir
from ..tables import format_table
from ..viz import compression_preview, pareto
from .base import DESCRIPTION_STYLE, Job, Throttle, TrainingPanel, readable_error
from .compress_config import (BITS_CHOICES, REFERENCE_MODELS, SOURCE_KINDS, ModelSource, RecipeConfig,
                              parse_bits)
from .compress_runs import (EXPORT_FILE, LoadedModel, RecipeRun, digits_runs, load_recipe_run, run_data_kwargs,
                            run_label, save_recipe_run)
from .figure_view import FigureView
from .html import html_table
from .playground import parse_floats

if TYPE_CHECKING:
    import plotly.graph_objects as go

CURVE_SPARSITIES: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
TABLE_COLUMNS = ("step", "acc_%", "nonzero", "KB", "x_smaller", "kFLOPs", "eff_kFLOPs", "us", "peak_KB", "runtime",
                 "f")


_SLIDER = object()     # "use the slider's value"


def _curve_key(sparsity: float) -> float:
    return round(float(sparsity), 4)


class _Stopped(Exception):
    """Raised from the training loop when Stop was pressed."""


@dataclass
class ExportSummary:
    """What the Export tab shows: the file, parity, sizes and latencies (rows), the Reports."""

    path: Path
    files: list[str]
    bytes: int
    max_abs_diff: dict[str, float]
    atol: float
    rows: list[dict[str, Any]]
    reports: list[Report]


# --- the panel ---------------------------------------------------------------------------------------
class CompressionPanel(TrainingPanel):
    """The compression panel (see the module docstring).

    ``source``/``recipe`` set the initial widget values; ``sparsity``, ``bits`` (2-16 or None for
    float) and ``granularity`` ("channel" or "tensor") the preview sliders'. State for tests and
    notebooks: ``loaded`` (LoadedModel), ``preview_result`` / ``preview_row`` (the sliders' setting),
    ``curves`` ({(granularity, bits): {sparsity: (accuracy, bytes)}}), ``previews`` (Preview calls
    made), ``preview_seconds`` (the last slider update, end to end), ``runs`` (RecipeRun list, every
    recipe this session), ``recipe_rows`` (the table shown), ``export_summary``.
    """

    title = "Compression"

    def __init__(self, source: ModelSource | None = None, recipe: RecipeConfig | None = None, *,
                 sparsity: float = 0.8, bits: int | None = 8, granularity: str = "channel",
                 runs_root=None, update_interval: float = 0.25, num_threads: int | None = 1):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        source = source or ModelSource()
        recipe = recipe or RecipeConfig.defaults()
        check_sparsity(sparsity)
        if granularity not in ("channel", "tensor"):
            raise ValueError(f"granularity must be 'channel' or 'tensor', got {granularity!r}")
        s = DESCRIPTION_STYLE
        wide = lambda width="330px": widgets.Layout(width=width)  # noqa: E731  (one Layout per widget)

        # 1 Model
        self.source_kind = widgets.ToggleButtons(options=[(v, k) for k, v in SOURCE_KINDS.items()],
                                                 description="model", style=s)
        self.network = widgets.Dropdown(options=list(REFERENCE_MODELS), description="network", style=s,
                                        layout=wide())
        self.epochs = widgets.BoundedIntText(min=1, max=1000, description="epochs", style=s, layout=wide())
        self.seed = widgets.IntText(description="seed", style=s, layout=wide())
        self.run_select = widgets.Dropdown(options=[], description="saved run", style=s, layout=wide("640px"))
        self.refresh_button = widgets.Button(description="refresh list", icon="refresh",
                                             tooltip="list the saved runs again")
        self.train_button.description = "Train / load"
        self.train_button.tooltip = "train the reference network, or load the saved run (in the background)"
        self.model_info = widgets.HTML("<i>no model yet: choose one and press Train / load</i>")
        self.model_info.add_class("lab-model-info")

        # 2 Preview
        self.sparsity = widgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="sparsity", style=s,
                                            readout_format=".2f", continuous_update=False, layout=wide("520px"))
        self.sparsity.add_class("lab-sparsity")
        self.bits = widgets.SelectionSlider(options=BITS_CHOICES, description="bits", style=s,
                                            continuous_update=False, layout=wide("520px"))
        self.bits.add_class("lab-bits")
        self.granularity = widgets.ToggleButtons(options=[("per channel", "channel"), ("per tensor", "tensor")],
                                                 description="scales", style=s,
                                                 tooltips=["one quantization scale per output channel",
                                                           "one scale for the whole weight tensor"])
        self.preview_info = widgets.HTML("")
        self.preview_info.add_class("lab-preview-info")
        self.preview_view = FigureView(css_class="lab-preview-view",
                                       placeholder="accuracy and size vs sparsity appear here once a model is ready")

        # 3 Recipe
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
        self.recipe_table = widgets.HTML("<i>the step-by-step table appears here after Run recipe</i>")
        self.recipe_table.add_class("lab-results")
        self.pareto_view = FigureView(css_class="lab-pareto-view",
                                      placeholder="every recipe run lands on the Pareto plot here")

        # 4 Export
        self.export_button = widgets.Button(description="Export ONNX", button_style="primary", icon="download",
                                            tooltip="export the last float model to ONNX and run it with ONNX Runtime")
        self.export_button.add_class("lab-export")
        self.export_info = widgets.HTML("<i>press Export ONNX after a recipe (or to export the model as it is)</i>")
        self.export_info.add_class("lab-export-info")

        # state
        self.loaded: LoadedModel | None = None
        self.preview_result: PreviewResult | None = None
        self.preview_row: dict[str, Any] = {}
        self.preview_seconds: float | None = None
        self.previews = 0
        self.curves: dict[tuple[str, int | None], dict[float, tuple[float, int]]] = {}
        self.runs: list[RecipeRun] = []
        self.recipe_rows: list[dict[str, Any]] = []
        self.live_run: RecipeRun | None = None
        self.export_summary: ExportSummary | None = None
        self._action = "model"
        self._version = 0
        self._previewers: dict[str, Preview] = {}
        self._preview_lock = threading.RLock()
        self._data_cache: dict[tuple, MultiTaskData] = {}
        self._example = None
        self._dense_flops = 0
        self._quiet = False
        self._figure_key: tuple | None = None

        self.set_source(source)
        self.set_recipe(recipe)
        self._quiet = True
        self.sparsity.value, self.bits.value, self.granularity.value = \
            sparsity, "float" if bits is None else str(check_bits(bits)), granularity
        self._quiet = False
        self.refresh_runs()

        self.source_kind.observe(lambda _: self._sync_visibility(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh_runs())
        for w in (self.sparsity, self.bits, self.granularity):
            w.observe(lambda _: self.refresh_preview(), names="value")
        self.recipe_button.on_click(lambda _: self.start("recipe"))
        self.export_button.on_click(lambda _: self.start("export"))
        self.clear_button.on_click(lambda _: self.clear_runs())
        self.weights.observe(lambda _: self._on_weights_change(), names="value")

        column = lambda title, *ws: widgets.VBox([widgets.HTML(f"<b>{title}</b>"), *ws])  # noqa: E731
        self.reference_box = widgets.VBox([self.network, self.epochs, self.seed])
        self.run_box = widgets.VBox([widgets.HBox([self.run_select, self.refresh_button])])
        model_tab = widgets.VBox([
            widgets.HTML("Train a reference network on the digits (seconds), or load a coupled system saved by the "
                         "playground or <code>python -m lab couple --save</code>."),
            self.source_kind, self.reference_box, self.run_box, self.train_button, self.model_info])
        preview_tab = widgets.VBox([
            widgets.HTML("Prune the smallest weights and round the rest to a <i>b</i>-bit grid - <b>no fine-tuning</b>,"
                         " so this is the raw damage; every slider move re-scores the model on the test split and "
                         "writes the packed file to count its real bytes."),
            self.sparsity, self.bits, self.granularity, self.preview_info, self.preview_view.box])
        steps_help = widgets.HTML("<details><summary>recipe steps</summary><pre style='font-size:12px'>"
                                  + describe_steps() + "</pre></details>")
        recipe_tab = widgets.VBox([
            widgets.HTML("Steps run in order, each fine-tuned (except int8/fakequant), each measured: accuracy, "
                         "real bytes, FLOPs, latency. Runs accumulate on the Pareto plot."),
            self.recipe, steps_help,
            widgets.HBox([column("fine-tuning", self.finetune_epochs, self.finetune_lr),
                          column("measurement", self.latency, self.weights)]),
            widgets.HBox([self.recipe_button, self.clear_button]), self.recipe_table, self.pareto_view.box])
        export_tab = widgets.VBox([
            widgets.HTML("Export the last <b>float</b> model of the latest recipe to ONNX (one file, batch axis "
                         "dynamic), check it, run it with ONNX Runtime and compare with torch; when the recipe ended "
                         "in int8, ONNX Runtime quantizes the file too."),
            self.export_button, self.export_info])
        self.tabs = widgets.Tab(children=[model_tab, preview_tab, recipe_tab, export_tab])
        for k, name in enumerate(("1 Model", "2 Preview", "3 Recipe", "4 Export")):
            self.tabs.set_title(k, name)
        self.controls = widgets.HBox([self.stop_button, self.progress, self.status],
                                     layout=widgets.Layout(align_items="center"))
        header = widgets.HTML("<h3 style='margin:4px 0'>Compression for the edge: what does each step buy?</h3>")
        self.ui = widgets.VBox([header, self.tabs, self.controls, self.message])
        self.ui.add_class("lab-compression")
        self._sync_visibility()

    # --- widgets <-> configs ---------------------------------------------------------------------------
    def set_source(self, source: ModelSource) -> None:
        """Put ``source`` into the Model tab's widgets."""
        self.source_kind.value, self.network.value = source.kind, source.network
        self.epochs.value, self.seed.value = source.epochs, source.seed
        self._limit = source.limit
        self._wanted_run = source.run
        self.refresh_runs()

    def read_source(self) -> ModelSource:
        """The Model tab's values as a validated ModelSource (ValueError with the reason otherwise)."""
        run = self.run_select.value or None
        if self.source_kind.value == "run" and run is None:
            raise ValueError(f"no saved run on the digits tasks under {self.runs_root}/: train one first (the "
                             "playground of 01_coupling_playground.ipynb saves every run, or `python -m lab couple "
                             "--data digits --strategy cross_stitch --save`), then press 'refresh list'")
        return ModelSource(kind=self.source_kind.value, network=self.network.value, epochs=self.epochs.value,
                           seed=self.seed.value, limit=self._limit, run=run)

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

    def refresh_runs(self) -> list[Path]:
        """List the saved runs on the digits tasks in the run dropdown (newest first)."""
        found = digits_runs(self.runs_root)
        options = [(run_label(p, h), str(p)) for p, h in found]
        wanted = getattr(self, "_wanted_run", None)
        current = self.run_select.value
        self.run_select.options = options or [("(no saved run on the digits tasks yet)", "")]
        values = [v for _, v in options]
        if wanted == "latest" and values:
            self.run_select.value = values[0]
        elif wanted and str(Path(wanted)) in values:
            self.run_select.value = str(Path(wanted))
        elif wanted and values and Path(wanted).name in [Path(v).name for v in values]:
            self.run_select.value = next(v for v in values if Path(v).name == Path(wanted).name)
        elif current in values:
            self.run_select.value = current
        self._wanted_run = None
        return [p for p, _ in found]

    def _sync_visibility(self) -> None:
        run = self.source_kind.value == "run"
        self.reference_box.layout.display = "none" if run else None
        self.run_box.layout.display = None if run else "none"
        if run:
            self.refresh_runs()

    # --- actions: Train / load, Run recipe, Export --------------------------------------------------------
    def start(self, action: str = "model") -> bool:
        """A button: ``"model"`` (Train / load), ``"recipe"`` (Run recipe) or ``"export"`` in the background."""
        self._check_action(action)
        self._action = action
        return super().start()

    def run(self, action: str = "model") -> bool:
        """Like :meth:`start` but waits in the calling thread; True when it ran without error."""
        self._check_action(action)
        self._action = action
        return super().run()

    def train(self) -> bool:
        """Train (or load) the model chosen in the Model tab and wait."""
        return self.run("model")

    def compress(self) -> bool:
        """Run the recipe of the Recipe tab and wait."""
        return self.run("recipe")

    def export(self) -> bool:
        """Export the last float model to ONNX (Export tab) and wait."""
        return self.run("export")

    @staticmethod
    def _check_action(action: str) -> None:
        if action not in ("model", "recipe", "export"):
            raise ValueError(f"action must be 'model', 'recipe' or 'export', got {action!r}")

    def prepare(self) -> Job:
        if self._action == "model":
            source = self.read_source()
            if source.kind == "reference":
                data = self._digits(seed=source.seed, limit=source.limit)
                build_model(source.network, data.input_shape, data.tasks[0].num_outputs)   # fails early, readably
                return partial(self._train_reference, source, data)
            return partial(self._load_run, source)
        loaded = self._require_model()
        config = self.read_recipe()
        if self._action == "recipe":
            config.check_for(loaded.model, loaded.data)      # what the recipe needs of this model, before it runs
            return partial(self._run_recipe, config, loaded)
        return partial(self._export, config, loaded)

    def _require_model(self) -> LoadedModel:
        if self.loaded is None:
            raise ValueError("there is no model yet: train a reference network or load a saved run first "
                             "(tab 1 Model, Train / load)")
        return self.loaded

    def _begin(self) -> Job | None:
        job = super()._begin()
        if job is None and self.message_text.startswith("Cannot train with these settings: "):
            what = {"recipe": "run the recipe", "export": "export"}.get(
                self._action, "load the run" if self.source_kind.value == "run" else "train")
            self.show_message(f"Cannot {what}: {self.error}", "error")
        return job

    def _digits(self, **kwargs) -> MultiTaskData:
        key = tuple(sorted(kwargs.items()))
        if key not in self._data_cache:
            if "tasks" in kwargs:
                self._data_cache[key] = load_digits_tasks(**kwargs)
            else:
                self._data_cache[key] = digit_data(kwargs["seed"], kwargs["limit"])
        return self._data_cache[key]

    # --- 1 Model --------------------------------------------------------------------------------------------
    def _train_reference(self, source: ModelSource, data: MultiTaskData, stop: threading.Event) -> None:
        epochs = source.planned_epochs()
        per_epoch = math.ceil(len(data.train) / REFERENCE_FIT.batch_size)
        p = self.progress
        p.max, p.value, p.bar_style = max(1, epochs * per_epoch), 0, "info"
        self.status.value = f"training {source.network}: epoch 0/{epochs}"
        throttle = Throttle(self.update_interval)
        steps = [0]

        def after_step(model: nn.Module) -> None:
            steps[0] += 1
            if stop.is_set():
                raise _Stopped
            if throttle.ready():
                p.value = steps[0]
                self.status.value = f"training {source.network}: epoch {steps[0] // per_epoch + 1}/{epochs}"

        try:
            model = train_reference(source.network, data, source.fit_config(), source.seed, after_step=after_step)
        except _Stopped:
            p.bar_style = "warning"
            kept = f"; still using {self.loaded.label}" if self.loaded is not None else ""
            self.status.value = (f"stopped: {source.network} trained {steps[0] // per_epoch}/{epochs} epochs - a "
                                 f"half-trained reference is not kept{kept}; press Train / load again")
            return
        n_train, n_test = len(data.train), len(data.test)
        self._set_model(model, data, source.network,
                        f"{source.network} trained {epochs} epochs (seed {source.seed}) on the digit task: "
                        f"{n_train:,} training / {n_test:,} test digits")
        p.value, p.bar_style = p.max, "success"

    def _load_run(self, source: ModelSource, stop: threading.Event) -> None:
        self.progress.max, self.progress.value, self.progress.bar_style = 1, 0, "info"
        found = digits_runs(self.runs_root)
        if source.run == "latest":
            if not found:
                raise ValueError(f"no saved run on the digits tasks under {self.runs_root}/")
            run_dir = found[0][0]
        else:
            run_dir = Path(source.run)
        if not (run_dir / "history.json").is_file():
            raise ValueError(f"{run_dir} is not a saved run (it has no history.json)")
        self.status.value = f"loading {run_dir.name}..."
        system, history = load_run(run_dir)
        if system is None:
            raise ValueError(f"{run_dir} has no checkpoint.pt to load")
        if history.config.get("data") != "digits" or not set(history.task_names) <= set(DIGITS_TASKS):
            raise ValueError(f"{run_dir.name} was trained on {history.config.get('data')!r} with tasks "
                             f"{history.task_names}; the compression panel takes systems trained on the digits tasks")
        kwargs = run_data_kwargs(run_dir, history)
        data = self._digits(**kwargs)
        if tuple(system.task_names) != tuple(data.task_names) or tuple(system.input_shape) != tuple(data.input_shape):
            raise ValueError(f"{run_dir.name} holds a system for tasks {list(system.task_names)} with inputs "
                             f"{tuple(system.input_shape)}; its data has {list(data.task_names)}, "
                             f"{tuple(data.input_shape)}")
        limit = f", the {len(data.train) + len(data.val) + len(data.test)}-digit subset" if kwargs["limit"] else ""
        self._set_model(system, data, system.strategy,
                        f"{system.strategy} system from {run_dir.name} ({history.num_epochs} epochs, tasks "
                        f"{', '.join(system.task_names)}; scored on its test split: seed "
                        f"{kwargs['seed']}{limit}, {len(data.test):,} test digits)",
                        run_dir=run_dir)
        self.progress.value, self.progress.bar_style = 1, "success"

    def _set_model(self, model: nn.Module, data: MultiTaskData, label: str, description: str,
                   run_dir: Path | None = None) -> None:
        model.eval()
        metrics = evaluate_model(model, data.test, data.tasks)
        with self._preview_lock:
            for pv in self._previewers.values():
                pv.close()
            self._previewers, self.curves = {}, {}
            self._version += 1
            self.loaded = LoadedModel(model, data, label, description, self._version,
                                      sum(metrics.values()) / len(metrics), run_dir)
            self._example = example_input(model, data, 1)
            self._dense_flops = count_flops(model, self._example)[0]
            dense_bytes = self._previewer(self.granularity.value).dense_bytes
        metric_names = "/".join(sorted({t.metric for t in data.tasks}))
        per_task = ", ".join(f"{k} {100 * v:.2f}%" for k, v in metrics.items())
        self.model_info.value = (
            f"<b>{description}</b><br>test {metric_names}: {per_task} (mean {100 * self.loaded.metric:.2f}%) - "
            f"{count_parameters(model):,} parameters, torch.save file {dense_bytes / KB:,.1f} KB, "
            f"{self._dense_flops / 1000:,.1f} kFLOPs per example")
        self.status.value = (f"ready: {label}, test {metric_names} {100 * self.loaded.metric:.2f}% - move the "
                             f"Preview sliders or run a recipe")
        self.refresh_preview()

    # --- 2 Preview ------------------------------------------------------------------------------------------
    def _previewer(self, granularity: str) -> Preview:
        if granularity not in self._previewers:
            self._previewers[granularity] = Preview(self.loaded.model, self.loaded.data, granularity=granularity,
                                                    threads=1)
        return self._previewers[granularity]

    def preview(self, sparsity: float | None = None, bits: str | int | None | object = _SLIDER,
                granularity: str | None = None) -> PreviewResult:
        """Prune to ``sparsity``, quantize to ``bits`` (None: float) and score on the test split; the
        readout and figure follow. Defaults: the sliders' values. ValueError for bad values."""
        loaded = self._require_model()
        t0 = time.perf_counter()
        sparsity = check_sparsity(self.sparsity.value if sparsity is None else sparsity)
        bits = parse_bits(self.bits.value if bits is _SLIDER else bits)
        granularity = granularity or self.granularity.value
        if granularity not in ("channel", "tensor"):
            raise ValueError(f"granularity must be 'channel' or 'tensor', got {granularity!r}")
        with self._preview_lock:
            if self.loaded is not loaded:
                raise ValueError("the model changed while previewing; move the slider again")
            pv = self._previewer(granularity)
            curve = self.curves.setdefault((granularity, bits), {})
            for s in CURVE_SPARSITIES:          # once per bits setting: the curve's shape
                if _curve_key(s) not in curve:
                    r = pv(s, bits)
                    self.previews += 1
                    curve[_curve_key(s)] = (r.accuracy, r.bytes)
            result = pv(sparsity, bits)         # the slider's point last: pv.work now holds its weights
            self.previews += 1
            curve[_curve_key(sparsity)] = (result.accuracy, result.bytes)
            flops, effective = count_flops(pv.work, self._example)
            points = dict(curve)
            dense_bytes = pv.dense_bytes
        bits_label = "float" if bits is None else f"{bits}-bit per {granularity}"
        self.preview_result = result
        self.preview_row = {"sparsity": sparsity, "bits": bits, "granularity": granularity,
                            "accuracy": result.accuracy, "bytes": result.bytes, "dense_bytes": dense_bytes,
                            "ratio": result.ratio, "nonzeros": result.nonzeros, "flops": flops,
                            "effective_flops": effective, "preview_ms": 1000 * result.seconds}
        rows = [{"model": "unmodified (float, dense)", "acc_%": 100 * loaded.metric, "bytes": dense_bytes,
                 "x_smaller": 1.0, "kFLOPs": self._dense_flops / 1000, "eff_kFLOPs": self._dense_flops / 1000},
                {"model": f"sparsity {sparsity:.2f}, {bits_label}", "acc_%": 100 * result.accuracy,
                 "bytes": result.bytes, "x_smaller": result.ratio, "kFLOPs": flops / 1000,
                 "eff_kFLOPs": effective / 1000}]
        figure_key = (loaded.version, granularity, bits)    # same model and bits: only the points move
        self.preview_view.show(compression_preview(points, sparsity, result.accuracy, result.bytes, bits_label,
                                                   baseline=loaded.metric, dense_bytes=dense_bytes,
                                                   title=f"preview of {loaded.label}: prune + {bits_label}, "
                                                         "no fine-tuning"),
                               fields=("x", "y") if figure_key == self._figure_key else None)
        self._figure_key = figure_key
        self.preview_seconds = time.perf_counter() - t0
        caption = (f"test accuracy (mean over tasks), bytes of the file on disk (unmodified: torch.save; preview: the "
                   f"packed format), eff_kFLOPs: what a kernel skipping zeros would do; this preview took "
                   f"{1000 * result.seconds:.0f} ms ({1000 * self.preview_seconds:.0f} ms with FLOPs and figure)")
        self.preview_info.value = html_table(rows, digits=2, highlight=(1,), caption=caption)
        return result

    def refresh_preview(self) -> None:
        """Re-score after a slider move (a readable message for bad values; a hint before any model)."""
        if self._quiet:
            return
        if self.loaded is None:
            self.show_message("There is no model to preview yet: train or load one first (tab 1 Model).", "info")
            return
        try:
            self.preview()
        except ValueError as err:
            self.show_message(f"Cannot preview: {readable_error(err)}", "error")
        else:
            if self.message_text.startswith(("Cannot preview", "There is no model to preview")):
                self.show_message("")

    def preview_text(self) -> str:
        """The sliders' setting as one printable line."""
        r = self.preview_row
        if not r:
            return "(no preview yet)"
        bits = "float" if r["bits"] is None else f"{r['bits']}-bit per {r['granularity']}"
        return (f"sparsity {r['sparsity']:.2f}, {bits}: accuracy {100 * r['accuracy']:.2f}%, {r['bytes']:,} bytes "
                f"({r['ratio']:.1f}x smaller than {r['dense_bytes']:,}), "
                f"effective {r['effective_flops'] / 1000:.1f} of "
                f"{r['flops'] / 1000:.1f} kFLOPs, {r['preview_ms']:.0f} ms")

    def preview_figure(self) -> "go.Figure | None":
        return self.preview_view.snapshot()

    # --- 3 Recipe ---------------------------------------------------------------------------------------------
    def _run_recipe(self, config: RecipeConfig, loaded: LoadedModel, stop: threading.Event) -> None:
        specs = config.steps()
        label = f"{len(self.runs) + 1}: {loaded.label} {config.recipe}"
        run_dir = new_run_dir(f"compress-{loaded.label}", root=self.runs_root)
        run = RecipeRun(label, config.recipe, loaded.label, run_dir=run_dir, model_version=loaded.version)
        self.live_run = run
        p = self.progress
        p.max, p.value, p.bar_style = len(specs) + 1, 0, "info"
        self.status.value = f"recipe {config.recipe}: measuring {loaded.label} as it is..."

        def on_step(report: Report, done: int, total: int) -> None:
            run.reports.append(report)
            p.value = done + 1
            nxt = f"; running {specs[done]}..." if done < total else ""
            acc = "" if report.metric is None else f" {100 * report.metric:.2f}%"
            self.status.value = f"recipe {config.recipe}: {done}/{total} steps done ({report.step}{acc}){nxt}"
            self._show_table(run, config.cost_weights())
            save_recipe_run(run, config, loaded.description)     # a kernel restart loses no finished step

        try:
            result = run_recipe(loaded.model, specs, loaded.data, config.options(), keep_models=True, stop=stop,
                                on_step=on_step)
        except ValueError as err:
            failed = specs[len(run.reports) - 1] if run.reports else None
            run.error = (f"step {str(failed)!r}: " if failed is not None else "") + readable_error(err)
            save_recipe_run(run, config, loaded.description)
            self.error = run.error
            self.show_message(f"The recipe failed at {run.error}" + (" (the steps before it are in the table)"
                                                                     if len(run.reports) > 1 else ""), "error")
            self.status.value = f"failed: {run.error}"
            p.bar_style = "danger"
            return
        run.models, run.stopped = result.models, result.stopped
        save_recipe_run(run, config, loaded.description)
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
            self.status.value = (f"stopped: recipe {config.recipe} ended after {len(run.reports) - 1}/{len(specs)} "
                                 f"steps; {summary}; saved in {run_dir.name}")
        else:
            self.status.value = f"done: recipe {config.recipe}: {summary}; saved in {run_dir.name}"

    def _show_table(self, run: RecipeRun, weights: CostWeights) -> None:
        ref = run.reports[0]
        rows = [{k: report_row(r, ref, weights)[k] for k in TABLE_COLUMNS} for r in run.reports]
        self.recipe_rows = rows
        notes = [f"{r.step}: {n}" for r in run.reports for n in r.notes]
        caption = (f"{run.label}{' (stopped)' if run.stopped else ''} - KB: real file on disk (packed format), "
                   f"x_smaller vs the first row, us: median at batch 1 (- when not timed), f = "
                   f"{weights.flops:g}·C/C0 + {weights.bytes:g}·S/S0 + {weights.latency:g}·L/L0")
        notes_html = ("<ul style='font-size:12px;margin:2px 0'>" + "".join(f"<li>{_esc(n)}</li>" for n in notes)
                      + "</ul>") if notes else ""
        self.recipe_table.value = html_table(rows, columns=TABLE_COLUMNS, digits=2, caption=caption) + notes_html

    def _on_weights_change(self) -> None:
        if self._quiet or not self.runs:
            return
        try:
            weights = self.read_recipe().cost_weights()
        except ValueError as err:
            self.show_message(f"Cannot use these weights: {readable_error(err)}", "error")
            return
        if self.message_text.startswith("Cannot use these weights"):
            self.show_message("")
        self._show_table(self.runs[-1], weights)

    def _show_pareto(self) -> None:
        if not self.runs:
            self.pareto_view.clear("every recipe run lands on the Pareto plot here")
            return
        self.pareto_view.show(pareto({r.label: r.reports for r in self.runs},
                                     title="accuracy vs real bytes: every step of every recipe run"))

    def clear_runs(self) -> None:
        """Forget this session's recipe runs (the table, the Pareto plot); their folders stay on disk."""
        if self.running:
            self.show_message("A job is running: press Stop or wait before clearing the runs.", "warning")
            return
        self.runs, self.recipe_rows, self.live_run = [], [], None
        self.recipe_table.value = "<i>the step-by-step table appears here after Run recipe</i>"
        self._show_pareto()

    def load_saved(self, run_dir: str | Path) -> RecipeRun:
        """Add a recipe run saved earlier (its ``recipe.json``) to the table and the Pareto plot."""
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

    # --- 4 Export ---------------------------------------------------------------------------------------------
    def _export(self, config: RecipeConfig, loaded: LoadedModel, stop: threading.Event) -> None:
        run = next((r for r in reversed(self.runs) if r.model_version == loaded.version and r.models), None)
        measure_config = config.measure()
        self.progress.max, self.progress.value, self.progress.bar_style = 3, 0, "info"
        modes: tuple[str, ...] = ()
        torch_int8: Report | None = None
        if run is not None:
            i = run.last_float_index()
            model, torch_report, run_dir = run.models[i], run.reports[i], run.run_dir
            what = f"{run.reports[i].step} of recipe {run.recipe}"
            if i < len(run.reports) - 1:            # the recipe ended in int8: quantize the ONNX file too
                last = run.steps[-1]
                modes = ("dynamic",) if (last.value or "dynamic") == "dynamic" else ("static",)
                torch_int8 = run.reports[-1]
        else:
            model, run_dir, what = loaded.model, new_run_dir(f"compress-{loaded.label}-export",
                                                             root=self.runs_root), f"{loaded.label} as it is"
            self.status.value = f"measuring {loaded.label} in torch..."
            torch_report = measure(model, loaded.data, "fp32", measure_config)
        if measure_config.latency:              # time torch now, next to ONNX Runtime: ratios from one sitting
            self.status.value = "timing the torch model(s)..."
            torch_report = _retimed(torch_report, model, loaded.data, measure_config)
            if torch_int8 is not None:
                torch_int8 = _retimed(torch_int8, run.models[-1], loaded.data, measure_config)
        path = Path(run_dir) / "model.onnx"
        self.status.value = f"exporting {what} to {path.name} and running ONNX Runtime..."
        self.progress.value = 1
        reports = deploy(model, path, loaded.data, quantize=modes, config=measure_config)
        self.progress.value = 2
        onnx = reports[0]
        rows = [_export_row(f"torch eager ({torch_report.step})", torch_report, torch_report)]
        rows.append(_export_row("ONNX Runtime", onnx, torch_report))
        if torch_int8 is not None:
            rows.append(_export_row(f"torch eager ({torch_int8.step})", torch_int8, torch_report))
        rows += [_export_row(f"ONNX Runtime {r.step.removeprefix('onnx-')}", r, torch_report) for r in reports[1:]]
        diffs, atol = onnx.extra["max_abs_diff"], onnx.extra["atol"]
        self.export_summary = ExportSummary(path, onnx.extra["files"], onnx.file_bytes, diffs, atol, rows, reports)
        atomic_write_text(Path(run_dir) / EXPORT_FILE, json.dumps(
            {"exported": what, "path": str(path), "max_abs_diff": diffs, "atol": atol, "rows": rows,
             "reports": [r.as_dict() for r in reports]}, indent=1, default=str))
        parity = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        timing = "" if measure_config.latency else \
            " (latency not measured: tick 'time every step' in the Recipe tab for the speed columns)"
        self.export_info.value = (
            f"<b>{_esc(str(path))}</b> ({onnx.file_bytes:,} bytes; exported: {_esc(what)})<br>"
            f"onnx.checker passed; ONNX Runtime vs torch max |difference| per output: {_esc(parity)} "
            f"(tolerance {atol:g}) - parity holds{_esc(timing)}"
            + html_table(rows, digits=2, caption="sizes: files on disk (torch rows: the packed or torch.save file); "
                                                 "us: median at batch 1; x_faster: eager torch time of the exported "
                                                 "float model / this time"))
        self.progress.value, self.progress.bar_style = 3, "success"
        self.status.value = f"exported {path.name} ({onnx.file_bytes:,} bytes), parity {parity} <= {atol:g}"

    def export_text(self) -> str:
        """The export table as plain text (for print)."""
        s = self.export_summary
        if s is None:
            return "(nothing exported yet)"
        parity = ", ".join(f"{k} {v:.1e}" for k, v in s.max_abs_diff.items())
        return (f"{s.path} ({s.bytes:,} bytes); ONNX Runtime vs torch max abs diff: {parity} (tolerance {s.atol:g})\n"
                + format_table(s.rows))


def _retimed(report: Report, model: nn.Module, data: MultiTaskData, config: MeasureConfig) -> Report:
    """``report`` with the latency of ``model`` measured now (batch and threads of ``config``)."""
    x = example_input(model, data, config.batch_size)
    with eval_mode(model):
        latency = time_call(lambda: model(x), config.repeats, config.warmup, config.threads)
    return report.with_(latency_ms=latency, latency_batch=config.batch_size, threads=config.threads)


def _export_row(name: str, report: Report, torch_fp32: Report) -> dict[str, Any]:
    speedup = (torch_fp32.latency_ms / report.latency_ms) if torch_fp32.latency_ms and report.latency_ms else None
    return {"model": name, "runtime": report.runtime,
            "acc_%": None if report.metric is None else 100 * report.metric,
            "KB": None if report.bytes is None else report.bytes / KB,
            "us": None if report.latency_ms is None else 1000 * report.latency_ms, "x_faster": speedup}


def _esc(text: str) -> str:
    import html

    return html.escape(text)
