"""Transfer panel: adapt a trained system to a shifted domain, training only the parts a mode names.

    tp = TransferPanel(robustness=rp)     # rp: a RobustnessPanel whose systems may be reused (optional)
    tp.strategy.value = "cross_stitch"; tp.shift.value = "rotation"; tp.amount.value = 30
    tp.mode.value = "coupling"            # coupling | heads | modules | all  (lab.transfer.TRANSFER_MODES)
    tp.train_button.click(); tp.wait()    # or tp.run()
    tp.result                             # lab.transfer.TransferResult of the latest adaptation
    tp.before_after_rows, tp.summary_rows # per-task before/after table; one row per adaptation so far

The **source system** (trained on the digits) comes from one of two places, chosen by
the *source* widget:

* ``train`` - trained here with this panel's width, epochs and learning rate. It is
  kept for the session: pressing Train again with the same source settings (say, to
  try another mode or shift) reuses it and only adapts.
* ``robustness`` - the system of the chosen strategy that the linked
  :class:`~lab.ui.robustness.RobustnessPanel` trained (adversarially trained, if it
  was), as it is. Compatible only when that panel trained on the digits (domain
  shifts need images) and trained this strategy; otherwise the panel says why.

Adaptation trains a *copy* (``lab.transfer.transfer``); the source system never
changes, so every mode starts from the same point. ``coupling`` trains only W and
leaves every other parameter bit-identical; it needs a strategy with a learned W
(cross_stitch, attention). The target is the digits with every split shifted
(``lab.data.shift_domain``: rotation in degrees, noise sd, invert share, blur sigma).
Budget: epochs, an optional step cap and an optional few-shot limit on target
training examples. Runs are saved under ``runs/`` (the source when trained here as
``<time>-digits-source-<strategy>``, every adaptation as
``<time>-digits-<shift><amount>-transfer-<strategy>-<mode>``).
"""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import torch

from ..compare import run_strategy
from ..coupling import COUPLINGS, CoupledSystem, SystemConfig, build_system
from ..data import DIGITS_TASKS, MultiTaskData, Task, load_data
from ..data.shifts import SHIFT_KINDS, DomainShift, shift_domain
from ..history import History
from ..runs import new_run_dir, save_run
from ..settings import fast_mode
from ..tables import format_table
from ..train import TrainConfig
from ..transfer import TRANSFER_MODES, TransferConfig, TransferResult, trainable_parts, transfer
from ..viz import W_before_after
from ..validation import _is_int, _is_real, check_bool, check_seed, normalise_fields, show
from .base import DESCRIPTION_STYLE, Job, TrainingPanel
from .figure_view import FigureView
from .html import html_table
from .panel_checks import check_rate, check_shape_settings
from .playground import DATA_CHOICES
from .progress import ProgressUpdates

if TYPE_CHECKING:
    from .robustness import RobustnessPanel

SOURCE_CHOICES: dict[str, str] = {"train": "train a source system here",
                                  "robustness": "reuse the Robustness panel's system"}
DEFAULT_AMOUNTS: dict[str, float] = {"rotation": 30.0, "noise": 0.3, "invert": 0.5, "blur": 1.0}
MODE_HELP: dict[str, str] = {
    "coupling": "only W (every other parameter stays bit-identical)",
    "heads": "only the task heads",
    "modules": "only the sub-modules' stages",
    "all": "everything (fine-tuning)",
}


@lru_cache(maxsize=None)
def learns_W(strategy: str) -> bool:
    """Whether ``strategy`` has coupling parameters (a learned W) - what transfer mode 'coupling' trains."""
    system = CoupledSystem(SystemConfig(strategy=strategy, widths=(4,)), (Task("a", "classification", 2),
                                                                          Task("b", "classification", 2)), (3,))
    return bool(system.coupling_parameters())


