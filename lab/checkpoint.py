"""Checkpoints of coupled systems: atomic writes, safe loads.

A checkpoint is one ``torch.save`` file holding plain data only — the
architecture (JSON-able dict), the state dict and optional extras — so it loads
with ``torch.load(..., weights_only=True)``. Writes go to a temporary file in
the same folder, then ``os.replace`` it into place: a crash mid-write never
leaves a half-written checkpoint under the real name.
"""
from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from .coupling.limits import check_state_dict
from .coupling.system import CoupledSystem
from .history import History
from .train import Callback

FORMAT = "lab.checkpoint/1"


def save_checkpoint(system: CoupledSystem, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "architecture": system.architecture(),
               "state_dict": {k: v.detach().cpu().clone() for k, v in system.state_dict().items()},
               "extra": extra or {}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's contents (weights_only load); ValueError when missing, corrupt or foreign."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path} is not a readable checkpoint: it was refused as unsafe, as it holds Python objects that a plain checkpoint never "
                         f"contains ({unpickling_reason(err)}); it was not loaded - open only checkpoints you "
                         "trust") from None
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise ValueError(f"{path} is not a readable checkpoint (corrupt, truncated or not a torch file; "
                         f"{type(err).__name__}: {unpickling_reason(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a lab checkpoint (expected format {FORMAT!r})")
    if not isinstance(payload.get("architecture"), dict) or not isinstance(payload.get("state_dict"), dict):
        raise ValueError(f"{path} is not a complete lab checkpoint: it needs an 'architecture' dict and a "
                         "'state_dict' dict")
    return payload


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
    payload = read_checkpoint(path)
    try:        # architecture and state dict are checked against the limits and each other before allocating
        system = CoupledSystem.from_architecture(payload["architecture"], payload["state_dict"])
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return system.eval()


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
    """Save ``checkpoint.pt`` and ``history.json`` into ``run_dir`` after every epoch."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, system, history: History) -> None:
        save_checkpoint(system, self.run_dir / "checkpoint.pt", extra={"epoch": history.epochs[-1]})
        history.save(self.run_dir / "history.json")

    def on_train_end(self, system, history: History) -> None:
        history.save(self.run_dir / "history.json")
