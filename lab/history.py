"""``History``: what a training run recorded, per epoch, including every W.

Saved as one JSON file (W snapshots as nested lists), so a run can be replayed
and its W inspected without the model. Shapes: ``W[e][s]`` is the
(num_modules, num_modules) coupling of stage s at the end of epoch e;
``W_init[s]`` the coupling before training. For input-dependent couplings
(attention) each W is the mean of W(x) over the validation split.

The facts a plot or a table needs are typed fields that ``lab.train.train``
fills, so a run looks the same whether it was trained from the CLI, a notebook
or a panel: ``steps_per_epoch``, ``task_names``, ``weighting`` and
``weighting_options``, ``data_name`` and ``data_info``, ``adversarial``. Files
written before these fields existed load with the defaults (filled from their
``config`` record where it holds them).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write_text, strict_json

FORMAT = "lab.history/1"


@dataclass
class History:
    task_names: list[str]
    strategy: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)
    train_loss: dict[str, list[float]] = field(default_factory=dict)     # per task + "total"
    train_metric: dict[str, list[float]] = field(default_factory=dict)
    val_loss: dict[str, list[float]] = field(default_factory=dict)
    val_metric: dict[str, list[float]] = field(default_factory=dict)
    task_weights: list[dict[str, float]] = field(default_factory=list)   # effective lambda per epoch
    W: list[list[list[list[float]]]] = field(default_factory=list)        # epoch -> stage -> n x n
    W_init: list[list[list[float]]] = field(default_factory=list)
    W_true: list[list[float]] | None = None
    epoch_time: list[float] = field(default_factory=list)                 # seconds
    step_loss: list[float] = field(default_factory=list)                  # joint loss of every step
    stopped: bool = False                                                 # ended by the stop flag
    error: str | None = None                                              # why training failed, if it did
    steps_per_epoch: int | None = None                                    # optimizer steps per full epoch
    weighting: str = ""                                                   # loss weighting's name (lab.weighting)
    weighting_options: dict[str, Any] = field(default_factory=dict)       # its constructor options
    data_name: str = ""                                                   # MultiTaskData.name, e.g. "digits"
    data_info: dict[str, Any] = field(default_factory=dict)               # seed, limit, structure, ...
    adversarial: dict[str, Any] | None = None                             # AdversarialTraining.to_dict() if used
    epoch_lr: list[float] = field(default_factory=list)                   # learning rate of every epoch trained
    restored_epoch: int | None = None                                     # TrainConfig.restore_best: whose weights
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Fill the typed facts of files written before they existed (from ``config`` and ``extra``)."""
        config = self.config if isinstance(self.config, dict) else {}
        extra = self.extra if isinstance(self.extra, dict) else {}
        if self.steps_per_epoch is None and isinstance(extra.get("steps_per_epoch"), int):
            self.steps_per_epoch = extra["steps_per_epoch"]       # the playground wrote it there
        if not self.weighting and isinstance(config.get("weighting"), str):
            self.weighting = config["weighting"]
        if not self.data_name and isinstance(config.get("data"), str):
            self.data_name = config["data"]
        if not self.data_info and isinstance(config.get("data_info"), dict):
            self.data_info = dict(config["data_info"])
        if self.adversarial is None and isinstance(config.get("adversarial"), dict):
            self.adversarial = config["adversarial"]

    # --- recording -------------------------------------------------------------
    def record_epoch(self, epoch: int, train_loss: dict[str, float], train_metric: dict[str, float],
                     val: dict[str, dict[str, float]], weights: dict[str, float], matrices, seconds: float) -> None:
        self.epochs.append(epoch)
        for store, values in ((self.train_loss, train_loss), (self.train_metric, train_metric),
                              (self.val_loss, val["loss"]), (self.val_metric, val["metric"])):
            for k, v in values.items():
                store.setdefault(k, []).append(float(v))
        self.task_weights.append({k: float(v) for k, v in weights.items()})
        self.W.append(_to_lists(matrices))
        self.epoch_time.append(float(seconds))

    # --- reading ----------------------------------------------------------------
    @property
    def num_epochs(self) -> int:
        return len(self.epochs)

    def W_array(self) -> np.ndarray:
        """All snapshots: (epochs, stages, n, n)."""
        return np.asarray(self.W, dtype=float)

    def W_at(self, epoch_index: int) -> list[np.ndarray]:
        """The W of every stage after the given recorded epoch (index into ``epochs``; -1 = last)."""
        return [np.asarray(W, dtype=float) for W in self.W[epoch_index]]

    def final_metrics(self) -> dict[str, float]:
        """Validation metric per task of the weights training returned: the last epoch's, or the restored
        epoch's when ``restored_epoch`` is set (``TrainConfig.restore_best``)."""
        i = self.epochs.index(self.restored_epoch) if self.restored_epoch in self.epochs else -1
        return {t: self.val_metric[t][i] for t in self.task_names if self.val_metric.get(t)}

    # --- files ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything as plain data (floats may be NaN/inf; ``save`` stores those as null)."""
        return {"format": FORMAT, **asdict(self)}

    def to_json(self) -> str:
        """Strict JSON (no bare NaN): non-finite numbers become null and, unless an error is already
        recorded, ``error`` says where they were (e.g. ``W[3][0][1][2]``)."""
        text, found = strict_json(self.to_dict())
        if found and not self.error:
            d = json.loads(text)
            d["error"] = _non_finite_note(found)
            text = json.dumps(d, allow_nan=False)
        return text

    @classmethod
    def from_dict(cls, d: Any, source: str = "this history") -> "History":
        """A History from ``to_dict``/JSON data; RunFolderError naming ``source`` and what is wrong.

        Nulls in the numeric fields (stored for NaN/inf) come back as NaN.
        """
        if not isinstance(d, dict):
            raise RunFolderError(f"{source} is not a lab history: expected a JSON object, got {type(d).__name__}")
        d = dict(d)
        fmt = d.pop("format", None)
        if fmt != FORMAT:
            raise RunFolderError(f"{source} is not a lab history (format {fmt!r}, expected {FORMAT!r})")
        problem = _history_problem(d)
        if problem:
            raise RunFolderError(f"{source} is not a valid lab history: {problem}")
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in d.items() if k in known}
        for name in _NUMERIC_FIELDS:
            if kwargs.get(name) is not None:
                kwargs[name] = _nulls_to_nan(kwargs[name])
        return cls(**kwargs)

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as strict JSON (see ``to_json``)."""
        return atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        """Read a saved history; RunFolderError naming the file when it is missing, unreadable or malformed."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RunFolderError(f"{path}: no such file (no history saved there)") from None
        except (OSError, UnicodeDecodeError) as err:
            raise RunFolderError(f"{path} is not a readable history file: {err}") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise RunFolderError(f"{path} is not a readable history file (bad JSON: {err})") from None
        return cls.from_dict(d, source=str(path))


