"""Shared checks for optimiser settings (the trainer's and the compression fine-tuner's configs)."""
from __future__ import annotations

import math


def check_optimiser_settings(epochs: int, batch_size: int, lr: float, optimizer: str, weight_decay: float,
                             min_epochs: int = 1) -> None:
    """Raise ValueError naming the first setting outside its allowed range."""
    if epochs < min_epochs:
        raise ValueError(f"epochs must be >= {min_epochs}, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
