"""Small pieces every panel config is made of: which data, how to optimise, the stage widths.

Each piece checks its values once, by building the core config it stands for (``TrainConfig``,
``SystemConfig``) or by the rule of its own (which data sets and structures exist), so the
playground, the robustness panel and the transfer panel give the same message for the same
mistake. Adversarial-training options are the third piece (``adversarial_options``).

    data = DataSelection("synthetic", structure="star", num_modules=3, seed=1, small=True)
    data.load()                          # MultiTaskData
    OptimiserChoice(epochs=5, lr=3e-3).train_config()   # TrainConfig
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

from ..coupling import SystemConfig
from ..data import DIGITS_TASKS, MNIST1D_TASKS, STRUCTURES, MultiTaskData, load_data
from ..train import TrainConfig
from ..validation import check_bool, check_seed, normalise_fields
from .panel_checks import check_rate


@dataclass(frozen=True)
class DataChoice:
    """A dataset the panels offer: ``tasks`` in module order (None: one synthetic task per module)."""

    label: str
    tasks: tuple[str, ...] | None
    max_modules: int
    full_size: int | None      # examples (None = the loader's default, as `python -m lab couple` without --limit)
    fast_size: int             # examples with LAB_FAST=1


DATA_CHOICES: dict[str, DataChoice] = {
    "digits": DataChoice("digits: digit, parity, >=5, loops (8x8 images)", DIGITS_TASKS, len(DIGITS_TASKS), None, 400),
    "mnist1d": DataChoice("MNIST-1D: digit, parity, >=5 (1-D signals)", MNIST1D_TASKS, len(MNIST1D_TASKS), None, 600),
    "synthetic": DataChoice("synthetic tasks with a known W*", None, 8, None, 600),
}


@dataclass(frozen=True)
class DataSelection:
    """Which data a panel trains on: ``name`` (a ``DATA_CHOICES`` key), the W* ``structure``
    (synthetic only), ``num_modules`` = number of tasks (the data's first tasks; synthetic: that
    many tasks), the data's ``seed`` and ``small`` (the seeded ``LAB_FAST`` subset). Hashable: the
    panels cache loaded data by it."""

    name: str = "digits"
    structure: str = "chain"
    num_modules: int = 4
    seed: int = 0
    small: bool = False

    def __post_init__(self) -> None:
        normalise_fields(self, {"seed": check_seed(self.seed), "small": check_bool("small_data", self.small)})
        if self.name not in DATA_CHOICES:
            raise ValueError(f"unknown data {self.name!r}; choose from {list(DATA_CHOICES)}")
        if self.name == "synthetic" and self.structure not in STRUCTURES:
            raise ValueError(f"unknown W* structure {self.structure!r}; choose from {list(STRUCTURES)}")
        top = DATA_CHOICES[self.name].max_modules
        if not _is_int(self.num_modules) or not 2 <= self.num_modules <= top:
            raise ValueError(f"{self.name} offers 2 to {top} modules (one per task), got {self.num_modules}")

    @property
    def task_names(self) -> tuple[str, ...]:
        tasks = DATA_CHOICES[self.name].tasks
        return tasks[:self.num_modules] if tasks is not None else tuple(f"task{i}" for i in range(self.num_modules))

    @property
    def limit(self) -> int | None:
        """Examples loaded (None = the whole data set)."""
        choice = DATA_CHOICES[self.name]
        return choice.fast_size if self.small else choice.full_size

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``lab.data.load_data(name, ...)`` (seeded like ``python -m lab couple``: the
        data's seed is the run's seed)."""
        if self.name == "digits":
            return {"tasks": self.task_names, "seed": self.seed, "limit": self.limit}
        sized = {} if self.limit is None else {"num_samples": self.limit}
        if self.name == "mnist1d":
            return {"tasks": self.task_names, "seed": self.seed, **sized}
        return {"num_modules": self.num_modules, "structure": self.structure, "seed": self.seed, **sized}

    def load(self) -> MultiTaskData:
        return load_data(self.name, **self.load_kwargs())


@dataclass(frozen=True)
class OptimiserChoice:
    """How a panel trains: ``epochs``, learning rate ``lr``, ``batch_size``, ``optimizer``, ``seed``.
    Checked by building a ``TrainConfig`` (its messages); the learning rate is checked first with a
    message that names it as the panel does (``label``: e.g. "source" -> "source learning rate")."""

    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    optimizer: str = "adam"
    seed: int = 0
    label: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        normalise_fields(self, {"seed": check_seed(self.seed)})
        what = f"{self.label} learning rate" if self.label else "learning rate"
        normalise_fields(self, {"lr": check_rate(what, self.lr)})      # the panel's wording, finite, bounded
        self.train_config()

    def train_config(self, task_weights: tuple[float, ...] | None = None) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer=self.optimizer,
                           task_weights=task_weights, seed=self.seed)


def stage_widths(width: int, stages: int) -> tuple[int, ...]:
    """``stages`` stages of ``width`` features each, the ``widths`` of a ``SystemConfig``."""
    if not all(_is_int(v) and v >= 1 for v in (width, stages)):
        raise ValueError(f"width and stages must be >= 1, got width={width}, stages={stages}")
    return (width,) * stages


def system_config(strategy: str, width: int, stages: int, seed: int, **options) -> SystemConfig:
    """The ``SystemConfig`` of a panel's modules (``options``: block, w_init, ...); it checks the rest."""
    return SystemConfig(strategy=strategy, widths=stage_widths(width, stages), seed=seed, **options)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
