"""The LiteRT converter's own environment: ``.venv-litert/`` beside the lab, made on first use.

The converter ``litert-torch`` 0.10 pulls ``xdsl==0.28.0``, which caps ``typing-extensions<4.13``;
with that version JupyterLab's ``jupyter_client`` fails to import. So the converter never enters the
lab's environment: ``ensure()`` creates a separate venv (``python -m venv`` + ``pip install
torch==2.14.1 litert-torch==0.10.0``; ~7 GB, most of it torch's CUDA libraries, as in the lab's own
venv) and ``lab.deploy.litert`` runs the conversion there in a subprocess
(:mod:`lab.deploy.litert_convert`), handing it a ``torch.export``-ed program. Running ``.tflite``
files needs only the light runtime ``ai-edge-litert``, which is in the lab's environment.

    python -m lab.deploy.litert_env          # create it now (what `make converter` does); prints where and size
    LAB_LITERT_ENV=/elsewhere/venv ...       # use (or create) the converter environment there instead
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

PACKAGES = ("torch==2.14.1", "litert-torch==0.10.0")
ENV_VAR = "LAB_LITERT_ENV"
STAMP = ".lab-converter"          # written last: the packages it holds; a half-made env has none
INSTALL_TIMEOUT_S = 3600


def env_dir() -> Path:
    """``$LAB_LITERT_ENV``, else ``.venv-litert`` in the project folder (beside ``lab/``)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root / ".venv-litert"
    return Path.home() / ".cache" / "coupling-compression-lab" / "venv-litert"


def converter_python(env: Path | None = None) -> Path:
    return (env or env_dir()) / "bin" / "python"


def ready(env: Path | None = None) -> bool:
    """Whether the converter environment exists with the pinned packages installed."""
    env = env or env_dir()
    stamp = env / STAMP
    return converter_python(env).exists() and stamp.is_file() and stamp.read_text().split() == list(PACKAGES)


def ensure(log: Callable[[str], None] | None = None) -> Path:
    """The converter's Python, creating the environment first when it is missing (minutes; once).

    Safe to call from several processes: they wait on a lock file and only one installs. A failed
    install raises RuntimeError with pip's last lines; the next call tries again.
    """
    env = env_dir()
    if ready(env):
        return converter_python(env)
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    env.parent.mkdir(parents=True, exist_ok=True)
    with open(env.parent / f".{env.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready(env):
            return converter_python(env)
        log(f"creating the LiteRT converter environment {env} (python -m venv; pip install {' '.join(PACKAGES)}): "
            f"once, several minutes, ~7 GB")
        start = time.perf_counter()
        _run([sys.executable, "-m", "venv", "--clear", str(env)])
        _run([str(converter_python(env)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *PACKAGES])
        (env / STAMP).write_text("\n".join(PACKAGES) + "\n")
        log(f"LiteRT converter environment ready in {time.perf_counter() - start:.0f} s: {env}")
    return converter_python(env)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"creating the LiteRT converter environment failed ({' '.join(command[:4])} ...): {tail}")


def size_bytes(env: Path | None = None) -> int:
    """Bytes of every file in the environment (``du``-like, without following links)."""
    total = 0
    for root, _, files in os.walk(env or env_dir()):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def main() -> int:
    start = time.perf_counter()
    python = ensure(log=print)
    print(f"LiteRT converter: {python} ({size_bytes() / 1e9:.1f} GB; {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
