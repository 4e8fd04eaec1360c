"""Containers for multi-task data: task specs, splits and the dataset bundle.

A dataset is a set of *tasks* computed on the same examples. Inputs are either
shared by every sub-module, ``x`` of shape (N, *input_shape), or given per
module, ``x`` of shape (N, num_modules, *input_shape) (the synthetic coupled
tasks, where module i sees only its own input u_i).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import Tensor

from ..validation import as_float_tensor, as_label_tensor, check_floats, check_int, check_ints, check_seed, check_str, show

TaskKind = Literal["classification", "regression"]
Metric = Literal["accuracy", "r2", "iou50", "iou"]

_DEFAULT_METRIC: dict[str, Metric] = {"classification": "accuracy", "regression": "r2"}
MAX_OUTPUTS = 100_000      # classes or regressed values of one task


@dataclass(frozen=True)
class Task:
    """One prediction task.

    ``num_outputs`` is the number of classes (classification) or of regressed
    values (regression). ``metric`` is what "accuracy" means for the task:
    ``accuracy`` (fraction correct), ``r2`` (coefficient of determination) or
    ``iou50`` (fraction of predicted boxes with IoU >= 0.5 against the target box,
    boxes as (x0, y0, x1, y1)) or ``iou`` (mean IoU of the predicted boxes; such a box task is trained
    with L1 + generalized-IoU loss, ``lab.metrics.box_loss``).
    """

    name: str
    kind: TaskKind
    num_outputs: int
    metric: Metric | None = None

    def __post_init__(self) -> None:
        check_str("task name", self.name, max_len=100)
        if self.kind not in ("classification", "regression"):
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not allowed; use 'classification' or 'regression'")
        object.__setattr__(self, "num_outputs", check_int(f"task {self.name!r}: num_outputs", self.num_outputs,
                                                          min=1, max=MAX_OUTPUTS))
        if self.num_outputs < 1 or (self.kind == "classification" and self.num_outputs < 2):
            raise ValueError(f"task {self.name!r}: num_outputs={self.num_outputs} is too small "
                             "(classification needs >= 2 classes, regression >= 1 value)")
        if self.metric is None:
            object.__setattr__(self, "metric", _DEFAULT_METRIC[self.kind])
        if self.metric not in ("accuracy", "r2", "iou50", "iou"):
            raise ValueError(f"task {self.name!r}: metric {self.metric!r} is not one of accuracy, r2, iou50, iou")
        if self.metric in ("iou50", "iou") and (self.kind != "regression" or self.num_outputs != 4):
            raise ValueError(f"task {self.name!r}: metric {self.metric!r} needs a regression task with 4 outputs "
                             f"(x0, y0, x1, y1), got {self.kind} with {self.num_outputs}")

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "num_outputs": self.num_outputs, "metric": self.metric}


@dataclass
class Split:
    """Examples of one split: inputs ``x`` and one target tensor per task.

    Classification targets are int64 of shape (N,), regression targets float32
    of shape (N, num_outputs).
    """

    x: Tensor
    y: dict[str, Tensor]

    def __post_init__(self) -> None:
        """Inputs become float32 tensors and targets tensors (integer labels int64, floating targets
        float32), from tensors of any real dtype, NumPy arrays or nested lists (``lab.validation``)."""
        self.x = as_float_tensor("inputs x", self.x)
        if not isinstance(self.y, dict) or not all(isinstance(k, str) for k in self.y):
            raise ValueError(f"targets y must be a dict of task name -> targets, got {type(self.y).__name__}")
        self.y = {k: as_label_tensor(f"targets of task {k!r}", v) for k, v in self.y.items()}
        if self.x.dim() < 2:
            raise ValueError(f"inputs x must have shape (N, ...) with one row per example, got {tuple(self.x.shape)}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: Tensor) -> "Split":
        return Split(self.x[index], {k: v[index] for k, v in self.y.items()})

    def map_x(self, fn) -> "Split":
        return Split(fn(self.x), dict(self.y))


@dataclass
class MultiTaskData:
    """A named multi-task dataset with train/val/test splits.

    ``input_shape`` is the shape one module sees for one example. When
    ``per_module_inputs`` is true, ``x`` has an extra module axis at dim 1.
    ``W_true`` is the ground-truth coupling (num_modules, num_modules) when known.
    """

    name: str
    tasks: tuple[Task, ...]
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, ...]
    per_module_inputs: bool = False
    W_true: Tensor | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.tasks, (tuple, list)) or not all(isinstance(t, Task) for t in self.tasks):
            raise ValueError(f"dataset {self.name!r}: tasks must be a tuple of Task, got {type(self.tasks).__name__}")
        self.tasks = tuple(self.tasks)
        for split_name, split in (("train", self.train), ("val", self.val), ("test", self.test)):
            if not isinstance(split, Split):
                raise ValueError(f"dataset {self.name!r}: {split_name} must be a Split, got {type(split).__name__}")
        self.input_shape = check_ints("input_shape", self.input_shape, min=1, max_len=3)
        for task in self.tasks:          # integer regression targets are numbers like any other: float32
            if task.kind == "regression":
                for split in (self.train, self.val, self.test):
                    y = split.y.get(task.name)
                    if y is not None and not y.is_floating_point():
                        split.y[task.name] = y.to(torch.float32)
        validate(self)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def num_inputs(self) -> int | None:
        """Modules that have their own input (None when all share one input)."""
        return int(self.train.x.shape[1]) if self.per_module_inputs else None

    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def map_x(self, fn, name: str | None = None, **info) -> "MultiTaskData":
        """Apply ``fn`` to the inputs of every split (labels unchanged)."""
        return replace(self, name=name or self.name, train=self.train.map_x(fn), val=self.val.map_x(fn),
                       test=self.test.map_x(fn), info={**self.info, **info})

    def select_tasks(self, names: list[str] | tuple[str, ...]) -> "MultiTaskData":
        """Keep only the named tasks, in the given order."""
        unknown = [n for n in names if n not in self.task_names]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; this dataset has {list(self.task_names)}")
        by_name = {t.name: t for t in self.tasks}
        keep = lambda s: Split(s.x, {n: s.y[n] for n in names})  # noqa: E731
        return replace(self, tasks=tuple(by_name[n] for n in names), train=keep(self.train),
                       val=keep(self.val), test=keep(self.test))


def validate(data: MultiTaskData) -> None:
    """Raise ValueError when splits are empty or labels do not fit the task specs."""
    if not data.tasks:
        raise ValueError(f"dataset {data.name!r} has no tasks")
    names = [t.name for t in data.tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset {data.name!r}: task names must be unique, got {names}")
    expected_x = (data.num_inputs,) + tuple(data.input_shape) if data.per_module_inputs else tuple(data.input_shape)
    for split_name, split in data.splits().items():
        if len(split) == 0:
            raise ValueError(f"dataset {data.name!r}: split {split_name!r} is empty")
        if tuple(split.x.shape[1:]) != expected_x:
            raise ValueError(f"dataset {data.name!r}: split {split_name!r} has inputs of shape "
                             f"{tuple(split.x.shape[1:])} per example, expected {expected_x}")
        if set(split.y) != set(names):
            raise ValueError(f"dataset {data.name!r}: split {split_name!r} has targets for {sorted(split.y)}, "
                             f"but the tasks are {names}")
        for task in data.tasks:
            y = split.y[task.name]
            if y.shape[0] != len(split):
                raise ValueError(f"dataset {data.name!r}: split {split_name!r}, task {task.name!r} has "
                                 f"{y.shape[0]} targets for {len(split)} inputs")
            if task.kind == "classification":
                if y.dtype != torch.int64 or y.dim() != 1:
                    raise ValueError(f"task {task.name!r}: classification targets must be int64 of shape (N,), "
                                     f"got {y.dtype} {tuple(y.shape)}")
                if y.min() < 0 or y.max() >= task.num_outputs:
                    raise ValueError(f"task {task.name!r}: labels must lie in [0, {task.num_outputs - 1}], "
                                     f"found {int(y.min())}..{int(y.max())} in split {split_name!r}")
            else:
                if not y.is_floating_point() or tuple(y.shape[1:]) != (task.num_outputs,):
                    raise ValueError(f"task {task.name!r}: regression targets must be float of shape "
                                     f"(N, {task.num_outputs}), got {y.dtype} {tuple(y.shape)}")
            if y.is_floating_point() and not torch.isfinite(y).all():
                raise ValueError(f"task {task.name!r}: targets in split {split_name!r} contain NaN or inf")
        if not torch.isfinite(split.x).all():
            raise ValueError(f"dataset {data.name!r}: inputs in split {split_name!r} contain NaN or inf")


def split_indices(n: int, fractions: tuple[float, float, float], seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Shuffle range(n) with ``seed`` and cut it into train/val/test index tensors."""
    fractions = check_fractions(fractions)
    seed = check_seed(seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]


