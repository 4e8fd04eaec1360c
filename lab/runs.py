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


# --- saved runs on the digits tasks (what the compression panel and `compress --run` load) ----------------
DIGITS_SMALL_LIMIT = 400     # the playground's small_data subset of the digits (its DATA_CHOICES["digits"].fast_size)


def digits_runs(root: str | os.PathLike | None = None) -> list[tuple[Path, History]]:
    """Saved runs (newest first) of systems trained on the digits tasks, with a checkpoint to load."""
    from .data import DIGITS_TASKS

    out = []
    for path in list_runs(root):
        if not (path / "checkpoint.pt").is_file():
            continue
        try:
            _, history = load_run(path, with_model=False)
        except (ValueError, OSError, KeyError):
            continue
        if history.config.get("data") == "digits" and history.task_names and \
                set(history.task_names) <= set(DIGITS_TASKS):
            out.append((path, history))
    return out


def latest_digits_run(strategy: str | None = None, root: str | os.PathLike | None = None) -> Path | None:
    """The newest saved run on the digits tasks (of ``strategy``, e.g. "cross_stitch", if given), or None."""
    return next((p for p, h in digits_runs(root) if strategy is None or h.strategy == strategy), None)


def run_data_kwargs(run_dir: str | os.PathLike, history: History) -> dict[str, Any]:
    """``load_digits_tasks`` arguments of the split a saved run was trained on: its tasks, and the
    seed and limit recorded in its history (``config["data_info"]``, written by ``train``). Runs saved
    before the limit was recorded: the training seed, and the playground's small seeded subset
    (``DIGITS_SMALL_LIMIT``) when the panel that trained it used one (``small_data`` in the panel's
    settings, saved in ``config.json`` and the history's extras; LAB_FAST)."""
    info = history.config.get("data_info") or {}
    if isinstance(info, dict) and "seed" in info and "limit" in info:
        return {"tasks": tuple(history.task_names), "seed": int(info["seed"]),
                "limit": None if info["limit"] is None else int(info["limit"])}
    settings: list[Any] = [history.config, history.extra]
    config_file = Path(run_dir) / "config.json"
    if config_file.is_file():
        try:
            settings.append(json.loads(config_file.read_text()))
        except json.JSONDecodeError:
            pass
    seed = int(history.config.get("train", {}).get("seed", 0))
    small = any(isinstance(v, dict) and v.get("small_data") for d in settings for v in d.values())
    return {"tasks": tuple(history.task_names), "seed": seed, "limit": DIGITS_SMALL_LIMIT if small else None}