def _optional(value: int | None, what: str) -> int | None:
    """0 or None -> None (no limit); a positive integer stays; anything else is a readable error."""
    if value is None or (_is_int(value) and value == 0):
        return None
    if not _is_int(value) or not 0 < value <= 10 ** 9:
        raise ValueError(f"{what} must be a whole number >= 1, or 0 for no limit; got {show(value)}")
    return int(value)


@dataclass(frozen=True)
class TransferPanelConfig:
    """Everything the transfer panel's widgets choose (validated; saved with every run).

    Source: ``strategy``, ``source`` ("train" here with ``width``/``stages``/``source_epochs``/
    ``source_lr``, or "robustness": the linked robustness panel's system). Target: the digits
    shifted by ``shift`` with ``amount``. Adaptation: ``mode`` (``TRANSFER_MODES``), ``epochs``,
    ``lr``, ``max_steps`` (None = no cap), ``limit`` (None = all target training examples).
    """

    strategy: str = "cross_stitch"
    source: str = "train"
    width: int = 64
    stages: int = 2
    source_epochs: int = 20
    source_lr: float = 1e-3
    shift: str = "rotation"
    amount: float = 30.0
    mode: str = "coupling"
    epochs: int = 5
    lr: float = 1e-3
    max_steps: int | None = None
    limit: int | None = None
    batch_size: int = 64
    seed: int = 0
    small_data: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in COUPLINGS:
            raise ValueError(f"unknown coupling strategy {self.strategy!r}; choose from {list(COUPLINGS)}")
        if self.source not in SOURCE_CHOICES:
            raise ValueError(f"source must be one of {list(SOURCE_CHOICES)}, got {self.source!r}")
        if self.mode not in TRANSFER_MODES:
            raise ValueError(f"unknown transfer mode {self.mode!r}; choose from {list(TRANSFER_MODES)}")
        if self.mode == "coupling" and not learns_W(self.strategy):
            raise ValueError(f"transfer mode 'coupling' trains only W, but the {self.strategy!r} strategy has no "
                             "coupling parameters (its W is fixed); use cross_stitch or attention, or another mode "
                             f"({', '.join(m for m in TRANSFER_MODES if m != 'coupling')})")
        if not (_is_real(self.amount) and math.isfinite(self.amount)):
            raise ValueError(f"the amount of domain shift must be a finite number, got {show(self.amount)}")
        check_shape_settings(self)
        normalise_fields(self, {"source_lr": check_rate("source learning rate", self.source_lr),
                                "lr": check_rate("adaptation learning rate", self.lr), "seed": check_seed(self.seed),
                                "small_data": check_bool("small_data", self.small_data)})
        object.__setattr__(self, "max_steps", _optional(self.max_steps, "step cap"))
        object.__setattr__(self, "limit", _optional(self.limit, "few-shot limit (target training examples)"))
        self.domain_shift()        # DomainShift checks kind and amount
        self.transfer_config()     # TransferConfig checks epochs, lr, batch size
        self.system_config()       # SystemConfig and TrainConfig check the source settings
        self.source_train_config()

    def data_kwargs(self) -> dict[str, Any]:
        size = DATA_CHOICES["digits"].fast_size if self.small_data else DATA_CHOICES["digits"].full_size
        return {"tasks": DIGITS_TASKS, "seed": self.seed, "limit": size}

    def load_data(self) -> MultiTaskData:
        return load_data("digits", **self.data_kwargs())

    def system_config(self) -> SystemConfig:
        return SystemConfig(strategy=self.strategy, widths=(self.width,) * self.stages, seed=self.seed)

    def source_train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.source_epochs, batch_size=self.batch_size, lr=self.source_lr, seed=self.seed)

    def domain_shift(self) -> DomainShift:
        return DomainShift(self.shift, float(self.amount), self.seed)

    def transfer_config(self) -> TransferConfig:
        return TransferConfig(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, max_steps=self.max_steps,
                              limit=self.limit, seed=self.seed)

    def source_key(self) -> str:
        """Identifies a source system trained here: same key, same system (it is reused)."""
        return repr((sorted(self.data_kwargs().items()), self.system_config().to_dict(),
                     self.source_train_config().to_dict()))

    @classmethod
    def defaults(cls, fast: bool | None = None, **overrides) -> "TransferPanelConfig":
        """The panel's defaults; with ``LAB_FAST`` (``fast`` None reads the environment) a small data subset,
        5 source epochs and 2 adaptation epochs."""
        fast = fast_mode() if fast is None else fast
        base = dict(source_epochs=5, epochs=2, small_data=True) if fast else {}
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SourceSystem:
    """A trained source: the system, its History, the data it was trained on and where it came from."""

    system: CoupledSystem
    history: History
    data: MultiTaskData
    label: str
    run_dir: Any = None


