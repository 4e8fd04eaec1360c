"""``TransferPanelConfig``: everything the transfer panel's widgets choose (validated, saved with every run).

Made of the shared pieces (``choices``): the digits as a :class:`DataSelection`, and two
:class:`OptimiserChoice` - one for training the source system here, one for adaptation (whose
``TransferConfig`` adds the step cap and the few-shot limit).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ..coupling import COUPLINGS, CoupledSystem, SystemConfig
from ..data import DIGITS_TASKS, MultiTaskData, Task
from ..data.shifts import DomainShift
from ..settings import fast_mode
from ..train import TrainConfig
from ..transfer import TRANSFER_MODES, TransferConfig
from ..validation import _is_int, _is_real, show
from .choices import DataSelection, OptimiserChoice, system_config
from .panel_checks import check_shape_settings

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
        # the shared pieces, built once: each checks its values (the data, the two optimisers)
        object.__setattr__(self, "_data", DataSelection("digits", num_modules=len(DIGITS_TASKS), seed=self.seed,
                                                        small=self.small_data))
        object.__setattr__(self, "_source_optimiser", OptimiserChoice(self.source_epochs, self.source_lr,
                                                                      self.batch_size, seed=self.seed, label="source"))
        object.__setattr__(self, "_optimiser", OptimiserChoice(self.epochs, self.lr, self.batch_size, seed=self.seed,
                                                               label="adaptation"))
        object.__setattr__(self, "max_steps", _optional(self.max_steps, "step cap"))
        object.__setattr__(self, "limit", _optional(self.limit, "few-shot limit (target training examples)"))
        self.domain_shift()        # DomainShift checks kind and amount
        self.transfer_config()     # TransferConfig checks the adaptation budget
        self.system_config()       # SystemConfig checks the source's modules

    # --- the pieces ------------------------------------------------------------------------------------
    @property
    def data_selection(self) -> DataSelection:
        """The digits (all four tasks), this config's seed and size."""
        return self._data

    @property
    def source_optimiser(self) -> OptimiserChoice:
        """How the source system is trained here."""
        return self._source_optimiser

    @property
    def optimiser(self) -> OptimiserChoice:
        """How the copy is adapted (epochs, lr, batch size, seed)."""
        return self._optimiser

    # --- what they build ---------------------------------------------------------------------------------
    def data_kwargs(self) -> dict[str, Any]:
        return self.data_selection.load_kwargs()

    def load_data(self) -> MultiTaskData:
        return self.data_selection.load()

    def system_config(self) -> SystemConfig:
        return system_config(self.strategy, self.width, self.stages, self.seed)

    def source_train_config(self) -> TrainConfig:
        return self.source_optimiser.train_config()

    def domain_shift(self) -> DomainShift:
        return DomainShift(self.shift, float(self.amount), self.seed)

    def transfer_config(self) -> TransferConfig:
        o = self.optimiser
        return TransferConfig(epochs=o.epochs, lr=o.lr, batch_size=o.batch_size, optimizer=o.optimizer,
                              max_steps=self.max_steps, limit=self.limit, seed=o.seed)

    def source_key(self) -> str:
        """Identifies a source system trained here: same key, same system (it is reused)."""
        return repr((self.data_selection, self.system_config().to_dict(), self.source_train_config().to_dict()))

    @classmethod
    def defaults(cls, fast: bool | None = None, **overrides) -> "TransferPanelConfig":
        """The panel's defaults; with ``LAB_FAST`` (``fast`` None reads the environment) a small data subset,
        5 source epochs and 2 adaptation epochs."""
        fast = fast_mode() if fast is None else fast
        base = dict(source_epochs=5, epochs=2, small_data=True) if fast else {}
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
