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
"""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, get_args, get_type_hints

import ipywidgets as widgets
import numpy as np

from ..adversarial import AdversarialTraining, input_range, robust_accuracy
from ..checkpoint import CheckpointCallback
from ..compare import StrategyResult, run_strategy
from ..coupling import BLOCKS, COUPLINGS, SystemConfig, build_system
from ..data import DIGITS_TASKS, MNIST1D_TASKS, STRUCTURES, MultiTaskData, load_data
from ..history import History
from ..runs import new_run_dir, save_run
from ..settings import fast_mode
from ..tables import format_table
from ..train import Callback, NonFiniteLossError, TrainConfig
from ..viz import W_heatmaps, module_labels, training_curves
from ..weighting import WEIGHTINGS, Weighting, make_weighting
from ..validation import _is_int, check_bool, check_floats, check_seed, normalise_fields, show
from .base import DESCRIPTION_STYLE, Job, Throttle, TrainingPanel
from .panel_checks import check_rate, check_shape_settings, check_weighting_options
from .adversarial_options import adversarial_training, adversarial_widgets
from .figure_view import FigureView
from .html import html_table

OPTIMIZERS: tuple[str, ...] = get_args(get_type_hints(TrainConfig)["optimizer"])


@dataclass(frozen=True)
class DataChoice:
    """A dataset the playground offers: ``tasks`` in module order (None: one synthetic task per module)."""

    label: str
    tasks: tuple[str, ...] | None
    max_modules: int
    full_size: int | None      # examples (None = the whole dataset)
    fast_size: int             # examples with LAB_FAST=1


DATA_CHOICES: dict[str, DataChoice] = {
    "digits": DataChoice("digits: digit, parity, >=5, loops (8x8 images)", DIGITS_TASKS, len(DIGITS_TASKS), None, 400),
    "mnist1d": DataChoice("MNIST-1D: digit, parity, >=5 (1-D signals)", MNIST1D_TASKS, len(MNIST1D_TASKS), 4000, 600),
    "synthetic": DataChoice("synthetic tasks with a known W*", None, 8, 2000, 600),
}
DEFAULT_BASELINES: tuple[str, ...] = ("independent", "pipeline", "ensemble", "shared")


def parse_floats(text: str, what: str) -> tuple[float, ...] | None:
    """``"1, 0.5"`` -> (1.0, 0.5); empty text -> None."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{what}: expected numbers separated by commas (e.g. 1, 0.5), got {text!r}") from None


def parse_options(text: str) -> tuple[tuple[str, float], ...]:
    """``"alpha=1.5, temperature=2"`` -> (("alpha", 1.5), ("temperature", 2.0)); empty text -> ()."""
    out = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep or not key.strip().isidentifier():
                raise ValueError
            out.append((key.strip(), float(value)))
        except ValueError:
            raise ValueError(f"weighting options: expected name=number pairs separated by commas "
                             f"(e.g. alpha=1.5), got {part!r}") from None
    return tuple(out)


