"""``PlaygroundConfig``: everything the coupling playground's widgets choose (validated, saved with every run).

It is made of the shared pieces (``choices``): a :class:`DataSelection`, an
:class:`OptimiserChoice` and an :class:`AdversarialChoice` check the data, the optimiser and
adversarial training; ``SystemConfig`` checks the modules; the playground adds only what is
its own (strategy, baselines, loss weighting). Its defaults are the CLI's (``python -m lab couple``):
those of ``SystemConfig``, ``TrainConfig`` and ``lab.defaults``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, get_args, get_type_hints

from ..adversarial import AdversarialTraining, input_range
from ..coupling import COUPLINGS, SystemConfig
from ..data import DIGITS_TASKS, MultiTaskData
from ..defaults import ADV_EPS, ADV_RATIO, DATA, DEFAULT_SYSTEM, DEFAULT_TRAIN, STRUCTURE
from ..train import TrainConfig
from ..validation import check_bool, check_floats, check_seed, normalise_fields, show
from ..weighting import WEIGHTINGS, Fixed, Weighting, make_weighting
from .adversarial_options import AdversarialChoice
from .choices import DataSelection, OptimiserChoice, system_config
from .panel_checks import check_shape_settings, check_weighting_options

OPTIMIZERS: tuple[str, ...] = get_args(get_type_hints(TrainConfig)["optimizer"])
DEFAULT_BASELINES: tuple[str, ...] = ("independent", "pipeline", "ensemble", "shared")


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

    data: str = DATA
    structure: str = STRUCTURE
    num_modules: int = len(DIGITS_TASKS)
    width: int = DEFAULT_SYSTEM.widths[0]
    stages: int = len(DEFAULT_SYSTEM.widths)
    block: str = DEFAULT_SYSTEM.block
    strategy: str = DEFAULT_SYSTEM.strategy
    w_init: tuple[float, float] = DEFAULT_SYSTEM.w_init
    optimizer: str = DEFAULT_TRAIN.optimizer
    lr: float = DEFAULT_TRAIN.lr
    epochs: int = DEFAULT_TRAIN.epochs
    batch_size: int = DEFAULT_TRAIN.batch_size
    weighting: str = "equal"
    task_weights: tuple[float, ...] | None = None
    weighting_options: tuple[tuple[str, float], ...] = ()
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    adversarial: str = "off"
    adv_eps: float = ADV_EPS
    adv_ratio: float = ADV_RATIO
    seed: int = DEFAULT_TRAIN.seed
    small_data: bool = False

    def __post_init__(self) -> None:
        check_shape_settings(self)
        normalise_fields(self, {"seed": check_seed(self.seed), "small_data": check_bool("small_data", self.small_data),
                                "w_init": tuple(self.w_init) if isinstance(self.w_init, list) else self.w_init})
        # the shared pieces, built once: each checks its values (data, optimiser, adversarial training)
        object.__setattr__(self, "_data", DataSelection(self.data, self.structure, self.num_modules, self.seed,
                                                        self.small_data))
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
            Fixed(self.task_weights).setup(self.task_names, None)    # the fixed weighting checks the values
        check_weighting_options(self.weighting_options)
        object.__setattr__(self, "_optimiser", OptimiserChoice(self.epochs, self.lr, self.batch_size, self.optimizer,
                                                               self.seed))
        object.__setattr__(self, "_adversarial", AdversarialChoice(self.adversarial, self.adv_eps, self.adv_ratio))
        self.system_config()                 # SystemConfig checks the modules
        self.train_config()

    # --- the pieces ------------------------------------------------------------------------------------
    @property
    def data_selection(self) -> DataSelection:
        """Which data, how many tasks, its seed and size."""
        return self._data

    @property
    def optimiser(self) -> OptimiserChoice:
        """Optimiser, learning rate, epochs, batch size and seed."""
        return self._optimiser

    @property
    def adversarial_choice(self) -> AdversarialChoice:
        """Adversarial training: kind, eps and share."""
        return self._adversarial

    # --- what they build ---------------------------------------------------------------------------------
    @property
    def task_names(self) -> tuple[str, ...]:
        return self.data_selection.task_names

    def strategies(self) -> list[str]:
        """Yours first, then the baselines (without repeating yours)."""
        return [self.strategy] + [b for b in self.baselines if b != self.strategy]

    def data_kwargs(self) -> dict[str, Any]:
        return self.data_selection.load_kwargs()

    def load_data(self) -> MultiTaskData:
        return self.data_selection.load()

    def system_config(self, strategy: str | None = None) -> SystemConfig:
        return system_config(strategy or self.strategy, self.width, self.stages, self.seed, block=self.block,
                             w_init=self.w_init)

    def train_config(self) -> TrainConfig:
        return self.optimiser.train_config(self.task_weights if self.weighting == "fixed" else None)

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
        return self.adversarial_choice.training(input_range(data) if data is not None else None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["weighting_options"] = dict(self.weighting_options)
        return d
