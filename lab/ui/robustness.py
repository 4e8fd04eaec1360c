"""Robustness panel: do coupled modules defend each other against adversarial inputs?

    rp = RobustnessPanel()          # in a notebook: display(rp) shows the panel
    rp.strategies.value = ("independent", "cross_stitch")
    rp.attack.value = "pgd"; rp.adversarial.value = "fgsm"     # optional adversarial training
    rp.train_button.click(); rp.wait()                          # or rp.run() in the calling thread
    rp.eps.value = 0.15             # re-evaluates robust accuracy per strategy, no retraining
    rp.result_rows, rp.curves       # the table at the slider's eps; {strategy: {eps: {task: metric}}}

Train trains every chosen strategy once (same data, architecture, seed and budget; with
adversarial training when chosen) in a background thread, then measures each one's test
metric under the attack at a few radii from 0 to the slider's maximum. Moving the **eps
slider** attacks the already-trained systems at that radius (cached per attack and eps,
so going back is free) and updates the figure (metric vs eps per strategy, a marker at
the slider) and the table. Changing the attack kind, PGD steps or attacked modules
after training re-evaluates too - only the training settings need Train.

Data: the digits (one image shared by the four modules: only "all" inputs can be
attacked) or synthetic tasks with a known W* (each module has its own input: attack
one module, e.g. ``0``, and watch whether coupling protects or spreads the damage).
Every trained system is saved under ``runs/<time>-<data>-robust-<strategy>/`` with its
robust-accuracy curve in ``history.extra["robust_curve"]``.

This module holds the panel's widgets and training; its config is in ``robustness_config``,
the attacks after training in ``robustness_attack`` (measured by ``lab.robust_curves``,
tabulated by ``lab.result_tables.robustness_rows``).
"""
from __future__ import annotations

import math
import threading
from functools import partial
from typing import Any

import ipywidgets as widgets

from ..adversarial import ATTACK_KINDS, input_range
from ..compare import run_strategy
from ..coupling import COUPLINGS, CoupledSystem, build_system
from ..data import STRUCTURES, MultiTaskData
from ..history import History
from ..robust_curves import AttackSettings, RobustCurves
from ..runs import new_run_dir, save_run
from .adversarial_options import adversarial_widgets
from .base import DESCRIPTION_STYLE, Job, TrainingPanel, field_layout, settings_row, titled_column
from .figure_view import FigureView
from .parsing import parse_modules
from .progress import ProgressUpdates
from .robustness_attack import AttackEvaluation
from .robustness_config import DEFAULT_STRATEGIES, ROBUST_DATA, SYNTHETIC_MODULES, RobustData, RobustnessConfig

__all__ = ["DEFAULT_STRATEGIES", "ROBUST_DATA", "SYNTHETIC_MODULES", "RobustData", "RobustnessConfig",
           "RobustnessPanel", "parse_modules"]


