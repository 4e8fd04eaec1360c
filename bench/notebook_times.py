"""Run All time of every notebook, headless (nbclient), as a user gets it: with the notebooks' defaults.

Each notebook runs top to bottom in a fresh kernel on an empty runs folder (``LAB_RUNS`` is a new temporary
folder per notebook, so notebook 04's section 6 trains its own cross-stitch run); the time includes starting
the kernel. ``--fast`` sets ``LAB_FAST=1`` (what the test suite uses). The load average before and after each
notebook is printed beside its time: the machine may be shared, so read times together with the load.

    .venv/bin/python -m bench.notebook_times                 # every notebook, defaults
    .venv/bin/python -m bench.notebook_times 04 06 --fast    # notebooks whose names start with 04 / 06
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_notebook(path: Path, fast: bool, timeout: int = 900) -> dict:
    """Execute ``path`` in a fresh kernel (every cell, also after an error); return {notebook, seconds, errors
    (the error names of failed cells), load_before, load_after}."""
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("LAB_FAST", "LAB_RUNS")}
    with tempfile.TemporaryDirectory(prefix="nbtime-") as runs:
        os.environ["LAB_RUNS"] = runs
        if fast:
            os.environ["LAB_FAST"] = "1"
        else:
            os.environ.pop("LAB_FAST", None)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        try:
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": str(path.parent)}})
            client.execute()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seconds = time.perf_counter() - start
    errors = [o.get("ename", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    return {"notebook": path.name, "seconds": seconds, "errors": errors, "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="notebook name prefixes (default: every notebook)")
    parser.add_argument("--fast", action="store_true", help="LAB_FAST=1 (the test suite's setting)")
    args = parser.parse_args(argv)
    paths = [p for p in sorted(NOTEBOOKS.glob("*.ipynb"))
             if not args.prefixes or any(p.name.startswith(x) for x in args.prefixes)]
    if not paths:
        parser.exit(2, f"no notebook in {NOTEBOOKS} starts with {' or '.join(args.prefixes)}\n")
    print(f"| notebook | Run All (s) | load before/after | errors |   mode: {'LAB_FAST=1' if args.fast else 'defaults'}")
    print("|---|---|---|---|")
    for path in paths:
        r = run_notebook(path, args.fast)
        print(f"| {r['notebook']} | {r['seconds']:.1f} | {r['load_before']:.1f} / {r['load_after']:.1f} | "
              f"{', '.join(r['errors']) or 'none'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
