"""Runs on disk: ``runs/<timestamp>-<name>/`` with config, history (W snapshots) and checkpoint.

A saved run can be listed, reloaded and replayed after a kernel restart. Every file is written
atomically (``lab.atomic``) and a run is saved as it trains (``lab.checkpoint.CheckpointCallback``):
after ``kill -9`` at any moment ``load_run`` returns a checkpoint and a history that agree on the
epoch. ``scan_runs`` reads every folder under the runs root once and returns the usable runs plus a
note for each malformed one (bad JSON, a foreign history, W of the wrong shape, no history, ...), so
a panel or the CLI can skip it and say why; ``latest_run`` is the newest usable run of a strategy.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .atomic import atomic_write_json, remove_stale_temp_files
from .checkpoint import checkpoint_history, read_checkpoint, save_checkpoint, system_from_checkpoint
from .coupling.system import CoupledSystem
from .history import History, RunFolderError

_CHECKOUT = Path(__file__).resolve().parents[1]
HISTORY_FILE, CHECKPOINT_FILE, CONFIG_FILE = "history.json", "checkpoint.pt", "config.json"
RUN_FILES = (HISTORY_FILE, CHECKPOINT_FILE, CONFIG_FILE)
_NO_CHECKPOINT = f"no {CHECKPOINT_FILE}: only its history was saved, so there is no model to load"
MAX_SLUG_BYTES = 96          # the name part of a folder (file systems allow 255 bytes in all)

__all__ = ["RunFolderError", "RunInfo", "RunNote", "LoadedRun", "runs_root", "run_slug", "new_run_dir",
           "save_run", "write_config", "list_runs", "load_run", "scan_runs", "find_runs", "latest_run", "notes_text",
           "DIGITS_SMALL_LIMIT", "scan_digits_runs", "digits_runs", "latest_digits_run", "run_data_kwargs",
           "PLAIN_ROLES", "latest_plain_run"]


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


# --- naming and creating run folders ---------------------------------------------------------------------
def run_slug(name: str) -> str:
    """A safe folder name from a run name: unicode letters and digits, ``_``, ``.`` and ``-`` are kept
    (``"Größe-β"`` stays readable); path separators, ``..``, spaces, control and other characters become
    ``-``; no leading dot; names over ``MAX_SLUG_BYTES`` (UTF-8) are cut and get a hash of the full name;
    an empty result is ``"run"``."""
    text = unicodedata.normalize("NFC", str(name))
    slug = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in text)
    slug = re.sub(r"\.{2,}", ".", re.sub(r"-{2,}", "-", slug)).strip("-.")
    if len(slug.encode()) > MAX_SLUG_BYTES:
        cut = slug.encode()[:MAX_SLUG_BYTES - 9].decode(errors="ignore").rstrip("-.")
        slug = f"{cut}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return slug or "run"


def new_run_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """A fresh folder ``<root>/<YYYYmmdd-HHMMSS>-<slug>`` (``-2``, ``-3``, ... when taken), created
    atomically so concurrent callers (threads, processes) each get their own."""
    root = runs_root(root)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{run_slug(name)}"
    for k in range(1, 100_000):
        path = root / (base if k == 1 else f"{base}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RunFolderError(f"could not create a new run folder named {base}-<k> under {root}: all names are taken")


# --- writing -------------------------------------------------------------------------------------------
def write_config(run_dir: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write ``config.json`` atomically as strict JSON (NaN/inf stored as null)."""
    path = Path(run_dir) / CONFIG_FILE
    atomic_write_json(path, config, indent=2, default=str)
    return path