@dataclass(frozen=True)
class PlaygroundConfig:
    """Everything the playground's widgets choose. ``num_modules`` = number of tasks (module i runs task i).

    ``w_init`` = (self, others) initial W; ``task_weights``: lambda per task for the
    ``fixed`` weighting; ``weighting_options``: keyword arguments of other weightings;
    ``baselines``: strategies trained after yours with the same data, seed and budget;
    ``adversarial``: "off" or the attack (fgsm/pgd) of adversarial training - ``adv_ratio`` of
    every batch is replaced by examples attacked with radius ``adv_eps`` (input units, inputs
    clamped to their range), for your run and the baselines alike;
    ``small_data``: a seeded subset of the data (``LAB_FAST``).
    """

    data: str = "digits"
    structure: str = "chain"
    num_modules: int = 4
    width: int = 64
    stages: int = 2
    block: str = "mlp"
    strategy: str = "cross_stitch"
    w_init: tuple[float, float] = (0.9, 0.1)
    optimizer: str = "adam"
    lr: float = 3e-3
    epochs: int = 20
    batch_size: int = 64
    weighting: str = "equal"
    task_weights: tuple[float, ...] | None = None
    weighting_options: tuple[tuple[str, float], ...] = ()
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    adversarial: str = "off"
    adv_eps: float = 0.1
    adv_ratio: float = 0.5
    seed: int = 0
    small_data: bool = False

    def __post_init__(self) -> None:
        if self.data not in DATA_CHOICES:
            raise ValueError(f"unknown data {self.data!r}; choose from {list(DATA_CHOICES)}")
        choice = DATA_CHOICES[self.data]
        if self.data == "synthetic" and self.structure not in STRUCTURES:
            raise ValueError(f"unknown W* structure {self.structure!r}; choose from {list(STRUCTURES)}")
        if not _is_int(self.num_modules) or not 2 <= self.num_modules <= choice.max_modules:
            raise ValueError(f"{self.data} offers 2 to {choice.max_modules} modules (one per task), "
                             f"got {show(self.num_modules)}")
        check_shape_settings(self)
        normalise_fields(self, {"num_modules": int(self.num_modules), "seed": check_seed(self.seed),
                                "small_data": check_bool("small_data", self.small_data),
                                "w_init": tuple(self.w_init) if isinstance(self.w_init, list) else self.w_init})
        if not isinstance(self.baselines, (tuple, list)) or isinstance(self.baselines, str):
            raise ValueError(f"baselines must be a list of strategies, got {show(self.baselines)}")
        if self.strategy not in COUPLINGS:
            raise ValueError(f"unknown coupling strategy {self.strategy!r}; choose from {list(COUPLINGS)}")
        unknown = [b for b in self.baselines if b not in COUPLINGS]
        if unknown:
            raise ValueError(f"unknown baseline strategies {unknown}; choose from {list(COUPLINGS)}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown loss weighting {self.weighting!r}; choose from {list(WEIGHTINGS)}")
        if self.task_weights is not None:
            check_floats("task weights", self.task_weights, min=0.0, max=1e6)
            if len(self.task_weights) != self.num_modules:
                raise ValueError(f"give one task weight per task: got {len(self.task_weights)} weights "
                                 f"{list(self.task_weights)} for {self.num_modules} tasks {list(self.task_names)}")
            if not all(math.isfinite(w) and w >= 0 for w in self.task_weights):
                raise ValueError(f"task weights must be finite and >= 0, got {list(self.task_weights)}")
        check_weighting_options(self.weighting_options)
        object.__setattr__(self, "lr", check_rate("learning rate", self.lr))
        self.adversarial_training(None)   # checks the kind, eps and ratio
        self.system_config()   # SystemConfig and TrainConfig check the rest
        self.train_config()

    @property
    def task_names(self) -> tuple[str, ...]:
        tasks = DATA_CHOICES[self.data].tasks
        return tasks[:self.num_modules] if tasks is not None else tuple(f"task{i}" for i in range(self.num_modules))

    def strategies(self) -> list[str]:
        """Yours first, then the baselines (without repeating yours)."""
        return [self.strategy] + [b for b in self.baselines if b != self.strategy]

    def data_kwargs(self) -> dict[str, Any]:
        choice = DATA_CHOICES[self.data]
        size = choice.fast_size if self.small_data else choice.full_size
        if self.data == "digits":
            return {"tasks": self.task_names, "seed": self.seed, "limit": size}
        if self.data == "mnist1d":
            return {"tasks": self.task_names, "seed": 42 + self.seed, "num_samples": size}
        return {"num_modules": self.num_modules, "structure": self.structure, "seed": self.seed, "num_samples": size}

    def load_data(self) -> MultiTaskData:
        return load_data(self.data, **self.data_kwargs())

    def system_config(self, strategy: str | None = None) -> SystemConfig:
        return SystemConfig(strategy=strategy or self.strategy, block=self.block, widths=(self.width,) * self.stages,
                            w_init=self.w_init, seed=self.seed)

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer=self.optimizer,
                           task_weights=self.task_weights if self.weighting == "fixed" else None, seed=self.seed)

    def make_weighting(self) -> Weighting:
        """A fresh weighting object (one per run: weightings keep state)."""
        options = dict(self.weighting_options)
        if self.weighting == "fixed":
            if options:
                raise ValueError(f"the fixed weighting takes its lambdas in 'task weights', not options {options}")
            return make_weighting("fixed", weights=self.task_weights)
        return make_weighting(self.weighting, **options)  # ValueError names bad options

    def adversarial_training(self, data: MultiTaskData | None) -> AdversarialTraining | None:
        """None when off; else the adversarial training (inputs clamped to ``data``'s range)."""
        return adversarial_training(self.adversarial, self.adv_eps, self.adv_ratio,
                                    input_range(data) if data is not None else None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["weighting_options"] = dict(self.weighting_options)
        return d


class _LiveUpdates(Callback):
    """Progress, status and (for your run) the live W heatmap and loss curves, throttled."""

    def __init__(self, panel: "CouplingPlayground", label: str, epochs: int, live: bool):
        self.panel, self.label, self.epochs, self.live = panel, label, epochs, live
        self.step_throttle = Throttle(panel.update_interval)
        self.epoch_throttle = Throttle(panel.update_interval)
        self.system = None
        self.history: History | None = None

    def on_train_start(self, system, history):
        self.system, self.history = system, history
        p = self.panel
        p.progress.value, p.progress.bar_style = 0, "info"
        p.status.value = f"training {self.label}: epoch 0/{self.epochs}"
        if self.live:
            p._show_W(system, history, title=f"W of {system.strategy} before training")
            p.curves_view.clear("loss curves appear after the first epoch")

    def on_step_end(self, info):
        self.history.extra["steps_per_epoch"] = info.steps_per_epoch
        if not self.step_throttle.ready():
            return
        p = self.panel
        p.progress.max = info.steps_per_epoch * self.epochs
        p.progress.value = info.global_step
        p.status.value = (f"training {self.label}: epoch {info.epoch}/{self.epochs}, "
                          f"step {info.step}/{info.steps_per_epoch}")
        if self.live:
            p._show_W(self.system, self.history, title=f"W of {self.system.strategy}, epoch {info.epoch} "
                                                       f"step {info.step} (live)")
        self.step_throttle.done()

    def on_epoch_end(self, system, history):
        if self.live:
            self.panel.epochs_done = history.num_epochs
            if self.epoch_throttle.ready():
                self.panel.curves_view.show(training_curves(history), fields=("x", "y"))
                self.epoch_throttle.done()

    def on_train_end(self, system, history):
        p = self.panel
        done = history.num_epochs
        p.progress.max = max(1, len(history.step_loss))
        p.progress.value = p.progress.max
        p.progress.bar_style = "warning" if history.stopped else "success"
        p.status.value = f"{self.label}: {'stopped after' if history.stopped else 'finished'} {done}/{self.epochs} epochs"
        if self.live:
            p.epochs_done = done
            p._show_W(system, history, title=f"W of {system.strategy} after {done} epochs"
                      + (" (stopped)" if history.stopped else ""))
            p.curves_view.show(training_curves(history))


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
        if config is None:
            fast = fast_mode()
            config = PlaygroundConfig(epochs=3 if fast else 20, small_data=fast)
        self.small_data = config.small_data
        s = DESCRIPTION_STYLE
        wide = lambda: widgets.Layout(width="330px")  # noqa: E731  (one Layout per widget)
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
        self._data_cache: dict[str, MultiTaskData] = {}

        column = lambda title, *ws: widgets.VBox([widgets.HTML(f"<b>{title}</b>"), *ws])  # noqa: E731
        settings = widgets.HBox([
            column("data and modules", self.data, self.structure, self.num_modules, self.width, self.stages,
                   self.block),
            column("coupling and optimiser", self.strategy, self.w_self, self.w_other, self.optimizer, self.lr,
                   self.epochs, self.batch_size, self.seed),
            column("loss and baselines", self.weighting, self.task_weights, self.weighting_options,
                   self.baselines, self.adversarial, self.adv_eps, self.adv_ratio),
        ])
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
        key = repr(sorted(config.data_kwargs().items())) + config.data
        if key not in self._data_cache:
            self._data_cache[key] = config.load_data()
        return self._data_cache[key]

    def prepare(self) -> Job:
        config = self.read_config()
        data = self._load(config)
        for strategy in config.strategies():    # fail now, with the reason, not halfway through
            build_system(data, config.system_config(strategy))
        config.make_weighting()
        config.adversarial_training(data)
        return partial(self._train_all, config, data)

    def _show_W(self, system, history: History, title: str) -> None:
        mats = [W.detach().cpu().numpy() for W in system.coupling_matrices()]
        fw = self.W_view.figure
        if fw is not None and all(t.type == "heatmap" and np.shape(t.z) == W.shape for t, W in zip(fw.data, mats)):
            zmax = max(max(float(np.abs(W).max()) for W in mats), 1e-6)    # cheap in-place update
            if self.W_view.restyle([dict(z=W, zmin=-zmax, zmax=zmax) for W in mats], title):
                return
        labels = module_labels(history, mats[0].shape[0])
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
            callbacks = [_LiveUpdates(self, label, config.epochs, live=main)]
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
        rows = []
        for k, r in enumerate(self.results):
            base = r.row()
            row = {"run": "yours" if k == 0 else "baseline", "strategy": r.strategy,
                   "epochs": f"{r.history.num_epochs}/{config.epochs}"}
            row.update({t: base[t] for t in data.task_names})
            row["mean"] = base["mean"]
            robust = r.history.extra.get("robust_metric")
            if robust is not None:
                row["robust"] = sum(robust["metric"].values()) / len(robust["metric"])
            if "W_auc" in base:
                row["W_auc"] = base["W_auc"]
            row.update(params=base["params"], train_s=base["train_s"])
            rows.append(row)
        self.result_rows = rows
        metrics = sorted({t.metric for t in data.tasks})
        caption = (f"test {'/'.join(metrics)} per task on {data.name} ({len(data.train)} training examples), "
                   f"same seed {config.seed}, {config.epochs} epochs, widths {[config.width] * config.stages}, "
                   f"{config.weighting} weighting" + ("; W_auc: recovery of W* (1 = perfect)"
                                                      if data.W_true is not None else "")
                   + (f"; adversarially trained ({config.adversarial} eps {config.adv_eps:g}, share "
                      f"{config.adv_ratio:g}), robust: mean {'/'.join(metrics)} under that attack"
                      if config.adversarial != "off" else ""))
        self.results_table.value = html_table(rows, highlight=[0], caption=caption)

    def results_text(self) -> str:
        """The results table as plain text (for print)."""
        return format_table(self.result_rows)