def coupling_on(system: CoupledSystem, x: torch.Tensor) -> list[np.ndarray]:
    """Every stage's W after a forward pass on ``x`` (attention's W is the batch mean over ``x``)."""
    was = system.training
    system.eval()
    try:
        with torch.no_grad():
            system(x)
    finally:
        system.train(was)
    return [W.detach().cpu().numpy() for W in system.coupling_matrices()]


class TransferPanel(TrainingPanel):
    """The transfer panel (see the module docstring). ``robustness``: a RobustnessPanel whose trained
    systems can be reused as the source. ``config`` sets the initial widget values.

    After training: ``source`` (:class:`SourceSystem`), ``result`` (the latest TransferResult),
    ``results`` (every adaptation so far, with its config), ``before_after_rows``,
    ``summary_rows``, ``run_dirs``, ``live_history`` (the run in progress: source training or
    adaptation); ``W_view`` shows W before/after for learned couplings.
    """

    title = "Transfer"

    def __init__(self, config: TransferPanelConfig | None = None, *, robustness: "RobustnessPanel | None" = None,
                 runs_root=None, update_interval: float = 0.25, num_threads: int | None = 1):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        config = config or TransferPanelConfig.defaults()
        self.robustness = robustness
        s = DESCRIPTION_STYLE
        wide = lambda: widgets.Layout(width="330px")  # noqa: E731  (one Layout per widget)
        sources = [(label, k) for k, label in SOURCE_CHOICES.items() if k == "train" or robustness is not None]
        self.source_choice = widgets.Dropdown(options=sources, description="source", style=s, layout=wide())
        self.strategy = widgets.Dropdown(options=list(COUPLINGS), description="coupling", style=s, layout=wide())
        self.width = widgets.IntSlider(min=4, max=256, step=4, description="width", style=s, layout=wide(),
                                       continuous_update=False)
        self.source_epochs = widgets.BoundedIntText(min=1, max=1000, description="source epochs", style=s,
                                                    layout=wide())
        self.source_lr = widgets.FloatText(description="source lr", style=s, layout=wide())
        self.shift = widgets.ToggleButtons(options=list(SHIFT_KINDS), description="target shift", style=s)
        self.amount = widgets.FloatText(description="amount", style=s, layout=wide(),
                                        tooltip="rotation: degrees; noise: sd; invert: share in [0, 1]; blur: sigma")
        self.mode = widgets.ToggleButtons(options=list(TRANSFER_MODES), description="train only",
                                          tooltips=[MODE_HELP[m] for m in TRANSFER_MODES], style=s)
        self.mode.add_class("lab-mode")
        self.epochs = widgets.BoundedIntText(min=1, max=1000, description="adapt epochs", style=s, layout=wide())
        self.epochs.add_class("lab-epochs")
        self.lr = widgets.FloatText(description="adapt lr", style=s, layout=wide())
        self.max_steps = widgets.IntText(description="step cap", style=s, layout=wide(),
                                         tooltip="end adaptation after this many optimizer steps (0 = no cap)")
        self.limit = widgets.IntText(description="few-shot limit", style=s, layout=wide(),
                                     tooltip="adapt on this many target training examples (0 = all)")
        self.seed = widgets.IntText(description="seed", style=s, layout=wide())
        self.mode_help = widgets.HTML("")
        self.small_data = config.small_data
        self.set_config(config)

        self.W_view = FigureView(css_class="lab-transfer-W",
                                 placeholder="W before and after adaptation appears here (learned couplings)")
        self.before_after_table = widgets.HTML("<i>before/after metrics per task appear here</i>")
        self.before_after_table.add_class("lab-results")
        self.summary_table = widgets.HTML("")
        self.source: SourceSystem | None = None
        self.result: TransferResult | None = None
        self.results: list[tuple[TransferPanelConfig, SourceSystem, TransferResult]] = []
        self.before_after_rows: list[dict[str, Any]] = []
        self.summary_rows: list[dict[str, Any]] = []
        self.run_dirs: list = []
        self.live_history: History | None = None
        self._sources: dict[str, SourceSystem] = {}
        self._data_cache: dict[str, MultiTaskData] = {}

        self.source_choice.observe(lambda _: self._sync_visibility(), names="value")
        self.mode.observe(lambda _: self._sync_visibility(), names="value")
        self.shift.observe(self._on_shift_change, names="value")
        column = lambda title, *ws: widgets.VBox([widgets.HTML(f"<b>{title}</b>"), *ws])  # noqa: E731
        settings = widgets.HBox([
            column("source system (trained on digits)", self.source_choice, self.strategy, self.width,
                   self.source_epochs, self.source_lr, self.seed),
            column("target domain and adaptation", self.shift, self.amount, self.mode, self.mode_help, self.epochs,
                   self.lr, self.max_steps, self.limit),
        ])
        header = widgets.HTML("<h3 style='margin:4px 0'>Transfer to a shifted domain</h3>"
                              "Press <b>Train</b>: the source system (trained once, then reused) is copied and "
                              "adapted to the shifted digits, training only what <i>train only</i> says.")
        self.ui = widgets.VBox([header, settings, self.controls, self.message,
                                widgets.HTML("<b>before and after adaptation (test set)</b>"), self.before_after_table,
                                self.W_view.box, widgets.HTML("<b>every adaptation so far</b>"), self.summary_table])
        self.ui.add_class("lab-transfer")

    # --- widgets <-> config ----------------------------------------------------------------------------
    def set_config(self, config: TransferPanelConfig) -> None:
        """Put ``config`` into the widgets."""
        self.small_data = config.small_data
        self._stages, self._batch_size = config.stages, config.batch_size
        if config.source == "robustness" and self.robustness is None:
            raise ValueError("source 'robustness' needs a RobustnessPanel: TransferPanel(config, robustness=panel)")
        self.source_choice.value, self.strategy.value = config.source, config.strategy
        self.width.value, self.source_epochs.value, self.source_lr.value = (config.width, config.source_epochs,
                                                                            config.source_lr)
        self._quiet_shift = True
        self.shift.value, self.amount.value = config.shift, config.amount
        self._quiet_shift = False
        self.mode.value, self.epochs.value, self.lr.value = config.mode, config.epochs, config.lr
        self.max_steps.value, self.limit.value = config.max_steps or 0, config.limit or 0
        self.seed.value = config.seed
        self._sync_visibility()

    def read_config(self) -> TransferPanelConfig:
        """The widgets' values as a validated config (ValueError with the reason otherwise)."""
        return TransferPanelConfig(
            strategy=self.strategy.value, source=self.source_choice.value, width=self.width.value,
            stages=self._stages, source_epochs=self.source_epochs.value, source_lr=self.source_lr.value,
            shift=self.shift.value, amount=self.amount.value, mode=self.mode.value, epochs=self.epochs.value,
            lr=self.lr.value, max_steps=self.max_steps.value, limit=self.limit.value, batch_size=self._batch_size,
            seed=self.seed.value, small_data=self.small_data)

    def _sync_visibility(self) -> None:
        here = self.source_choice.value == "train"
        for w in (self.width, self.source_epochs, self.source_lr):
            w.layout.display = None if here else "none"
        self.mode_help.value = f"<small>trains {MODE_HELP[self.mode.value]}</small>"

    def _on_shift_change(self, change) -> None:
        if not self._quiet_shift:
            self.amount.value = DEFAULT_AMOUNTS[change["new"]]   # each kind has its own unit

    # --- training ----------------------------------------------------------------------------------------
    def _load(self, config: TransferPanelConfig) -> MultiTaskData:
        key = repr(sorted(config.data_kwargs().items()))
        if key not in self._data_cache:
            self._data_cache[key] = config.load_data()
        return self._data_cache[key]

    def _reused_source(self, config: TransferPanelConfig) -> SourceSystem:
        """The linked robustness panel's system of ``config.strategy`` (ValueError saying why not)."""
        rp = self.robustness
        if rp is None:
            raise ValueError("no Robustness panel is linked to reuse: choose source 'train a source system here'")
        if rp.running:
            raise ValueError("the Robustness panel is still training: wait until it ends, then press Train")
        if not rp.systems:
            raise ValueError("the Robustness panel has not trained anything yet: press its Train first, or choose "
                             "source 'train a source system here'")
        trained = rp.trained_config
        if trained.data != "digits":
            raise ValueError(f"the Robustness panel trained on {trained.data} data, but domain shifts need images: "
                             "train it on the digits, or choose source 'train a source system here'")
        if config.strategy not in rp.systems:
            raise ValueError(f"the Robustness panel did not train {config.strategy!r} (it trained "
                             f"{list(rp.systems)}): pick one of those, or train the source here")
        h = rp.histories[config.strategy]
        adv = (f", adversarially trained ({trained.adversarial} eps {trained.adv_eps:g})"
               if trained.adversarial != "off" else "")
        return SourceSystem(rp.systems[config.strategy], h, rp.data,
                            f"Robustness panel ({h.num_epochs}/{trained.epochs} epochs{adv})",
                            rp.run_dirs.get(config.strategy))

    def prepare(self) -> Job:
        config = self.read_config()
        if config.source == "robustness":
            source = self._reused_source(config)
            data = source.data
            trainable_parts(source.system, config.mode)     # a readable error for 'coupling' on a fixed W
        else:
            data = self._load(config)
            source = self._sources.get(config.source_key())
            trainable_parts(build_system(data, config.system_config()), config.mode)
        if config.limit is not None and config.limit > len(data.train):
            raise ValueError(f"few-shot limit {config.limit} is more than the {len(data.train)} target training "
                             "examples; use 0 for all of them")
        return partial(self._adapt, config, data, source)

    def _train_source(self, config: TransferPanelConfig, data: MultiTaskData, stop: threading.Event) -> SourceSystem:
        label = f"source {config.strategy}"
        result = run_strategy(data, config.system_config(), config.source_train_config(),
                              callbacks=[ProgressUpdates(self, label, config.source_epochs)], stop=stop)
        run_dir = new_run_dir(f"{data.name}-source-{config.strategy}", root=self.runs_root)
        save_run(run_dir, result.system, result.history,
                 config={**result.history.config, "transfer_panel": config.to_dict(), "role": "transfer source"})
        self.run_dirs.append(run_dir)
        h = result.history
        source = SourceSystem(result.system, h, data, f"trained here ({h.num_epochs}/{config.source_epochs} epochs"
                              + (", stopped)" if h.stopped else ")"), run_dir)
        if not h.stopped:                       # a stopped source is not reused: the next Train trains it fully
            self._sources[config.source_key()] = source
        return source

    def _adapt(self, config: TransferPanelConfig, data: MultiTaskData, source: SourceSystem | None,
               stop: threading.Event) -> None:
        if source is None:
            source = self._train_source(config, data, stop)
        self.source = source
        if stop.is_set():
            self.status.value = (f"stopped while training the source ({source.history.num_epochs}/"
                                 f"{config.source_epochs} epochs, saved); adaptation skipped")
            return
        target = shift_domain(data, config.shift, float(config.amount), config.seed)
        label = f"adapting {config.strategy} ({config.mode})"
        result = transfer(source.system, target, config.mode, config.transfer_config(), source=data,
                          callbacks=[ProgressUpdates(self, label, config.epochs, config.max_steps)], stop=stop)
        run_dir = new_run_dir(f"{data.name}-{config.shift}{config.amount:g}-transfer-{config.strategy}-{config.mode}",
                              root=self.runs_root)
        save_run(run_dir, result.system, result.history,
                 config={**result.history.config, "transfer_panel": config.to_dict(), "role": "transfer",
                         "source": source.label, "source_run": str(source.run_dir) if source.run_dir else None})
        self.run_dirs.append(run_dir)
        self.result = result
        self.results.append((config, source, result))
        self._show(config, source, target, result)
        steps = len(result.history.step_loss)
        if stop.is_set():
            self.status.value = (f"stopped: adapted {config.strategy} ({config.mode}) for {steps} steps "
                                 f"({result.history.num_epochs}/{config.epochs} epochs); saved in {run_dir}")
        else:
            self.status.value = (f"done: adapted {config.strategy} ({config.mode}) to {target.name} in {steps} "
                                 f"steps; saved in {run_dir}")

    # --- results -----------------------------------------------------------------------------------------
    def _show(self, config: TransferPanelConfig, source: SourceSystem, target: MultiTaskData,
              result: TransferResult) -> None:
        rows = []
        for task in target.task_names:
            sb, sa = result.before["source"][task], result.after["source"][task]
            tb, ta = result.before["target"][task], result.after["target"][task]
            rows.append({"task": task, "source before": sb, "source after": sa, "target before": tb,
                         "target after": ta, "target change": ta - tb})
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "task"}
        rows.append({"task": "mean", **mean})
        self.before_after_rows = rows
        metric = "/".join(sorted({t.metric for t in target.tasks}))
        n_train = min(config.limit or len(target.train), len(target.train))
        caption = (f"{config.strategy} from {source.label}, adapted to {target.name} with mode '{config.mode}' "
                   f"(trains {MODE_HELP[config.mode]}): {result.trainable_parameters:,} of "
                   f"{result.total_parameters:,} parameters trainable, {len(result.history.step_loss)} steps on "
                   f"{n_train} target training examples; test {metric}, source = the unshifted digits")
        self.before_after_table.value = html_table(rows, highlight=[len(rows) - 1], caption=caption)
        self.summary_rows = [{"strategy": c.strategy, "source": s.label.split(" (")[0],
                              "shift": f"{c.shift}={c.amount:g}", **r.summary()} for c, s, r in self.results]
        self.summary_table.value = html_table(self.summary_rows, highlight=[len(self.summary_rows) - 1])
        if result.system.coupling_parameters():
            x = target.test.x
            before, after = coupling_on(source.system, x), coupling_on(result.system, x)
            what = " (batch mean on the target test inputs)" if config.strategy == "attention" else ""
            if config.mode in ("heads", "modules"):
                what += "; W's parameters are frozen in this mode"
            self.W_view.show(W_before_after(before, after, list(target.task_names),
                                            title=f"W of {config.strategy} before and after '{config.mode}' "
                                                  f"adaptation to {target.name}{what}"))
        else:
            self.W_view.clear(f"{config.strategy} has a fixed W: adaptation cannot change it")

    def W_figure(self):
        """W before/after of the latest adaptation as a plain ``go.Figure`` (None for a fixed W)."""
        return self.W_view.snapshot()

    def results_text(self) -> str:
        """The before/after table as plain text (for print)."""
        return format_table(self.before_after_rows)

    def summary_text(self) -> str:
        """Every adaptation so far, one row each, as plain text."""
        return format_table(self.summary_rows)