def save_run(run_dir: str | os.PathLike, system: CoupledSystem, history: History,
             config: dict[str, Any] | None = None) -> Path:
    """Write config, checkpoint (carrying the history) and history, in that order, each atomically."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(run_dir)
    write_config(run_dir, config or history.config)
    save_checkpoint(system, run_dir / CHECKPOINT_FILE, extra={"epoch": history.num_epochs}, history=history)
    history.save(run_dir / HISTORY_FILE)
    return run_dir


# --- reading -------------------------------------------------------------------------------------------
def _read_history(run_dir: Path) -> History:
    """``history.json``, or the history inside the checkpoint when a kill came before the first
    ``history.json`` was written."""
    if not (run_dir / HISTORY_FILE).exists() and (run_dir / CHECKPOINT_FILE).is_file():
        saved = checkpoint_history(read_checkpoint(run_dir / CHECKPOINT_FILE), run_dir / CHECKPOINT_FILE)
        if saved is not None:
            return saved
    if not (run_dir / HISTORY_FILE).exists():
        raise RunFolderError(f"{run_dir} has no {HISTORY_FILE} (training stopped before its first save, "
                             "or this is not a run folder)")
    return History.load(run_dir / HISTORY_FILE)


def load_run(run_dir: str | os.PathLike, with_model: bool = True) -> tuple[CoupledSystem | None, History]:
    """(system, history) of a saved run; the system is None without ``with_model`` or a checkpoint.

    With the model, the pair always agrees on the epoch: when ``history.json`` and the checkpoint
    differ (a kill between the two writes, or a run saving while it is read), the history the
    checkpoint was saved with is returned. Stale temporary files are removed; RunFolderError names
    the file and what is wrong.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a run folder (no such folder)")
    remove_stale_temp_files(run_dir)
    history = _read_history(run_dir)
    ckpt = run_dir / CHECKPOINT_FILE
    if not with_model or not ckpt.is_file():
        return None, history
    payload = read_checkpoint(ckpt)
    saved = checkpoint_history(payload, ckpt)
    if saved is not None and saved.num_epochs != history.num_epochs:
        history = saved
    return system_from_checkpoint(payload, ckpt), history


@dataclass(frozen=True)
class RunNote:
    """Why a folder under the runs root was skipped."""

    path: Path
    problem: str

    def __str__(self) -> str:
        """``<folder>: <problem>``, the problem's file paths shown relative to the folder."""
        return f"{self.path.name}: {self.problem.replace(str(self.path) + os.sep, '').replace(str(self.path), '.')}"


@dataclass(frozen=True)
class RunInfo:
    """A run folder whose history could be read."""

    path: Path
    history: History
    has_checkpoint: bool

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def strategy(self) -> str:
        return self.history.strategy

    @property
    def data(self) -> str | None:
        return self.history.config.get("data")


@dataclass(frozen=True)
class LoadedRun:
    path: Path
    system: CoupledSystem
    history: History


def _order(paths: Iterable[Path]) -> list[Path]:
    """Newest first: by the folder's timestamp, then its ``-k`` counter (same-second saves), then name."""
    paths = list(paths)
    names = {p.name for p in paths}

    def key(p: Path) -> tuple[str, int, str]:
        m = re.match(r"^(\d{8}-\d{6})-", p.name)
        stamp = m.group(1) if m else ""
        c = re.match(r"^(.*)-(\d+)$", p.name)
        counter = int(c.group(2)) if c and c.group(1) in names else 1
        return stamp, counter, p.name

    return sorted(paths, key=key, reverse=True)


def list_runs(root: str | os.PathLike | None = None) -> list[Path]:
    """Run folders with a history file, newest first (not checked: ``scan_runs`` reads them)."""
    root = runs_root(root)
    if not root.is_dir():
        return []
    return _order(p for p in root.iterdir() if not p.name.startswith(".") and (p / HISTORY_FILE).is_file())


def scan_runs(root: str | os.PathLike | None = None, *,
              need_checkpoint: bool = False) -> tuple[list[RunInfo], list[RunNote]]:
    """Every usable run under the runs root (newest first) and a note for each folder that is not.

    A folder with none of the run files (a compression run, an empty folder being created) and hidden
    names are not runs and get no note; a plain file does. With ``need_checkpoint`` a run without
    ``checkpoint.pt`` is skipped with a note. Stale temporary files are removed on the way.
    """
    root = runs_root(root)
    if not root.is_dir():
        return [], []
    remove_stale_temp_files(root)
    runs: list[RunInfo] = []
    notes: list[RunNote] = []
    for path in _order(root.iterdir()):
        if path.name.startswith("."):
            continue
        if not path.is_dir():
            notes.append(RunNote(path, "not a run folder (a plain file)"))
            continue
        remove_stale_temp_files(path)
        if not any((path / f).exists() for f in RUN_FILES):
            continue
        try:
            history = _read_history(path)
        except (RunFolderError, OSError) as err:
            notes.append(RunNote(path, str(err)))
            continue
        has_checkpoint = (path / CHECKPOINT_FILE).is_file()
        if need_checkpoint and not has_checkpoint:
            notes.append(RunNote(path, _NO_CHECKPOINT))
            continue
        runs.append(RunInfo(path, history, has_checkpoint))
    return runs, notes


