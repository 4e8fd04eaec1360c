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
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
        return {t: self.val_metric[t][-1] for t in self.task_names if self.val_metric.get(t)}

    # --- files ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        d = dict(d)
        fmt = d.pop("format", None)
        if fmt != FORMAT:
            raise ValueError(f"not a lab history (format {fmt!r}, expected {FORMAT!r})")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as JSON (temp file + rename)."""
        return atomic_write_text(Path(path), json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        try:
            d = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not a readable history file: {err}") from None
        return cls.from_dict(d)


def _to_lists(matrices) -> list[list[list[float]]]:
    return [np.asarray(W.detach().cpu() if hasattr(W, "detach") else W, dtype=float).tolist() for W in matrices]


def atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
