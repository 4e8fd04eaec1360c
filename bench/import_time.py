"""Import time of the lab in fresh interpreters (issue 14): ``import lab.ui`` <= 3 s wall on the 2-core machine.

Each statement runs in a new ``python`` process (``PYTHONPATH`` = the lab tree measured), ``--runs`` times; wall
time (what a user waits for) and CPU time (user + sys of the child: less sensitive to other processes on a
shared machine) are reported as medians. With ``--against OTHER_TREE`` both trees are measured in alternation,
round by round, so a change of the machine's load hits both alike (before/after of a change).

    .venv/bin/python -m bench.import_time                                  # this tree, 5 runs per statement
    git archive main | tar -x -C /tmp/before                               # a copy of another commit ...
    .venv/bin/python -m bench.import_time --against /tmp/before --importtime   # ... side by side, + top offenders
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STATEMENTS: dict[str, list[str]] = {
    "import torch (the floor)": ["-c", "import torch"],
    "import lab.ui": ["-c", "import lab.ui"],
    "from lab.ui import CouplingPlayground": ["-c", "from lab.ui import CouplingPlayground"],
    "from lab.ui import CompressionPanel": ["-c", "from lab.ui import CompressionPanel"],
    "from lab.ui import * (every panel)": ["-c", "from lab.ui import *"],
    "python -m lab --help": ["-m", "lab", "--help"],
    "python -m lab couple --help": ["-m", "lab", "couple", "--help"],
}


def run_once(root: Path, args: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one fresh ``python <args>`` with ``root`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=root, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} under {root} failed: {done.stderr[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def check_tree(root: Path) -> None:
    """The ``lab`` a process imports under ``root`` really is that tree's (not the installed one)."""
    out = subprocess.run([sys.executable, "-c", "import lab; print(lab.__file__)"], cwd=root, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    if out.returncode != 0 or not Path(out.stdout.strip()).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"error: {root} does not provide the imported lab ({out.stdout.strip() or out.stderr[-300:]})")


def importtime_rows(root: Path, args: list[str]) -> list[tuple[int, int, int, str]]:
    """(depth, self us, cumulative us, module) per line of ``python -X importtime <args>``, in report order."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=600)
    rows = []
    for line in done.stderr.splitlines():
        parts = line[len("import time:"):].split("|") if line.startswith("import time:") else []
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2].rstrip()
            rows.append(((len(name) - len(name.lstrip())) // 2, int(parts[0]), int(parts[1]), name.strip()))
    return rows


def offenders(rows: list[tuple[int, int, int, str]], top: int = 8) -> tuple[list[tuple[str, float]],
                                                                            list[tuple[str, str, float]]]:
    """The packages with the most own import time (ms, summed over their modules), and the heaviest imports
    lab code makes of other libraries: (lab module, module it imports, cumulative ms)."""
    by_package: dict[str, int] = {}
    for _, own, _, name in rows:
        by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0) + own
    # the report lists children before their parent: read it backwards to see each parent first
    stack: list[tuple[int, str]] = []
    edges = []
    for depth, _, cumulative, name in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        if parent.split(".")[0] == "lab" and name.split(".")[0] != "lab":
            edges.append((parent, name, cumulative / 1000))
        stack.append((depth, name))
    packages = sorted(((k, v / 1000) for k, v in by_package.items()), key=lambda kv: -kv[1])[:top]
    return packages, sorted(edges, key=lambda e: -e[2])[:top]


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU") \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
            f"torch {metadata.version('torch')}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="fresh processes per statement and tree (default: 5)")
    p.add_argument("--against", type=Path, default=None, help="another lab tree, measured in alternation")
    p.add_argument("--only", nargs="+", default=None, choices=list(STATEMENTS), metavar="STATEMENT",
                   help=f"measure only these statements (of: {'; '.join(STATEMENTS)})")
    p.add_argument("--importtime", action="store_true", help="also list the top offenders of `import lab.ui` "
                   "and `from lab.ui import *` (python -X importtime)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be >= 1")
    trees = {"this tree": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    for root in trees.values():
        check_tree(root)
    statements = {k: v for k, v in STATEMENTS.items() if args.only is None or k in args.only}
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {(s, t): [] for s in statements for t in trees}
    for _ in range(args.runs):                      # round by round: every tree sees the same load
        for label, cmd in statements.items():
            for tree, root in trees.items():
                samples[label, tree].append(run_once(root, cmd))
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    result = {}
    print(f"\n| statement | tree | wall median (s) | wall min-max (s) | CPU median (s) |\n|---|---|---|---|---|")
    for (label, tree), runs in samples.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        result[label, tree] = {"wall_median_s": statistics.median(walls), "cpu_median_s": statistics.median(cpus),
                               "wall_min_s": min(walls), "wall_max_s": max(walls)}
        print(f"| `{label}` | {tree} | {statistics.median(walls):.2f} | {min(walls):.2f}-{max(walls):.2f} "
              f"| {statistics.median(cpus):.2f} |")
    if args.importtime:
        for tree, root in trees.items():
            for label in ("import lab.ui", "from lab.ui import * (every panel)"):
                packages, edges = offenders(importtime_rows(root, STATEMENTS[label]))
                print(f"\n-X importtime, `{label}`, {tree}:")
                print("  own import time by package: " + ", ".join(f"{k} {v:.0f} ms" for k, v in packages))
                for parent, name, ms in edges:
                    print(f"  {parent} -> {name}: {ms:.0f} ms")
    return result


if __name__ == "__main__":
    main()
