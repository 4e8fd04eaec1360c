"""Coupling playground: pick data, modules and a coupling strategy, train, watch W live,
and compare with baselines trained with the same budget.

    pg = CouplingPlayground()      # in a notebook: display(pg) shows the panel
    pg.strategy.value = "cross_stitch"; pg.epochs.value = 10
    pg.train_button.click()        # trains in a background thread; Stop ends it
    pg.wait()                      # or pg.run() to train in the calling thread
    pg.history, pg.result_rows     # the History of your run, the results table as rows

The widgets build a :class:`PlaygroundConfig` (validated, saved with every run).
Adversarial training (off by default: ``pg.adversarial.value = "fgsm"``, ``adv_eps``,
``adv_ratio``) applies to your run and the baselines; the table then adds each one's
robust test metric under that attack.
Every run - yours and each baseline - is saved under ``runs/<timestamp>-<data>-<strategy>/``
(``$LAB_RUNS`` moves it); your run is checkpointed after every epoch, so a kernel
restart loses nothing.

This module holds the panel (widgets, training thread, display); its config is in
``playground_config``, the live-update callback in ``playground_live`` and the results table
in ``lab.result_tables.strategy_rows``.
"""
from __future__ import annotations

import threading
from functools import partial
from typing import Any

import ipywidgets as widgets
import numpy as np

from ..adversarial import robust_accuracy
from ..checkpoint import CheckpointCallback
from ..compare import StrategyResult, run_strategy
from ..coupling import BLOCKS, COUPLINGS, build_system
from ..data import STRUCTURES, MultiTaskData
from ..history import History
from ..result_tables import strategy_rows
from ..runs import new_run_dir, save_run
from ..settings import fast_mode
from ..tables import format_table
from ..train import NonFiniteLossError
from ..viz import W_heatmaps, module_labels
from ..weighting import WEIGHTINGS
from .adversarial_options import adversarial_widgets
from .base import DESCRIPTION_STYLE, Job, TrainingPanel, field_layout, settings_row, titled_column
from .choices import DATA_CHOICES, DataChoice
from .figure_view import FigureView
from .html import html_table
from .parsing import parse_floats, parse_options
from .playground_config import DEFAULT_BASELINES, OPTIMIZERS, PlaygroundConfig
from .playground_live import LiveUpdates

__all__ = ["DATA_CHOICES", "DEFAULT_BASELINES", "OPTIMIZERS", "CouplingPlayground", "DataChoice", "PlaygroundConfig",
           "parse_floats", "parse_options"]


