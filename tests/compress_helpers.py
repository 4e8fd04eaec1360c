"""Shared, cached trained models for the compression tests (train once per session, copy per test)."""
from __future__ import annotations

import copy
from functools import lru_cache

from lab.compress.fit import FitConfig, fit
from lab.compress.reference import digit_data
from lab.cost import MeasureConfig
from lab.models import build_model

QUICK = MeasureConfig(latency=False, memory=False)
FT = FitConfig(epochs=1, lr=5e-4)


@lru_cache(maxsize=None)
def _digits(limit: int):
    return digit_data(seed=0, limit=limit)


def digits1(limit: int = 500):
    """Single-task digits (task 'digit'), a seeded subset."""
    return _digits(limit)


@lru_cache(maxsize=None)
def _trained(name: str, epochs: int, hidden: tuple | None):
    data = digits1()
    options = {"hidden": hidden} if hidden else {}
    model = build_model(name, data.input_shape, 10, seed=0, **options)
    fit(model, data, FitConfig(epochs=epochs, lr=2e-3))
    return model.eval()


def trained(name: str = "mlp", epochs: int = 25, hidden: tuple | None = None):
    """A copy of a reference network trained briefly on ``digits1()``."""
    return copy.deepcopy(_trained(name, epochs, hidden))
