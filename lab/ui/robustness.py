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
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import torch

from ..adversarial import ATTACK_KINDS, MAX_EPS, AdversarialTraining, Attack, input_range, robust_accuracy
from ..compare import run_strategy
from ..coupling import COUPLINGS, CoupledSystem, SystemConfig, build_system
from ..data import DIGITS_TASKS, STRUCTURES, MultiTaskData, load_data
from ..history import History
from ..runs import new_run_dir, save_run
from ..settings import fast_mode
from ..tables import format_table
from ..train import TrainConfig
from ..viz import robustness_curves
from ..validation import _is_int, check_bool, check_seed, normalise_fields, show
from .base import DESCRIPTION_STYLE, Job, TrainingPanel, readable_error
from .panel_checks import check_rate, check_shape_settings
from .adversarial_options import adversarial_training, adversarial_widgets, check_eps
from .figure_view import FigureView
from .html import html_table
from .playground import DATA_CHOICES, parse_floats
from .progress import ProgressUpdates

if TYPE_CHECKING:
    import plotly.graph_objects as go

DEFAULT_STRATEGIES: tuple[str, ...] = ("independent", "cross_stitch", "attention")
SYNTHETIC_MODULES = 4


@dataclass(frozen=True)
class RobustData:
    """A dataset the robustness panel offers, with attack defaults that suit its input scale."""

    label: str
    eps: float                 # the slider's start
    eps_max: float             # the slider's end
    modules: str               # attacked modules, as typed in the widget


ROBUST_DATA: dict[str, RobustData] = {
    "digits": RobustData("digits: 4 tasks on one 8x8 image (pixels in [0, 1])", 0.1, 0.2, "all"),
    "synthetic": RobustData("synthetic: 4 modules, one input each (N(0, 1) values), known W*", 0.5, 1.0, "0"),
}


