"""Runs on disk: ``runs/<timestamp>-<name>/`` with config, history (W snapshots) and checkpoint.

A saved run can be listed, reloaded and replayed after a kernel restart.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .checkpoint import load_checkpoint, save_checkpoint
from .coupling.system import CoupledSystem
from .history import History, atomic_write_text

_CHECKOUT = Path(__file__).resolve().parents[1]


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """Where runs live: ``root`` if given, else ``$LAB_RUNS`` (read at call time), else the
    checkout's ``runs/`` (so the CLI and notebooks share one folder), else ``./runs``."""
    if root is not None:
        return Path(root)
    if os.environ.get("LAB_RUNS"):
        return Path(os.environ["LAB_RUNS"])
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / "runs"
    return Path("runs")


def new_run_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """A fresh folder ``<root>/<YYYYmmdd-HHMMSS>-<name>`` (a counter is added if it exists)."""
    root = runs_root(root)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    base = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    path.mkdir(parents=True)
    return path


def save_run(run_dir: str | os.PathLike, system: CoupledSystem, history: History,
             config: dict[str, Any] | None = None) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(config or history.config, indent=2))
    history.save(run_dir / "history.json")
    save_checkpoint(system, run_dir / "checkpoint.pt")
    return run_dir


def list_runs(root: str | os.PathLike | None = None) -> list[Path]:
    """Run folders with a history, newest first."""
    root = runs_root(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if (p / "history.json").is_file()), key=lambda p: p.name, reverse=True)


def load_run(run_dir: str | os.PathLike, with_model: bool = True) -> tuple[CoupledSystem | None, History]:
    run_dir = Path(run_dir)
    history = History.load(run_dir / "history.json")
    ckpt = run_dir / "checkpoint.pt"
    system = load_checkpoint(ckpt) if with_model and ckpt.is_file() else None
    return system, history


# config.json "role" of plainly trained runs: none (`python -m lab couple --save`) or the playground's
PLAIN_ROLES = (None, "yours", "baseline")


def latest_plain_run(strategy: str, data: str = "digits", root: str | os.PathLike | None = None) -> Path | None:
    """The newest run of ``strategy`` trained on ``data`` (the dataset's name) *plainly*, as the playground
    (notebook 01) and ``python -m lab couple --save`` train: no adversarial training, not a transfer
    adaptation, not a robustness- or transfer-panel run (their ``role`` in ``config.json``); with a
    checkpoint. Folders that cannot be read are skipped. None when there is no such run.
    """
    for path in list_runs(root):
        if not (path / "checkpoint.pt").is_file():
            continue
        try:
            history = History.load(path / "history.json")
            config_file = path / "config.json"
            role = json.loads(config_file.read_text()).get("role") if config_file.is_file() else None
        except (ValueError, OSError, KeyError, TypeError, AttributeError):
            continue
        if (history.strategy == strategy and history.config.get("data") == data and role in PLAIN_ROLES
                and "adversarial" not in history.config and "transfer" not in history.extra):
            return path
    return None