class CouplingPlayground(TrainingPanel):
    """The playground panel (see the module docstring). ``config`` sets the initial widget values.

    After training: ``history``/``system`` (your run), ``results`` (one ``StrategyResult``
    per trained strategy, yours first), ``result_rows`` (the results table), ``run_dirs``
    (where each run was saved), ``epochs_done``/``epochs_planned`` (your run).
    """

    title = "Coupling playground"

    def __init__(self, config: PlaygroundConfig | None = None, *, runs_root=None, update_interval: float = 0.25,
                 num_threads: int | None = 1):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        if config is None:       # the CLI's defaults (LAB_FAST: 3 epochs on a small subset, as the CLI)
            config = PlaygroundConfig(epochs=3, small_data=True) if fast_mode() else PlaygroundConfig()
        self.small_data = config.small_data
        s = DESCRIPTION_STYLE
        wide = field_layout          # one Layout per widget: 330 px, narrower when the notebook is
        self.data = widgets.Dropdown(options=[(c.label, k) for k, c in DATA_CHOICES.items()], description="data",
                                     style=s, layout=wide())
        self.structure = widgets.Dropdown(options=list(STRUCTURES), description="W* structure", style=s, layout=wide())
        self.num_modules = widgets.IntSlider(min=2, max=4, description="modules (tasks)", style=s, layout=wide(),
                                             continuous_update=False)
        self.width = widgets.IntSlider(min=4, max=256, step=4, description="width", style=s, layout=wide(),
                                       continuous_update=False)
        self.stages = widgets.IntSlider(min=1, max=4, description="stages", style=s, layout=wide(),
                                        continuous_update=False)
        self.block = widgets.Dropdown(options=list(BLOCKS), description="block", style=s, layout=wide())
        self.strategy = widgets.Dropdown(options=list(COUPLINGS), description="coupling", style=s, layout=wide())
        self.strategy.add_class("lab-strategy")
        self.w_self = widgets.FloatSlider(min=0, max=1, step=0.05, description="W init: self", style=s, layout=wide(),
                                          continuous_update=False)
        self.w_other = widgets.FloatSlider(min=0, max=1, step=0.05, description="W init: others", style=s,
                                           layout=wide(), continuous_update=False)
        self.optimizer = widgets.Dropdown(options=list(OPTIMIZERS), description="optimiser", style=s, layout=wide())
        self.lr = widgets.FloatText(description="learning rate", style=s, layout=wide())
        self.epochs = widgets.BoundedIntText(min=1, max=1000, description="epochs", style=s, layout=wide())
        self.epochs.add_class("lab-epochs")
        self.batch_size = widgets.BoundedIntText(min=1, max=4096, description="batch size", style=s, layout=wide())
        self.seed = widgets.IntText(description="seed", style=s, layout=wide())
        self.seed.add_class("lab-seed")
        self.weighting = widgets.Dropdown(options=list(WEIGHTINGS), description="loss weighting", style=s,
                                          layout=wide())
        self.task_weights = widgets.Text(description="task weights", placeholder="one lambda per task, e.g. 1, 0.5",
                                         style=s, layout=wide())
        self.weighting_options = widgets.Text(description="weighting options", placeholder="e.g. alpha=1.5",
                                              style=s, layout=wide())
        self.baselines = widgets.SelectMultiple(options=list(COUPLINGS), description="baselines", rows=len(COUPLINGS),
                                                style=s, layout=wide())
        self.adversarial, self.adv_eps, self.adv_ratio = adversarial_widgets(s, wide)
        self.data.observe(self._on_data_change, names="value")
        self.weighting.observe(lambda _: self._sync_visibility(), names="value")
        self.adversarial.observe(lambda _: self._sync_visibility(), names="value")
        self.set_config(config)

        self.W_view = FigureView(css_class="lab-W-view", placeholder="W appears here when training starts")
        self.curves_view = FigureView(css_class="lab-curves-view", placeholder="loss curves appear here")
        self.results_table = widgets.HTML("<i>results of your run and the baselines appear here</i>")
        self.results_table.add_class("lab-results")
        self.history: History | None = None
        self.system = None
        self.results: list[StrategyResult] = []
        self.result_rows: list[dict[str, Any]] = []
        self.run_dirs: list = []
        self.epochs_done = 0
        self.epochs_planned = 0
        self._data_cache: dict[Any, MultiTaskData] = {}

        settings = settings_row(
            titled_column("data and modules", self.data, self.structure, self.num_modules, self.width, self.stages,
                          self.block),
            titled_column("coupling and optimiser", self.strategy, self.w_self, self.w_other, self.optimizer,
                          self.lr, self.epochs, self.batch_size, self.seed),
            titled_column("loss and baselines", self.weighting, self.task_weights, self.weighting_options,
                          self.baselines, self.adversarial, self.adv_eps, self.adv_ratio),
        )
        header = widgets.HTML("<h3 style='margin:4px 0'>Coupling playground</h3>"
                              "Choose data, modules and a coupling, press <b>Train</b>; W and the losses update "
                              "while it trains. <b>Stop</b> ends training early and keeps what was learned.")
        self.ui = widgets.VBox([header, settings, self.controls, self.message, self.W_view.box,
                                self.curves_view.box, widgets.HTML("<b>results (test set)</b>"),
                                self.results_table])
        self.ui.add_class("lab-playground")

    # --- widgets <-> config ----------------------------------------------------------------------------
    def set_config(self, config: PlaygroundConfig) -> None:
        """Put ``config`` into the widgets."""
        self.small_data = config.small_data
        self.data.value = config.data
        self._on_data_change()
        self.structure.value = config.structure
        self.num_modules.value = config.num_modules
        self.width.value, self.stages.value, self.block.value = config.width, config.stages, config.block
        self.strategy.value = config.strategy
        self.w_self.value, self.w_other.value = config.w_init
        self.optimizer.value, self.lr.value = config.optimizer, config.lr
        self.epochs.value, self.batch_size.value, self.seed.value = config.epochs, config.batch_size, config.seed
        self.weighting.value = config.weighting
        self.task_weights.value = ", ".join(f"{w:g}" for w in config.task_weights or ())
        self.weighting_options.value = ", ".join(f"{k}={v:g}" for k, v in config.weighting_options)
        self.baselines.value = tuple(b for b in config.baselines if b in COUPLINGS)
        self.adversarial.value, self.adv_eps.value, self.adv_ratio.value = (config.adversarial, config.adv_eps,
                                                                            config.adv_ratio)
        self._sync_visibility()

    def read_config(self) -> PlaygroundConfig:
        """The widgets' values as a validated config (ValueError with the reason otherwise)."""
        weighting = self.weighting.value
        return PlaygroundConfig(
            data=self.data.value, structure=self.structure.value, num_modules=self.num_modules.value,
            width=self.width.value, stages=self.stages.value, block=self.block.value, strategy=self.strategy.value,
            w_init=(self.w_self.value, self.w_other.value), optimizer=self.optimizer.value, lr=self.lr.value,
            epochs=self.epochs.value, batch_size=self.batch_size.value, weighting=weighting,
            task_weights=parse_floats(self.task_weights.value, "task weights") if weighting == "fixed" else None,
            weighting_options=parse_options(self.weighting_options.value) if weighting not in ("equal", "fixed")
            else (), baselines=tuple(self.baselines.value), adversarial=self.adversarial.value,
            adv_eps=self.adv_eps.value, adv_ratio=self.adv_ratio.value, seed=self.seed.value,
            small_data=self.small_data)

    def _on_data_change(self, change=None) -> None:
        choice = DATA_CHOICES[self.data.value]
        value = self.num_modules.value
        self.num_modules.max = choice.max_modules
        self.num_modules.value = min(value if change is not None else choice.max_modules, choice.max_modules)
        self._sync_visibility()

    def _sync_visibility(self) -> None:
        show = lambda w, on: setattr(w.layout, "display", None if on else "none")  # noqa: E731
        show(self.structure, self.data.value == "synthetic")
        show(self.task_weights, self.weighting.value == "fixed")
        show(self.weighting_options, self.weighting.value not in ("equal", "fixed"))
        show(self.adv_eps, self.adversarial.value != "off")
        show(self.adv_ratio, self.adversarial.value != "off")

    # --- training ----------------------------------------------------------------------------------------
    def _load(self, config: PlaygroundConfig) -> MultiTaskData:
        key = config.data_selection
        if key not in self._data_cache:
            self._data_cache[key] = key.load()
        return self._data_cache[key]

    def prepare(self) -> Job:
        config = self.read_config()
        data = self._load(config)
        systems = [build_system(data, config.system_config(strategy))    # fail now, with the reason, not
                   for strategy in config.strategies()]                   # halfway through
        config.make_weighting()
        config.adversarial_training(data)
        # your run's W before training depends on the settings only (w_init), not on the seed: on screen now,
        # with the click's first response, instead of after the training thread has built its own system
        self._show_W(systems[0], None, title=f"W of {systems[0].strategy} before training")
        return partial(self._train_all, config, data)

    def _show_W(self, system, history: History | None, title: str) -> None:
        """Show ``system``'s W, its rows and columns named after ``history``'s tasks (None: the system's), the
        data's, not the last run's: the cheap in-place update is taken only when the shapes and the module
        names both match."""
        mats = [W.detach().cpu().numpy() for W in system.coupling_matrices()]
        n = mats[0].shape[0]
        labels = (module_labels(history, n) if history is not None else
                  list(system.task_names) if len(system.task_names) == n else [f"m{i}" for i in range(n)])
        fw = self.W_view.figure
        if fw is not None and len(fw.data) == len(mats) and all(
                t.type == "heatmap" and np.shape(t.z) == W.shape and list(t.x) == labels and list(t.y) == labels
                for t, W in zip(fw.data, mats)):
            if fw.layout.title.text == title and all(np.array_equal(np.asarray(t.z), W)
                                                     for t, W in zip(fw.data, mats)):
                return                                                     # on screen already: send nothing
            zmax = max(max(float(np.abs(W).max()) for W in mats), 1e-6)    # cheap in-place update
            if self.W_view.restyle([dict(z=W, zmin=-zmax, zmax=zmax) for W in mats], title):
                return
        self.W_view.show(W_heatmaps(mats, labels, title=title))

    def _train_all(self, config: PlaygroundConfig, data: MultiTaskData, stop: threading.Event) -> None:
        self.history, self.system = None, None
        self.results, self.result_rows, self.run_dirs = [], [], []
        self.epochs_done, self.epochs_planned = 0, config.epochs
        self.results_table.value = "<i>training...</i>"
        strategies = config.strategies()
        baselines = len(strategies) - 1
        adversarial = config.adversarial_training(data)
        for k, strategy in enumerate(strategies):
            if stop.is_set():
                break
            main = k == 0
            label = strategy if main else f"baseline {strategy} ({k}/{baselines})"
            run_dir = new_run_dir(f"{data.name}-{strategy}", root=self.runs_root)
            callbacks = [LiveUpdates(self, label, config.epochs, live=main)]
            if main:
                callbacks.append(CheckpointCallback(run_dir))   # a kernel restart loses nothing
            try:
                result = run_strategy(data, config.system_config(strategy), config.train_config(),
                                      weighting=config.make_weighting(), callbacks=callbacks, stop=stop,
                                      adversarial=adversarial)
            except NonFiniteLossError as err:      # keep the epochs that finished, then report
                err.history.save(run_dir / "history.json")
                raise
            result.history.extra["playground"] = config.to_dict()
            if adversarial is not None:     # robust test metric under the training attack
                robust = robust_accuracy(result.system, data.test, adversarial.attack, seed=config.seed)
                result.history.extra["robust_metric"] = {"attack": adversarial.attack.to_dict(), "metric": robust}
            save_run(run_dir, result.system, result.history,
                     config={**result.history.config, "playground": config.to_dict(),
                             "role": "yours" if main else "baseline"})
            if main:
                self.history, self.system = result.history, result.system
            self.results.append(result)
            self.run_dirs.append(run_dir)
            self._show_results(config, data)
        trained = f"{config.strategy} trained {self.epochs_done}/{config.epochs} epochs"
        finished = sum(1 for r in self.results[1:] if not r.history.stopped)
        if stop.is_set():
            self.status.value = (f"stopped: {trained}" + ("; baselines skipped" if len(self.results) == 1 else
                                                          f"; {finished} of {baselines} baselines finished"))
        else:
            self.status.value = (f"done: {trained}" + (f" and {baselines} baselines" if baselines else "")
                                 + f"; saved in {self.run_dirs[0]}")

    def _show_results(self, config: PlaygroundConfig, data: MultiTaskData) -> None:
        rows = strategy_rows(self.results, config.epochs, ["yours"] + ["baseline"] * (len(self.results) - 1))
        self.result_rows = rows
        metrics = sorted({t.metric for t in data.tasks})
        caption = (f"test {'/'.join(metrics)} per task on {data.name} ({len(data.train)} training examples), "
                   f"same seed {config.seed}, {config.epochs} epochs, widths {[config.width] * config.stages}, "
                   f"{config.weighting} weighting" + ("; W_auc: recovery of W* (1 = perfect)"
                                                      if data.W_true is not None else "")
                   + (f"; adversarially trained ({config.adversarial_choice.describe()}), robust: mean "
                      f"{'/'.join(metrics)} under that attack"
                      if config.adversarial != "off" else ""))
        self.results_table.value = html_table(rows, highlight=[0], caption=caption)

    def results_text(self) -> str:
        """The results table as plain text (for print)."""
        return format_table(self.result_rows)
