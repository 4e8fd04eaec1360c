"""Offline, seeded multi-task datasets as torch tensors with train/val/test splits."""
from __future__ import annotations

import inspect
from functools import partial
from typing import Callable

from .base import MultiTaskData, Split, Task, make_splits, split_indices, validate
from .detection import CLUTTER, DETECTION_TASKS, check_boxes, load_detection
from .digits import DIGITS_TASKS, load_digits_canvas, load_digits_tasks, place_on_canvas
from .mnist1d import MNIST1D_TASKS, load_mnist1d
from .shifts import SHIFT_KINDS, DomainShift, apply_shift, shift_domain
from .synthetic import STRUCTURES, load_synthetic, make_coupling_structure
from .torchvision_sets import load_torchvision_set

DATASETS: dict[str, Callable[..., MultiTaskData]] = {
    "digits": load_digits_tasks,
    "digits_canvas": load_digits_canvas,
    "detection": load_detection,
    "mnist1d": load_mnist1d,
    "synthetic": load_synthetic,
    "mnist": partial(load_torchvision_set, "mnist"),
    "fashion_mnist": partial(load_torchvision_set, "fashion_mnist"),
}


def load_data(name: str, **kwargs) -> MultiTaskData:
    """Load a dataset by name (see ``DATASETS``); keyword arguments go to its loader."""
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {list(DATASETS)}")
    loader = DATASETS[name]
    allowed = list(inspect.signature(loader).parameters)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"dataset {name!r} does not take {unknown}; its options are {allowed}")
    return loader(**kwargs)


__all__ = [
    "CLUTTER", "DETECTION_TASKS", "check_boxes", "load_detection",
    "DATASETS", "DIGITS_TASKS", "MNIST1D_TASKS", "SHIFT_KINDS", "STRUCTURES", "DomainShift", "MultiTaskData",
    "Split", "Task", "apply_shift", "load_data", "load_digits_canvas", "load_digits_tasks", "load_mnist1d",
    "load_synthetic", "load_torchvision_set", "make_coupling_structure", "make_splits", "place_on_canvas",
    "shift_domain", "split_indices", "validate",
]