def parse_modules(text: str) -> str | tuple[int, ...]:
    """``"all"`` (or empty) -> "all"; ``"0, 2"`` -> (0, 2)."""
    text = text.strip().lower()
    if text in ("", "all"):
        return "all"
    try:
        values = parse_floats(text, "attacked modules")
    except ValueError:
        values = None
    if values is None or any(v != int(v) or v < 0 for v in values):
        raise ValueError(f"attacked modules: 'all' or module numbers >= 0 separated by commas (e.g. 0, 2), "
                         f"got {text!r}")
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class RobustnessConfig:
    """Everything the robustness panel's widgets choose (validated; saved with every run).

    ``attack``/``steps``/``modules``: the attack measured (FGSM or PGD with ``steps`` steps of
    2.5 eps / steps, no random start, maximising the summed task losses; ``modules`` "all" or
    module indices, per-module data only); ``eps``: the slider's radius; ``eps_max``: the
    slider's end; ``grid_points``: radii from 0 to ``eps_max`` measured right after training.
    ``adversarial``: "off" or the attack used for adversarial training (radius ``adv_eps``,
    ``adv_ratio`` of every batch, same ``steps`` and ``modules``).
    """

    data: str = "digits"
    structure: str = "star"
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    width: int = 64
    stages: int = 2
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    attack: str = "pgd"
    steps: int = 10
    modules: str | tuple[int, ...] = "all"
    eps: float = 0.1
    eps_max: float = 0.2
    grid_points: int = 5
    adversarial: str = "off"
    adv_eps: float = 0.1
    adv_ratio: float = 0.5
    small_data: bool = False

    def __post_init__(self) -> None:
        if self.data not in ROBUST_DATA:
            raise ValueError(f"unknown data {self.data!r}; choose from {list(ROBUST_DATA)}")
        if self.data == "synthetic" and self.structure not in STRUCTURES:
            raise ValueError(f"unknown W* structure {self.structure!r}; choose from {list(STRUCTURES)}")
        if isinstance(self.strategies, str) or not isinstance(self.strategies, (tuple, list)):
            raise ValueError(f"strategies must be a list of strategy names, got {show(self.strategies)}")
        if not self.strategies:
            raise ValueError("choose at least one strategy to compare")
        unknown = [s for s in self.strategies if s not in COUPLINGS]
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError(f"each strategy once, please: got {list(self.strategies)}")
        check_shape_settings(self)
        normalise_fields(self, {"lr": check_rate("learning rate", self.lr), "seed": check_seed(self.seed),
                                "small_data": check_bool("small_data", self.small_data)})
        check_eps(self.eps, "eps (attack radius)")
        if check_eps(self.eps_max, "the slider's largest eps") <= 0:
            raise ValueError(f"the slider's largest eps must be > 0, got {self.eps_max}")
        if self.eps_max > MAX_EPS:
            raise ValueError(f"the slider's largest eps must be at most {MAX_EPS:g}, got {self.eps_max}")
        if self.eps > self.eps_max:
            raise ValueError(f"eps {self.eps} is beyond the slider's largest eps {self.eps_max}")
        if not _is_int(self.grid_points) or not 2 <= self.grid_points <= 101:
            raise ValueError(f"grid_points must be an integer >= 2 (0 and eps_max at least; at most 101), "
                             f"got {show(self.grid_points)}")
        if self.modules != "all":
            if self.data == "digits":
                raise ValueError("the digits' four modules share one image, so only 'all' inputs can be attacked; "
                                 "attacking single modules needs per-module inputs (the synthetic data)")
            if isinstance(self.modules, str) or not isinstance(self.modules, (tuple, list)) \
                    or not all(_is_int(m) for m in self.modules):
                raise ValueError(f"attacked modules must be 'all' or module numbers, got {show(self.modules)}")
            object.__setattr__(self, "modules", tuple(int(m) for m in self.modules))
            bad = [m for m in self.modules if not 0 <= m < SYNTHETIC_MODULES]
            if bad:
                raise ValueError(f"attacked modules {bad} do not exist: the synthetic data has {SYNTHETIC_MODULES} "
                                 f"modules (0..{SYNTHETIC_MODULES - 1})")
        self.attack_at(self.eps)                 # Attack checks kind, steps, modules
        self.adversarial_training(None)          # checks the kind, adv_eps and adv_ratio
        self.system_config(self.strategies[0])   # SystemConfig and TrainConfig check the rest
        self.train_config()

    @property
    def task_names(self) -> tuple[str, ...]:
        return DIGITS_TASKS if self.data == "digits" else tuple(f"task{i}" for i in range(SYNTHETIC_MODULES))

    def data_kwargs(self) -> dict[str, Any]:
        choice = DATA_CHOICES[self.data]
        size = choice.fast_size if self.small_data else choice.full_size
        if self.data == "digits":
            return {"tasks": DIGITS_TASKS, "seed": self.seed, "limit": size}
        return {"num_modules": SYNTHETIC_MODULES, "structure": self.structure, "seed": self.seed,
                "num_samples": size}

    def load_data(self) -> MultiTaskData:
        return load_data(self.data, **self.data_kwargs())

    def system_config(self, strategy: str) -> SystemConfig:
        return SystemConfig(strategy=strategy, widths=(self.width,) * self.stages, seed=self.seed)

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed)

    def attack_at(self, eps: float, clamp: tuple[float, float] | None = None) -> Attack:
        """The measured attack at radius ``eps`` (``clamp``: the valid input range, see ``input_range``)."""
        return Attack(self.attack, eps=check_eps(eps, "eps (attack radius)"), steps=self.steps,
                      modules=self.modules, clamp=clamp)

    def adversarial_training(self, clamp: tuple[float, float] | None) -> AdversarialTraining | None:
        return adversarial_training(self.adversarial, self.adv_eps, self.adv_ratio, clamp, steps=self.steps,
                                    modules=self.modules)

    def grid(self) -> list[float]:
        """The radii measured right after training: 0 .. eps_max in equal steps, plus ``eps``."""
        return sorted(set(_grid(self.eps_max, self.grid_points)) | {_key(self.eps)})

    @classmethod
    def defaults(cls, data: str = "digits", fast: bool | None = None, **overrides) -> "RobustnessConfig":
        """The panel's defaults for ``data`` (its attack radius, slider end and attacked modules) and for
        ``LAB_FAST`` (a small data subset and 5 epochs; ``fast`` None reads the environment)."""
        if data not in ROBUST_DATA:
            raise ValueError(f"unknown data {data!r}; choose from {list(ROBUST_DATA)}")
        d = ROBUST_DATA[data]
        fast = fast_mode() if fast is None else fast
        base = dict(data=data, eps=d.eps, eps_max=d.eps_max, modules=parse_modules(d.modules), small_data=fast)
        if fast:
            base["epochs"] = 5
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategies"] = list(self.strategies)
        d["modules"] = self.modules if self.modules == "all" else list(self.modules)
        return d