class RunFolderError(ValueError):
    """A run folder, or one of its files (history, checkpoint, config), is missing, unreadable or
    malformed; the message names the file and what is wrong."""


_NUMERIC_FIELDS = ("train_loss", "train_metric", "val_loss", "val_metric", "task_weights", "W", "W_init",
                   "W_true", "epoch_time", "step_loss", "epoch_lr")


def _non_finite_note(found: list[str]) -> str:
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return f"non-finite values (NaN or inf), stored as null: {shown}"


def _nulls_to_nan(v: Any) -> Any:
    if v is None:
        return float("nan")
    if isinstance(v, list):
        return [_nulls_to_nan(x) for x in v]
    if isinstance(v, dict):
        return {k: _nulls_to_nan(x) for k, x in v.items()}
    return v


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(_is_number(x) for x in v)


def _matrix_shape(m: Any) -> tuple[int, int] | None:
    """(rows, cols) of a list of equally long lists of numbers, else None."""
    if not isinstance(m, list) or not m or not all(_numbers(r) for r in m):
        return None
    cols = {len(r) for r in m}
    return (len(m), cols.pop()) if len(cols) == 1 else None


def _stages_problem(stages: Any, n: int, what: str) -> str | None:
    if not isinstance(stages, list) or not stages:
        return f"{what} is not a list of stages"
    for s, m in enumerate(stages):
        shape = _matrix_shape(m)
        if shape != (n, n):
            found = f"a {shape[0]} x {shape[1]} matrix" if shape else "not a matrix of numbers"
            return f"{what}, stage {s + 1} is {found}, not {n} x {n}"
    return None


