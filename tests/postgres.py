"""A real PostgreSQL server for tests: Debian's ``postgresql`` package, on loopback, in a temporary
data directory, as a non-root user (PostgreSQL refuses to run as root), stopped in a ``finally``.

    with postgres_server() as url:       # "postgresql+psycopg://lab@127.0.0.1:<port>/optuna"
        ...

``make test`` installs the package when missing (its ``postgres`` target); without it the tests
that need a server fail with what to do, or skip when ``LAB_SKIP_POSTGRES=1``.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

USER = "lab"          # the database superuser initdb creates (trust authentication on loopback)
DATABASE = "optuna"


def postgres_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb; fail (or skip) if there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        if os.environ.get("LAB_SKIP_POSTGRES") == "1":
            pytest.skip("LAB_SKIP_POSTGRES=1: the PostgreSQL tests were skipped on purpose")
        pytest.fail("PostgreSQL is not installed: run `make test` (it installs Debian's postgresql package), "
                    "or `apt-get install -y postgresql`; LAB_SKIP_POSTGRES=1 skips these tests")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (PostgreSQL refuses root), else as ourselves."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd] if shutil.which("runuser") else \
        ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]


def _run(cmd: list[str], timeout: float = 120) -> None:
    result = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway server (fsync off: a test database) and yield its SQLAlchemy URL."""
    bin_dir = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="lab-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    started = False
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8"])
        port = _free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"])
        started = True
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                            "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