def _key(eps: float) -> float:
    """Radii that differ only in float noise share a cache entry."""
    return round(float(eps), 6)


def _grid(eps_max: float, points: int) -> list[float]:
    """``points`` radii from 0 to ``eps_max`` in equal steps."""
    return [_key(eps_max * i / (points - 1)) for i in range(points)]


def _attack_key(kind: str, steps: int, modules) -> tuple:
    """(kind, steps, modules) with steps 1 for FGSM (it takes one step whatever ``steps`` says)."""
    return kind, (steps if kind == "pgd" else 1), modules


def _attack_name(key: tuple) -> str:
    kind, steps, modules = key
    parts = ([f"{steps} steps"] if kind == "pgd" else []) + ([f"modules {list(modules)}"] if modules != "all" else [])
    return kind.upper() + (f" ({', '.join(parts)})" if parts else "")


@contextmanager
def _torch_threads(n: int | None):
    before = torch.get_num_threads()
    try:
        if n is not None:
            torch.set_num_threads(n)
        yield
    finally:
        torch.set_num_threads(before)


class RobustnessPanel(TrainingPanel):
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
        wide = lambda: widgets.Layout(width="330px")  # noqa: E731  (one Layout per widget)
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
                                       layout=widgets.Layout(width="520px"))
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
        self.evaluations = 0
        self._cache: dict[tuple, dict[str, dict[float, dict[str, float]]]] = {}
        self._eval_lock = threading.Lock()
        self._data_cache: dict[str, MultiTaskData] = {}

        self.data_choice.observe(self._on_data_change, names="value")
        self.attack.observe(lambda _: self._on_attack_change(), names="value")
        self.steps.observe(lambda _: self._on_attack_change(), names="value")
        self.modules.observe(lambda _: self._on_attack_change(), names="value")
        self.eps_max.observe(lambda _: self._on_eps_max_change(), names="value")
        self.eps.observe(lambda _: self.refresh(), names="value")
        self.adversarial.observe(lambda _: self._sync_visibility(), names="value")

        column = lambda title, *ws: widgets.VBox([widgets.HTML(f"<b>{title}</b>"), *ws])  # noqa: E731
        settings = widgets.HBox([
            column("data and strategies", self.data_choice, self.structure, self.strategies),
            column("training", self.width, self.epochs, self.lr, self.seed, self.adversarial, self.adv_eps,
                   self.adv_ratio),
            column("attack (changes re-evaluate, no retraining)", self.attack, self.steps, self.modules,
                   self.eps_max),
        ])
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
        key = config.data + repr(sorted(config.data_kwargs().items()))
        if key not in self._data_cache:
            self._data_cache[key] = config.load_data()
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
            self._cache = {}
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
            curve = self._measure(strategy, config.grid(), _attack_key(config.attack, config.steps, config.modules))
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
        adv = (f", adversarially trained ({config.adversarial} eps {config.adv_eps:g}, share {config.adv_ratio:g})"
               if adversarial else "")
        if stop.is_set():
            self.status.value = (f"stopped: trained {', '.join(done) or 'nothing'} epochs{adv}"
                                 + (f"; skipped {', '.join(skipped)}" if skipped else ""))
        else:
            self.status.value = (f"done: trained {', '.join(done)} epochs{adv}; move the eps slider to attack "
                                 f"them harder or softer")

    # --- attacking the trained systems ---------------------------------------------------------------------
    def _attack_settings(self) -> tuple[str, int, str | tuple[int, ...]]:
        """The widgets' (kind, steps, modules), validated against the trained data: the cache key."""
        modules = parse_modules(self.modules.value)
        config = self.trained_config
        if modules != "all" and config is not None and config.data == "digits":
            raise ValueError("the digits' four modules share one image, so only 'all' inputs can be attacked")
        return _attack_key(self.attack.value, self.steps.value, modules)

    def _attack(self, key: tuple, eps: float) -> Attack:
        kind, steps, modules = key
        return Attack(kind, eps=eps, steps=steps, modules=modules, clamp=input_range(self.data))

    def _measure(self, strategy: str, radii, key: tuple) -> dict[float, dict[str, float]]:
        """Robust test metrics of one trained strategy at ``radii`` (cached per attack settings and eps)."""
        with self._eval_lock:
            curve = self._cache.setdefault(key, {}).setdefault(strategy, {})
            system, seed = self.systems[strategy], self.trained_config.seed
            for eps in sorted(map(_key, radii)):
                if eps not in curve:           # eps 0 is measured too: it must equal the clean metric
                    curve[eps] = robust_accuracy(system, self.data.test, self._attack(key, eps), seed=seed)
                    self.evaluations += 1
            return dict(curve)

    @property
    def curves(self) -> dict[str, dict[float, dict[str, float]]]:
        """{strategy: {eps: {task: metric}}} measured so far with the widgets' attack settings."""
        try:
            key = self._attack_settings()
        except ValueError:
            return {}
        return {s: dict(c) for s, c in self._cache.get(key, {}).items()}

    def evaluate(self, eps: float | None = None) -> list[dict[str, Any]]:
        """Attack every trained system at ``eps`` (default: the slider's) with the widgets' attack settings
        and return the table rows; the figure and table follow. The radii 0..slider end are measured
        once per attack setting (cached), so the curve has its shape at once. ValueError for bad values."""
        if not self.systems:
            raise ValueError("nothing is trained yet: press Train first")
        eps = _key(check_eps(self.eps.value if eps is None else eps, "eps (attack radius)"))
        key = self._attack_settings()
        radii = set(_grid(self.eps.max, self.trained_config.grid_points)) | {eps}
        with _torch_threads(self.num_threads):
            for strategy in list(self.systems):
                self._measure(strategy, radii, key)
        self._show(key, eps)
        return self.result_rows

    def refresh(self, force: bool = False) -> None:
        """Re-evaluate at the slider's eps after a widget change (a readable message for bad values).
        Does nothing before training, or while the data chosen is not the data trained on."""
        if self._quiet or not self.systems or self.data_choice.value != self.trained_config.data:
            return
        if self.running and not force:
            self.show_message("Training is running: the attack is measured again when it ends.", "info")
            return
        try:
            self.evaluate()
        except ValueError as err:
            self.show_message(f"Cannot attack with these settings: {readable_error(err)}", "error")
        else:
            if self.message_text.startswith(("Cannot attack", "The largest eps", "Training is running")):
                self.show_message("")

    def _show(self, key: tuple, eps: float) -> None:
        curves = {s: c for s, c in self._cache.get(key, {}).items() if s in self.systems}
        attack = self._attack(key, eps)
        config = self.trained_config
        rows = []
        for strategy, points in curves.items():
            clean, robust = self.clean[strategy], points[eps]
            h = self.histories[strategy]
            row = {"strategy": strategy,
                   "epochs": f"{h.num_epochs}/{config.epochs}" + (" (stopped)" if h.stopped else ""),
                   "clean": sum(clean.values()) / len(clean), "robust": sum(robust.values()) / len(robust)}
            row["drop"] = row["clean"] - row["robust"]
            row.update({t: robust[t] for t in self.data.task_names})
            rows.append(row)
        self.result_rows = rows
        metric = "/".join(sorted({t.metric for t in self.data.tasks}))
        adv = (f"; adversarially trained with {config.adversarial} eps {config.adv_eps:g} "
               f"(share {config.adv_ratio:g})" if config.adversarial != "off" else "; no adversarial training")
        caption = (f"test {metric} on {self.data.name} ({len(self.data.test)} test examples) under "
                   f"{attack.label}" + (f", inputs clamped to {list(attack.clamp)}" if attack.clamp else "")
                   + f"; clean/robust = mean over tasks, per-task columns under attack{adv}")
        self.results_table.value = html_table(rows, caption=caption)
        self.figure_view.show(robustness_curves(curves, eps, metric=metric,
                                                title=f"{metric} under {_attack_name(key)} attacks on {self.data.name}"
                                                      + (" (adversarially trained)" if config.adversarial != "off"
                                                         else "")))

    def results_text(self) -> str:
        """The table at the slider's eps as plain text (for print)."""
        return format_table(self.result_rows)

    def figure(self) -> "go.Figure | None":
        """The current robust-accuracy figure as a plain ``go.Figure`` (for ``.show()`` in a static notebook)."""
        return self.figure_view.snapshot()
