"""Where studies live: one SQLite file under ``runs/`` by default, an Optuna journal file, or a
database server (PostgreSQL) that many workers on many machines share.

    resolve_storage(None)                         # "sqlite:///.../runs/tune/studies.db" (nothing to start)
    resolve_storage("runs/tune/s.journal")        # an Optuna journal file (JournalFileBackend)
    resolve_storage("postgresql://lab@db/optuna") # "postgresql+psycopg://lab@db/optuna" (psycopg 3 driver)
    storage = open_storage(url, heartbeat=10, grace=30)

SQLite and PostgreSQL go through Optuna's ``RDBStorage`` with heartbeats: a running trial whose
worker stopped beating (``kill -9``, a lost machine) for ``grace`` seconds is marked FAIL by the
next worker that looks, and re-queued with the same params (``RetryHeartbeatStaleTrialCallback``,
``max_retry`` times). Journal files have no heartbeats in Optuna: such a trial stays RUNNING, so
use SQLite or PostgreSQL when workers may die. An unreachable database is a ``ValueError`` with the
reason (password hidden) before any trial runs. Creating the tables on an empty database is retried,
since two workers that start together race on it (measured with Optuna 5.1 on PostgreSQL 15).
"""
from __future__ import annotations

import logging
import re
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..runs import runs_root

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

DEFAULT_FILE = "tune/studies.db"
JOURNAL_SUFFIXES = (".journal", ".jsonl", ".log")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql")


def default_storage(root: str | Path | None = None) -> str:
    """The embedded default: ``sqlite:///<runs root>/tune/studies.db`` (one file, every study)."""
    path = runs_root(root) / DEFAULT_FILE
    return f"sqlite:///{path.resolve()}"


def resolve_storage(storage: str | Path | None, root: str | Path | None = None) -> str:
    """A storage URL from what a user typed: None (the default file), a file path (.db/.sqlite -> SQLite,
    .journal/.jsonl/.log -> journal), or a database URL. ``postgresql://`` and ``postgres://`` get the
    installed psycopg 3 driver. ValueError for anything else."""
    if storage is None or str(storage).strip() == "":
        return default_storage(root)
    text = str(storage).strip()
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        rest = text.split("://", 1)[1]
        driver = text.split("://", 1)[0]
        return text if "+" in driver else f"postgresql+psycopg://{rest}"
    if scheme in _RDB_SCHEMES:
        return text
    if scheme == "journal":
        return "journal://" + str(Path(text.split("://", 1)[1]).resolve())
    if scheme:
        raise ValueError(f"unknown storage {redact(text)!r}: use a .db/.sqlite file, a .journal file, or a "
                         "sqlite:// / postgresql:// URL")
    path = Path(text).expanduser()
    if path.suffix in SQLITE_SUFFIXES:
        return f"sqlite:///{path.resolve()}"
    if path.suffix in JOURNAL_SUFFIXES:
        return "journal://" + str(path.resolve())
    raise ValueError(f"storage file {text!r} must end in {SQLITE_SUFFIXES} (SQLite) or {JOURNAL_SUFFIXES} "
                     "(Optuna journal), or be a database URL such as postgresql://user@host/db")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", str(url))


def is_journal(url: str) -> bool:
    return url.startswith("journal://")


def has_heartbeat(url: str) -> bool:
    """Whether studies in this storage get heartbeats (RDB storages: SQLite, PostgreSQL, MySQL)."""
    return not is_journal(url)


def open_storage(url: str, *, heartbeat: int | None = 10, grace: int | None = None, max_retry: int = 2,
                 attempts: int = 5) -> optuna.storages.BaseStorage:
    """The Optuna storage behind ``url`` (from ``resolve_storage``), with heartbeats every ``heartbeat``
    seconds (None: off) and a stale trial re-queued ``max_retry`` times after ``grace`` seconds
    (default 3 heartbeats). ValueError when the database cannot be reached."""
    import optuna   # ~0.1 s with its samplers and storages: loaded when a study is used, not on import

    if is_journal(url):
        path = Path(url[len("journal://"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(path))
        return optuna.storages.JournalStorage(backend)
    if heartbeat is not None and heartbeat < 1:
        raise ValueError(f"heartbeat must be >= 1 second or None, got {heartbeat}")
    grace = grace if grace is not None else (3 * heartbeat if heartbeat else None)
    if heartbeat is not None and grace is not None and grace <= heartbeat:
        raise ValueError(f"grace period ({grace} s) must be longer than the heartbeat interval ({heartbeat} s)")
    engine: dict = {"pool_pre_ping": True}
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine["connect_args"] = {"timeout": 60}
    elif url.startswith("postgresql"):
        engine["connect_args"] = {"connect_timeout": 10}
    import sqlalchemy.exc

    for attempt in range(1, attempts + 1):
        try:
            with warnings.catch_warnings():      # heartbeats are "experimental" in Optuna since 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry) if heartbeat else None
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat,
                                                  grace_period=grace, heartbeat_stale_trial_callback=callback)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as err:
            # two workers creating the tables of an empty database at once: the loser retries
            if attempt == attempts:
                raise ValueError(f"could not create the study tables in {redact(url)}: {_first_line(err)}") from None
            log.info("storage tables raced with another worker (%s); retrying", _first_line(err))
            time.sleep(0.5 * attempt)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ArgumentError, ImportError) as err:
            raise ValueError(f"cannot reach the study storage {redact(url)}: {_first_line(err)}") from None
    raise AssertionError("unreachable")


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return redact(text.splitlines()[0] if text else type(err).__name__)
