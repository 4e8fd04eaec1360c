"""Crash-safe file writes: the one place the lab writes a file that must never be half-written.

``atomic_write_bytes(path, data)`` writes to a temporary file in the same folder (named
``.<name>.<pid>.<random>.tmp``), flushes and fsyncs it, ``os.replace``-s it over ``path`` and fsyncs
the folder, so after a crash or ``kill -9`` the file holds either the old or the new contents, never
a mix. ``atomic_write_text`` and ``atomic_write_json`` (strict JSON: NaN/inf become ``null``, never
a bare ``NaN``) build on it; ``atomic_write_with`` streams into the temporary file (``torch.save``).

Readers ignore names that ``is_temp_name`` recognises; ``remove_stale_temp_files`` deletes those left
behind by a process that died (its pid no longer runs) or that are over an hour old.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

TEMP_SUFFIX = ".tmp"
STALE_SECONDS = 3600.0     # a temporary file this old is garbage even if its writer's pid runs again


def is_temp_name(name: str) -> bool:
    """True for the names of temporary files and folders (``.<anything>.tmp``)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_with(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Create or replace ``path`` atomically with whatever ``write(file)`` writes into the open binary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Create or replace ``path`` with ``data`` atomically (see the module docstring)."""
    return atomic_write_with(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Create or replace ``path`` with ``text`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def finite_json(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """``value`` with every NaN/inf float replaced by None, and where they were (``"W[3][0][1][2]"``).

    Walks dicts, lists and tuples (tuples become lists); other values are returned as they are.
    """
    found: list[str] = []

    def walk(v: Any, at: str) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            found.append(at or "value")
            return None
        if isinstance(v, dict):
            return {k: walk(x, f"{at}.{k}" if at else str(k)) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x, f"{at}[{i}]") for i, x in enumerate(v)]
        return v

    return walk(value, where), found


def strict_json(value: Any, *, indent: int | None = None,
                default: Callable[[Any], Any] | None = None) -> tuple[str, list[str]]:
    """JSON text that any parser reads (non-finite floats written as ``null``) and where they were."""
    if default is not None:             # apply ``default`` first so the objects it returns are checked too
        value = json.loads(json.dumps(value, default=default))
    clean, found = finite_json(value)
    return json.dumps(clean, indent=indent, allow_nan=False), found


def atomic_write_json(path: str | os.PathLike, value: Any, *, indent: int | None = None,
                      default: Callable[[Any], Any] | None = None) -> list[str]:
    """Write ``value`` as strict JSON atomically; returns where non-finite floats were stored as null."""
    text, found = strict_json(value, indent=indent, default=default)
    atomic_write_text(path, text)
    return found


def _writer_alive(name: str) -> bool:
    """Whether the process that named this temporary file (``.<file>.<pid>.<random>.tmp``) still runs."""
    parts = name[:-len(TEMP_SUFFIX)].split(".")
    pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike, max_age: float = STALE_SECONDS) -> list[Path]:
    """Delete temporary files/folders in ``folder`` whose writer died or that are older than ``max_age`` s.

    A temporary file of a writer that still runs (another panel saving now) is left alone. Returns
    what was removed; errors (a file vanishing meanwhile, no permission) are ignored.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > max_age
            if not old and _writer_alive(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def staging_dir(folder: str | os.PathLike, name: str) -> Iterator[Path]:
    """A temporary folder ``.<name>.<pid>.<random>.tmp`` inside ``folder`` (same file system, so its files
    can be ``os.replace``-d into ``folder``), removed with whatever is left in it on exit."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=_temp_prefix(folder / name), suffix=TEMP_SUFFIX))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_file(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Move a finished file (e.g. from ``staging_dir``) over ``dst`` atomically: fsync, replace, fsync the folder."""
    src, dst = Path(src), Path(dst)
    fd = os.open(src, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(src, dst)
    fsync_dir(dst.parent)
    return dst
