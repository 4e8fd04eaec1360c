"""Trained reference networks on the digits (one task: the digit, 10 classes), in seconds.

    data = digit_data()                     # sklearn digits, task "digit", 60/20/20 split
    model = train_reference("mlp", data)    # 64-300-100-10, ~97% test accuracy
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from torch import nn

from ..data import load_digits_tasks
from ..data.base import MultiTaskData
from ..models import build_model
from ..settings import fast_mode
from .fit import FitConfig, fit

REFERENCE_FIT = FitConfig(epochs=40, batch_size=64, lr=1e-3)
FAST_EPOCHS = 5          # the cap on reference training with LAB_FAST=1


def digit_data(seed: int = 0, limit: int | None = None) -> MultiTaskData:
    """The digits with the single task ``digit``; inputs (N, 1, 8, 8) in [0, 1]."""
    return load_digits_tasks(tasks=("digit",), seed=seed, limit=limit)


def train_reference(name: str = "mlp", data: MultiTaskData | None = None, config: FitConfig | None = None,
                    seed: int = 0, *, after_step: Callable[[nn.Module], None] | None = None,
                    **options) -> nn.Module:
    """Build ``name`` (see ``lab.models.MODELS``) from ``seed`` and train it on ``data`` (eval mode).

    ``LAB_FAST=1`` caps training at ``FAST_EPOCHS`` epochs. ``after_step(model)`` runs after every
    optimiser step (``lab.compress.fit.fit``): progress bars, or a stop flag that raises.
    """
    data = data or digit_data(seed)
    if len(data.tasks) != 1 or data.tasks[0].kind != "classification":
        raise ValueError(f"reference networks predict one classification task; the data has "
                         f"{[t.as_dict() for t in data.tasks]} (use data.select_tasks([...]))")
    config = replace(config or REFERENCE_FIT, seed=seed)
    if fast_mode():
        config = replace(config, epochs=min(config.epochs, FAST_EPOCHS))
    model = build_model(name, data.input_shape, data.tasks[0].num_outputs, seed=seed, **options)
    fit(model, data, config, after_step=after_step)
    return model.eval()