def _modules(d: dict[str, Any]) -> int:
    """How many modules the saved system had (its config), else one per task."""
    arch = d.get("config", {}).get("system") if isinstance(d.get("config"), dict) else None
    cfg = arch.get("system_config", {}) if isinstance(arch, dict) else {}
    for n in (cfg.get("num_modules") if isinstance(cfg, dict) else None,
              arch.get("num_inputs") if isinstance(arch, dict) else None):
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
    return len(d["task_names"])


def _history_problem(d: dict[str, Any]) -> str | None:
    """What is wrong with a history's fields (types, lengths, W shapes), or None."""
    names = d.get("task_names")
    if not isinstance(names, list) or not names or not all(isinstance(t, str) for t in names):
        return f"task_names must be a non-empty list of names, got {names!r}"
    for key, kind in (("strategy", str), ("config", dict), ("extra", dict)):
        if key in d and not isinstance(d[key], kind):
            return f"{key} must be a {kind.__name__}, got {type(d[key]).__name__}"
    epochs = d.get("epochs", [])
    if not isinstance(epochs, list) or not all(isinstance(e, int) and not isinstance(e, bool) for e in epochs):
        return "epochs must be a list of epoch numbers"
    count = len(epochs)
    for key in ("train_loss", "train_metric", "val_loss", "val_metric"):
        store = d.get(key, {})
        if not isinstance(store, dict):
            return f"{key} must map names to per-epoch lists"
        for name, values in store.items():
            if not _numbers(values) or len(values) != count:
                return f"{key}[{name!r}] must hold one number per recorded epoch ({count})"
    weights = d.get("task_weights", [])
    if not isinstance(weights, list) or not all(isinstance(w, dict) and all(_is_number(x) for x in w.values())
                                                for w in weights):
        return "task_weights must be a list of name -> number maps"
    if weights and len(weights) != count:
        return f"task_weights must hold one map per recorded epoch ({count})"
    for key in ("epoch_time", "step_loss", "epoch_lr"):
        if key in d and not _numbers(d[key]):
            return f"{key} must be a list of numbers"
    if len(d.get("epoch_time", [])) != count:
        return f"epoch_time must hold one number per recorded epoch ({count})"
    restored = d.get("restored_epoch")
    if restored is not None and (not isinstance(restored, int) or isinstance(restored, bool) or restored not in epochs):
        return f"restored_epoch must be one of the recorded epochs {epochs[:5]}{'...' if count > 5 else ''} or null, " \
               f"got {restored!r}"
    n = _modules(d)
    W, W_init = d.get("W", []), d.get("W_init", [])
    if not isinstance(W, list) or len(W) != count:
        return f"W must hold one snapshot per recorded epoch ({count}), got {len(W) if isinstance(W, list) else W!r}"
    stages = len(W_init) if isinstance(W_init, list) and W_init else (len(W[0]) if W and isinstance(W[0], list)
                                                                       else 0)
    if W_init:
        problem = _stages_problem(W_init, n, "W_init")
        if problem:
            return problem + f" (epochs x stages x {n} x {n} expected for {n} modules)"
    for e, snapshot in enumerate(W):
        problem = _stages_problem(snapshot, n, f"W at epoch {epochs[e]}")
        if problem is None and len(snapshot) != stages:
            problem = f"W at epoch {epochs[e]} has {len(snapshot)} stages, not {stages}"
        if problem:
            return problem + f" (epochs x stages x {n} x {n} expected for {n} modules)"
    if d.get("W_true") is not None and _matrix_shape(d["W_true"]) != (n, n):
        return f"W_true must be a {n} x {n} matrix"
    for key, kind in (("stopped", bool), ("error", (str, type(None)))):
        if key in d and not isinstance(d[key], kind):
            return f"{key} has the wrong type ({type(d[key]).__name__})"
    return None


def _to_lists(matrices) -> list[list[list[float]]]:
    return [np.asarray(W.detach().cpu() if hasattr(W, "detach") else W, dtype=float).tolist() for W in matrices]