def find_runs(root: str | os.PathLike | None = None, *, strategy: str | None = None, data: str | None = None,
              tasks: Iterable[str] | None = None,
              need_checkpoint: bool = False) -> tuple[list[RunInfo], list[RunNote]]:
    """``scan_runs`` narrowed to runs whose history records ``strategy``, ``data`` (the data set's name)
    and only tasks from ``tasks`` (each filter only when given), newest first."""
    runs, notes = scan_runs(root)
    allowed = None if tasks is None else set(tasks)
    found = []
    for r in runs:
        if (strategy is None or r.strategy == strategy) and (data is None or r.data == data) \
                and (allowed is None or set(r.history.task_names) <= allowed):
            if need_checkpoint and not r.has_checkpoint:
                notes.append(RunNote(r.path, _NO_CHECKPOINT))
            else:
                found.append(r)
    return found, notes


def latest_run(root: str | os.PathLike | None = None, *, strategy: str | None = None, data: str | None = None,
               tasks: Iterable[str] | None = None) -> tuple[LoadedRun | None, list[RunNote]]:
    """The newest run (see ``find_runs``) whose system loads, and notes on every folder skipped on the way."""
    runs, notes = find_runs(root, strategy=strategy, data=data, tasks=tasks, need_checkpoint=True)
    for info in runs:
        try:
            system, history = load_run(info.path)
        except (RunFolderError, OSError) as err:
            notes.append(RunNote(info.path, str(err)))
            continue
        if system is not None:
            return LoadedRun(info.path, system, history), notes
    return None, notes


def notes_text(notes: list[RunNote], limit: int = 10) -> str:
    """One message naming the skipped folders and why (the first ``limit``); empty without notes."""
    if not notes:
        return ""
    shown = "; ".join(str(n) for n in notes[:limit]) + (f"; and {len(notes) - limit} more" if len(notes) > limit
                                                          else "")
    return f"Skipped {len(notes)} folder(s) under the runs folder that cannot be used: {shown}"


# --- saved runs on the digits tasks (what the compression panel and `compress --run` load) ----------------
DIGITS_SMALL_LIMIT = 400     # the playground's small_data subset of the digits (its DATA_CHOICES["digits"].fast_size)


def scan_digits_runs(root: str | os.PathLike | None = None) -> tuple[list[tuple[Path, History]], list[RunNote]]:
    """Saved runs (newest first) of systems trained on the digits tasks, with a checkpoint to load, and a
    note for every folder skipped because it is malformed (``find_runs``)."""
    from .data import DIGITS_TASKS

    runs, notes = find_runs(root, data="digits", tasks=DIGITS_TASKS, need_checkpoint=True)
    return [(r.path, r.history) for r in runs], notes


def digits_runs(root: str | os.PathLike | None = None) -> list[tuple[Path, History]]:
    """The runs of ``scan_digits_runs`` without the notes."""
    return scan_digits_runs(root)[0]


def latest_digits_run(strategy: str | None = None, root: str | os.PathLike | None = None) -> Path | None:
    """The newest usable run on the digits tasks (of ``strategy``, e.g. "cross_stitch", if given), or None."""
    from .data import DIGITS_TASKS

    found, _ = latest_run(root, strategy=strategy, data="digits", tasks=DIGITS_TASKS)
    return None if found is None else found.path


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
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            pass
    seed = int(history.config.get("train", {}).get("seed", 0))
    small = any(isinstance(v, dict) and v.get("small_data") for d in settings for v in d.values())
    return {"tasks": tuple(history.task_names), "seed": seed, "limit": DIGITS_SMALL_LIMIT if small else None}


# config.json "role" of plainly trained runs: none (`python -m lab couple --save`) or the playground's
PLAIN_ROLES = (None, "yours", "baseline")


def latest_plain_run(strategy: str, data: str = "digits", root: str | os.PathLike | None = None) -> Path | None:
    """The newest run of ``strategy`` trained on ``data`` (the dataset's name) *plainly*, as the playground
    (notebook 01) and ``python -m lab couple --save`` train: no adversarial training, not a transfer
    adaptation, not a robustness- or transfer-panel run (their ``role`` in ``config.json``); with a
    checkpoint. Folders that cannot be read are skipped. None when there is no such run.
    """
    runs, _ = find_runs(root, strategy=strategy, data=data, need_checkpoint=True)
    for info in runs:
        config_file = info.path / CONFIG_FILE
        try:
            role = json.loads(config_file.read_text()).get("role") if config_file.is_file() else None
        except (ValueError, OSError, AttributeError):
            continue
        history = info.history
        if role in PLAIN_ROLES and "adversarial" not in history.config and "transfer" not in history.extra:
            return info.path
    return None
