"""Checkpoints of coupled systems: atomic writes, safe loads, and the history they belong to.

A checkpoint is one ``torch.save`` file holding plain data only — the
architecture (JSON-able dict), the state dict and optional extras — so it loads
with ``torch.load(..., weights_only=True)``. It is written with
``lab.atomic.atomic_write_with`` (temporary file, fsync, ``os.replace``): a crash
mid-write never leaves a half-written checkpoint under the real name.

Saved with its ``history``, a checkpoint also carries that history (as strict JSON)
and its epoch count, so a run folder always has a consistent (weights, history)
pair even when a kill lands between writing ``checkpoint.pt`` and ``history.json``:
``lab.runs.load_run`` takes the checkpoint's own copy when the two disagree.
"""
from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_with
from .coupling.limits import check_state_dict
from .coupling.system import CoupledSystem
from .history import History, RunFolderError
from .train import Callback

FORMAT = "lab.checkpoint/1"


def save_checkpoint(system: CoupledSystem, path: str | os.PathLike, extra: dict[str, Any] | None = None, *,
                    history: History | None = None) -> Path:
    """Write ``system`` (architecture + weights) atomically; with ``history``, record it and its epoch count."""
    path = Path(path)
    payload: dict[str, Any] = {
        "format": FORMAT, "architecture": system.architecture(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in system.state_dict().items()},
        "extra": extra or {}}
    if history is not None:
        payload["epochs"] = history.num_epochs
        payload["history"] = history.to_json()
    return atomic_write_with(path, lambda f: torch.save(payload, f))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's contents (weights_only load); RunFolderError when missing, corrupt, unsafe or foreign."""
    path = Path(path)
    if not path.is_file():
        raise RunFolderError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise RunFolderError(f"{path} is not a readable checkpoint: it was refused as unsafe, as it holds Python "
                             f"objects that a plain checkpoint never contains ({unpickling_reason(err)}); it was not "
                             "loaded - open only checkpoints you trust") from None
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise RunFolderError(f"{path} is not a readable checkpoint (corrupt, truncated or not a torch file; "
                             f"{type(err).__name__}: {unpickling_reason(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise RunFolderError(f"{path} is not a lab checkpoint (expected format {FORMAT!r})")
    for key, kind in (("architecture", dict), ("state_dict", dict)):
        if not isinstance(payload.get(key), kind):
            raise RunFolderError(f"{path} is not a valid lab checkpoint: {key!r} is missing or not a {kind.__name__}")
    return payload


def checkpoint_history(payload: dict[str, Any], path: str | os.PathLike) -> History | None:
    """The history saved inside a checkpoint (None for checkpoints saved without one)."""
    if "history" not in payload:
        return None
    try:
        d = json.loads(payload["history"])
    except (TypeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{path} holds an unreadable history: {err}") from None
    history = History.from_dict(d, source=f"the history inside {path}")
    if history.num_epochs != payload.get("epochs"):
        raise RunFolderError(f"{path} says epoch {payload.get('epochs')!r} but its history has "
                             f"{history.num_epochs} epochs")
    return history


def system_from_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> CoupledSystem:
    """Rebuild the system of a ``read_checkpoint`` payload and load its weights (eval mode)."""
    try:        # architecture and state dict are checked against the limits and each other before allocating
        system = CoupledSystem.from_architecture(payload["architecture"], payload["state_dict"])
    except RunFolderError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise RunFolderError(f"{path}: {err if isinstance(err, ValueError) else f'{type(err).__name__}: {err}'}"
                             ) from None
    try:
        system.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise RunFolderError(f"the weights in {path} do not fit its architecture: "
                             f"{str(err).splitlines()[0]}") from None
    return system.eval()


def unpickling_reason(err: BaseException) -> str:
    """The cause in torch's load error, without its advice to load unsafely (``weights_only=False``,
    allow-listing globals): e.g. "Unsupported global: GLOBAL builtins.eval"."""
    text = str(err)
    found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\.\s+Please|\n|$)", text)
    if found:
        text = found.group(1)
    sentences = re.split(r"(?<=[.!?])\s+|\n+", text)
    kept = [s.strip() for s in sentences if s.strip() and not re.search(
        r"weights_only|safe_globals|trust|arbitrary code|pytorch\.org", s, re.IGNORECASE)]
    return " ".join(kept)[:300] or type(err).__name__


def load_checkpoint(path: str | os.PathLike) -> CoupledSystem:
    """Rebuild the saved system and load its weights (eval mode)."""
    return system_from_checkpoint(read_checkpoint(path), path)


def load_weights(system: CoupledSystem, path: str | os.PathLike) -> CoupledSystem:
    """Load saved weights into an existing system; ValueError if the architectures differ."""
    payload = read_checkpoint(path)
    saved, mine = payload["architecture"], system.architecture()
    if saved != mine:
        diff = {k: (saved.get(k), mine.get(k)) for k in set(saved) | set(mine) if saved.get(k) != mine.get(k)}
        raise ValueError(f"checkpoint {path} is from a different architecture; (saved, this system): {diff}")
    check_state_dict(system.state_dict(), payload["state_dict"], f"the state dict of {path}")
    system.load_state_dict(payload["state_dict"])
    return system


class CheckpointCallback(Callback):
    """Save ``checkpoint.pt`` and ``history.json`` into ``run_dir`` when training starts (epoch 0: the
    initial weights and W), after every epoch and at the end.

    The checkpoint is written first and carries the history, then ``history.json``: after a kill at any
    moment ``history.json`` is never ahead of the weights, and ``lab.runs.load_run`` returns the pair
    the checkpoint recorded when ``history.json`` lags one epoch behind.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)

    def save(self, system, history: History) -> None:
        save_checkpoint(system, self.run_dir / "checkpoint.pt", extra={"epoch": history.num_epochs},
                        history=history)
        history.save(self.run_dir / "history.json")

    def on_train_start(self, system, history: History) -> None:
        self.save(system, history)

    def on_epoch_end(self, system, history: History) -> None:
        self.save(system, history)

    def on_train_end(self, system, history: History) -> None:
        self.save(system, history)
