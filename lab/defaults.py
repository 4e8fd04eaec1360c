"""The default experiment, in one place: ``python -m lab couple`` and the coupling playground start from it.

Architecture and optimiser defaults are the config dataclasses' own (``SystemConfig``, ``TrainConfig``),
adversarial-training defaults those of ``Attack`` and ``AdversarialTraining``; this module only names
them for the CLI's parser and the panels, and adds the data choice. Change a default in its dataclass
and both follow.
"""
from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from .adversarial import AdversarialTraining, Attack
from .coupling.system import SystemConfig
from .train import TrainConfig

DATA = "digits"                   # dataset name (``lab.data.DATASETS``)
STRUCTURE = "chain"               # W* of the synthetic tasks (``lab.data.STRUCTURES``)
DEFAULT_SYSTEM = SystemConfig()   # strategy cross_stitch, mlp blocks, widths (64, 64), w_init (0.9, 0.1), seed 0
DEFAULT_TRAIN = TrainConfig()     # 20 epochs, batch 64, Adam, lr 1e-3, seed 0


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` of ``cls`` (ValueError if it has none)."""
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
            raise ValueError(f"{cls.__name__}.{name} has no default")
    raise ValueError(f"{cls.__name__} has no field {name!r}")


ADV_EPS: float = field_default(Attack, "eps")                       # attack radius in input units
ADV_STEPS: int = field_default(Attack, "steps")                     # PGD steps
ADV_RATIO: float = field_default(AdversarialTraining, "ratio")      # share of adversarial examples per batch
