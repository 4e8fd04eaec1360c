"""Checkpoints of coupled systems: atomic writes, safe loads.

A checkpoint is one ``torch.save`` file holding plain data only — the
architecture (JSON-able dict), the state dict and optional extras — so it loads
with ``torch.load(..., weights_only=True)``. Writes go to a temporary file in
the same folder, then ``os.replace`` it into place: a crash mid-write never
leaves a half-written checkpoint under the real name.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

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
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise ValueError(f"{path} is not a readable checkpoint (corrupt or not a torch file): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a lab checkpoint (expected format {FORMAT!r})")
    return payload


def load_checkpoint(path: str | os.PathLike) -> CoupledSystem:
    """Rebuild the saved system and load its weights (eval mode)."""
    payload = read_checkpoint(path)
    system = CoupledSystem.from_architecture(payload["architecture"])
    system.load_state_dict(payload["state_dict"])
    return system.eval()


def load_weights(system: CoupledSystem, path: str | os.PathLike) -> CoupledSystem:
    """Load saved weights into an existing system; ValueError if the architectures differ."""
    payload = read_checkpoint(path)
    saved, mine = payload["architecture"], system.architecture()
    if saved != mine:
        diff = {k: (saved.get(k), mine.get(k)) for k in set(saved) | set(mine) if saved.get(k) != mine.get(k)}
        raise ValueError(f"checkpoint {path} is from a different architecture; (saved, this system): {diff}")
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