class RobustnessPanel(AttackEvaluation, TrainingPanel):
    """The robustness panel (see the module docstring). ``config`` sets the initial widget values.

    After training: ``systems``/``histories`` (per strategy, in the order trained),
    ``clean`` (test metric per task without attack), ``data``, ``trained_config``,
    ``run_dirs``; ``live_history`` the History of the run in progress; ``curves`` the robust
    metrics of the current attack settings ({strategy: {eps: {task: metric}}}); ``result_rows``
    the table at the slider's eps; ``evaluations`` counts attacked evaluations of a system at
    one radius (cached radii do not count).
    """

    title = "Robustness"

    def __init__(self, config: RobustnessConfig | None = None, *, runs_root=None, update_interval: float = 0.25,
                 num_threads: int | None = 1):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        config = config or RobustnessConfig.defaults()
        s = DESCRIPTION_STYLE
        wide = field_layout          # one Layout per widget: 330 px, narrower when the notebook is
        self.data_choice = widgets.Dropdown(options=[(c.label, k) for k, c in ROBUST_DATA.items()],
                                            description="data", style=s, layout=wide())
        self.structure = widgets.Dropdown(options=list(STRUCTURES), description="W* structure", style=s,
                                          layout=wide())
        self.strategies = widgets.SelectMultiple(options=list(COUPLINGS), description="strategies",
                                                 rows=len(COUPLINGS), style=s, layout=wide())
        self.width = widgets.IntSlider(min=4, max=256, step=4, description="width", style=s, layout=wide(),
                                       continuous_update=False)
        self.epochs = widgets.BoundedIntText(min=1, max=1000, description="epochs", style=s, layout=wide())
        self.epochs.add_class("lab-epochs")
        self.lr = widgets.FloatText(description="learning rate", style=s, layout=wide())
        self.seed = widgets.IntText(description="seed", style=s, layout=wide())
        self.attack = widgets.ToggleButtons(options=list(ATTACK_KINDS), description="attack", style=s)
        self.steps = widgets.BoundedIntText(min=1, max=100, description="PGD steps", style=s, layout=wide())
        self.modules = widgets.Text(description="attacked modules", placeholder="all, or e.g. 0 or 0, 2",
                                    style=s, layout=wide())
        self.eps_max = widgets.FloatText(description="largest eps", style=s, layout=wide(),
                                         tooltip="the eps slider's end (input units)")
        self.adversarial, self.adv_eps, self.adv_ratio = adversarial_widgets(s, wide, eps_label="training eps")
        self.eps = widgets.FloatSlider(min=0.0, max=1.0, step=0.005, description="attack eps", style=s,
                                       readout_format=".3f", continuous_update=False,
                                       layout=field_layout("520px"))
        self.eps.add_class("lab-eps")
        self._quiet = False
        self.small_data = config.small_data
        self._grid_points = config.grid_points
        self.set_config(config)

        self.figure_view = FigureView(css_class="lab-robust-view",
                                      placeholder="robust accuracy per strategy appears here after training")
        self.results_table = widgets.HTML("<i>clean and robust test metrics appear here after training</i>")
        self.results_table.add_class("lab-results")
        self.data: MultiTaskData | None = None
        self.trained_config: RobustnessConfig | None = None
        self.systems: dict[str, CoupledSystem] = {}
        self.histories: dict[str, History] = {}
        self.clean: dict[str, dict[str, float]] = {}
        self.run_dirs: dict[str, Any] = {}
        self.live_history: History | None = None
        self.result_rows: list[dict[str, Any]] = []
        self._robust = RobustCurves()           # robust metrics per attack settings, strategy and eps (cached)
        self._eval_lock = threading.Lock()
        self._data_cache: dict[Any, MultiTaskData] = {}

        self.data_choice.observe(self._on_data_change, names="value")
        self.attack.observe(lambda _: self._on_attack_change(), names="value")
        self.steps.observe(lambda _: self._on_attack_change(), names="value")
        self.modules.observe(lambda _: self._on_attack_change(), names="value")
        self.eps_max.observe(lambda _: self._on_eps_max_change(), names="value")
        self.eps.observe(lambda _: self.refresh(), names="value")
        self.adversarial.observe(lambda _: self._sync_visibility(), names="value")

        settings = settings_row(
            titled_column("data and strategies", self.data_choice, self.structure, self.strategies),
            titled_column("training", self.width, self.epochs, self.lr, self.seed, self.adversarial, self.adv_eps,
                          self.adv_ratio),
            titled_column("attack (changes re-evaluate, no retraining)", self.attack, self.steps, self.modules,
                          self.eps_max),
        )
        header = widgets.HTML("<h3 style='margin:4px 0'>Robustness: do coupled modules defend each other?</h3>"
                              "Press <b>Train</b> to train the chosen strategies once; then move the <b>eps</b> "
                              "slider: the trained systems are attacked at that radius (no retraining).")
        self.ui = widgets.VBox([header, settings, self.controls, self.message, self.eps, self.figure_view.box,
                                widgets.HTML("<b>results at the slider's eps (test set)</b>"), self.results_table])
        self.ui.add_class("lab-robustness")

    # --- widgets <-> config ----------------------------------------------------------------------------
    def set_config(self, config: RobustnessConfig) -> None:
        """Put ``config`` into the widgets."""
        self.small_data, self._grid_points = config.small_data, config.grid_points
        self._quiet = True
        try:
            self.data_choice.value, self.structure.value = config.data, config.structure
            self.strategies.value = tuple(config.strategies)
            self.width.value, self.epochs.value, self.lr.value, self.seed.value = (config.width, config.epochs,
                                                                                   config.lr, config.seed)
            self._stages, self._batch_size = config.stages, config.batch_size
            self.attack.value, self.steps.value = config.attack, config.steps
            self.modules.value = "all" if config.modules == "all" else ", ".join(map(str, config.modules))
            self.eps_max.value = config.eps_max
            self.eps.max, self.eps.step = config.eps_max, config.eps_max / 40
            self.eps.value = config.eps
            self.adversarial.value, self.adv_eps.value = config.adversarial, config.adv_eps
            self.adv_ratio.value = config.adv_ratio
        finally:
            self._quiet = False
        self._sync_visibility()

    def read_config(self) -> RobustnessConfig:
        """The widgets' values as a validated config (ValueError with the reason otherwise)."""
        return RobustnessConfig(
            data=self.data_choice.value, structure=self.structure.value, strategies=tuple(self.strategies.value),
            width=self.width.value, stages=self._stages, epochs=self.epochs.value, lr=self.lr.value,
            batch_size=self._batch_size, seed=self.seed.value, attack=self.attack.value, steps=self.steps.value,
            modules=parse_modules(self.modules.value), eps=self.eps.value, eps_max=self.eps_max.value,
            grid_points=self._grid_points, adversarial=self.adversarial.value, adv_eps=self.adv_eps.value,
            adv_ratio=self.adv_ratio.value, small_data=self.small_data)

    def _sync_visibility(self) -> None:
        show = lambda w, on: setattr(w.layout, "display", None if on else "none")  # noqa: E731
        show(self.structure, self.data_choice.value == "synthetic")
        show(self.modules, self.data_choice.value == "synthetic")
        show(self.steps, self.attack.value == "pgd" or self.adversarial.value == "pgd")
        show(self.adv_eps, self.adversarial.value != "off")
        show(self.adv_ratio, self.adversarial.value != "off")

    def _on_data_change(self, change=None) -> None:
        if self._quiet:
            return
        d = ROBUST_DATA[self.data_choice.value]
        self._quiet = True
        try:                                   # the attack radius means something else on each data set
            self.modules.value = d.modules
            self.eps_max.value = d.eps_max
            self.eps.max, self.eps.step, self.eps.value = d.eps_max, d.eps_max / 40, d.eps
        finally:
            self._quiet = False
        self._sync_visibility()
        self.refresh()

    def _on_eps_max_change(self) -> None:
        if self._quiet:
            return
        value = self.eps_max.value
        if not (math.isfinite(value) and value > 0):
            self.show_message(f"The largest eps must be a number > 0 (input units), got {value}; "
                              f"the slider keeps its range 0..{self.eps.max:g}.", "error")
            return
        self._quiet = True
        try:
            self.eps.max, self.eps.step = value, value / 40
        finally:
            self._quiet = False
        self.refresh()

    def _on_attack_change(self) -> None:
        self._sync_visibility()
        if not self._quiet:
            self.refresh()

    # --- training ----------------------------------------------------------------------------------------
    def _load(self, config: RobustnessConfig) -> MultiTaskData:
        key = config.data_selection
        if key not in self._data_cache:
            self._data_cache[key] = key.load()
        return self._data_cache[key]

    def prepare(self) -> Job:
        config = self.read_config()
        data = self._load(config)
        for strategy in config.strategies:      # fail now, with the reason, not halfway through
            build_system(data, config.system_config(strategy))
        return partial(self._train_all, config, data)

    def _train_all(self, config: RobustnessConfig, data: MultiTaskData, stop: threading.Event) -> None:
        with self._eval_lock:
            self.data, self.trained_config = data, config
            self.systems, self.histories, self.clean, self.run_dirs = {}, {}, {}, {}
            self._robust.reset(data.test, input_range(data), config.seed)
            self.result_rows = []
        self.results_table.value = "<i>training...</i>"
        self.figure_view.clear("robust accuracy per strategy appears here after training")
        clamp = input_range(data)
        adversarial = config.adversarial_training(clamp)
        n = len(config.strategies)
        for k, strategy in enumerate(config.strategies):
            if stop.is_set():
                break
            label = f"{strategy} ({k + 1}/{n})"
            result = run_strategy(data, config.system_config(strategy), config.train_config(),
                                  callbacks=[ProgressUpdates(self, label, config.epochs)], stop=stop,
                                  adversarial=adversarial)
            with self._eval_lock:
                self.systems[strategy], self.histories[strategy] = result.system, result.history
                self.clean[strategy] = result.test_metric
            self.status.value = f"attacking {label} at {len(config.grid())} radii..."
            curve = self._measure(strategy, config.grid(), AttackSettings.of(config.attack, config.steps,
                                                                              config.modules))
            result.history.extra["robust_curve"] = {
                "attack": config.attack_at(0.0, clamp).to_dict() | {"eps": None},
                "points": [{"eps": e, "metric": curve[e]} for e in sorted(curve)]}
            run_dir = new_run_dir(f"{data.name}-robust-{strategy}", root=self.runs_root)
            save_run(run_dir, result.system, result.history,
                     config={**result.history.config, "robustness": config.to_dict(), "role": "robustness"})
            self.run_dirs[strategy] = run_dir
            self.refresh(force=True)
        done = [f"{s} {h.num_epochs}/{config.epochs}" for s, h in self.histories.items()]
        skipped = [s for s in config.strategies if s not in self.systems]
        adv = f", adversarially trained ({config.adversarial_choice.describe()})" if adversarial else ""
        if stop.is_set():
            self.status.value = (f"stopped: trained {', '.join(done) or 'nothing'} epochs{adv}"
                                 + (f"; skipped {', '.join(skipped)}" if skipped else ""))
        else:
            self.status.value = (f"done: trained {', '.join(done)} epochs{adv}; move the eps slider to attack "
                                 f"them harder or softer")