def check_fractions(fractions: object) -> tuple[float, float, float]:
    """(train, val, test) shares: three positive finite numbers that sum to 1."""
    try:
        values = check_floats("fractions", fractions, min=0.0, max=1.0, min_open=True, length=3)
    except ValueError:
        values = None
    if values is None or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be positive and sum to 1, got {show(fractions)}")
    return values  # type: ignore[return-value]


def check_task_names(tasks: object, offered: tuple[str, ...], dataset: str) -> tuple[str, ...]:
    """A non-empty tuple of distinct task names from ``offered``."""
    if isinstance(tasks, str) or not isinstance(tasks, (list, tuple)) or not tasks \
            or not all(isinstance(t, str) for t in tasks):
        raise ValueError(f"tasks must be a list of task names from {list(offered)}, got {show(tasks)}")
    unknown = [t for t in tasks if t not in offered]
    if unknown:
        raise ValueError(f"unknown {dataset} task(s) {unknown}; choose from {list(offered)}")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"each task once, please: got {list(tasks)}")
    return tuple(tasks)


def make_splits(x: Tensor, y: dict[str, Tensor], fractions: tuple[float, float, float], seed: int
                ) -> tuple[Split, Split, Split]:
    full = Split(x, y)
    return tuple(full.subset(idx) for idx in split_indices(len(full), fractions, seed))  # type: ignore[return-value]
