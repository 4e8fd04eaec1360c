"""Edge runtimes side by side: ONNX Runtime, LiteRT and ExecuTorch × {fp32, int8} × {batch 1, 256}.

Models: the trained reference MLP (64-300-100-10, all digits, 40 epochs), a trained cross-stitch system
(4 digit tasks, widths 64-64, 20 epochs) and MobileNetV3-small at 1×3×224×224 (random weights: batch 1
only; BatchNorm statistics taken from random inputs so its logits are of order 1; its int8 agreement
measured on random inputs). Every file is made, loaded, checked for parity
and timed by ``lab.deploy.arena.run_arena``: interleaved rounds, 1 thread, speed-up against eager torch
fp32 within each round (median over rounds), so the machine's load moves both sides alike; int8
accuracy on the test split. Prints markdown for ``docs/BENCHMARKS.md`` (machine, load, tables, goals).

    .venv/bin/python -m bench.runtimes                       # all three models (~10-15 min on 2 busy cores)
    .venv/bin/python -m bench.runtimes --models mlp --quick  # a tiny setting (what the tests run)
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from lab.deploy.arena import Arena, ArenaConfig, run_arena
from lab.deploy.registry import RUNTIMES

MODELS = ("mlp", "cross_stitch", "mobilenet_v3_small")
GOALS = {"mlp": "best runtime >= 15x eager at batch 1; int8 >= 5x eager fp32 at batch 256",
         "cross_stitch": "best runtime >= 30x eager at batch 1"}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build(name: str, quick: bool, seed: int = 0):
    """(model, data or None, arena settings) for one benchmark model."""
    if name == "mlp":
        from lab.compress.reference import REFERENCE_FIT, digit_data, train_reference
        from dataclasses import replace

        data = digit_data(seed, 300 if quick else None)
        fit = replace(REFERENCE_FIT, epochs=3) if quick else REFERENCE_FIT
        return train_reference("mlp", data, fit, seed), data, {}
    if name == "cross_stitch":
        from lab.compare import run_strategy
        from lab.coupling.system import SystemConfig
        from lab.data import load_digits_tasks
        from lab.train import TrainConfig

        data = load_digits_tasks(seed=seed, limit=300 if quick else None)
        result = run_strategy(data, SystemConfig(strategy="cross_stitch", widths=(64, 64), seed=seed),
                              TrainConfig(epochs=2 if quick else 20, seed=seed))
        return result.system, data, {}
    if name == "mobilenet_v3_small":
        from lab.models import build_model

        import torch

        size = 32 if quick else 224
        model = build_model("mobilenet_v3_small", input_shape=(3, size, size), seed=seed)
        g = torch.Generator().manual_seed(seed)
        norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in norms:                    # BatchNorm statistics from random inputs: logits of order 1, not 1e-10
            m.reset_running_stats()
            m.momentum = None              # a plain average over the batches below
        with torch.no_grad():
            model.train()
            for _ in range(4):
                model(torch.rand(16, 3, size, size, generator=g))
        return model.eval(), None, {"batches": (1,), "max_batch": 2}
    raise ValueError(f"unknown benchmark model {name!r}; choose from {', '.join(MODELS)}")


def goals(name: str, arena: Arena) -> str:
    """The issue's goal for ``name`` with the ratios as measured."""
    files = arena.entries[1:]
    best1 = max(files, key=lambda e: e.speedup.get(1, 0))
    line = f"best at batch 1: {best1.runtime} {best1.precision} {best1.speedup.get(1, float('nan')):.1f}x"
    int8 = [e for e in files if e.precision == "int8" and 256 in e.speedup]
    if int8:
        b = max(int8, key=lambda e: e.speedup[256])
        line += f"; best int8 at batch 256: {b.runtime} {b.speedup[256]:.1f}x eager fp32"
    return line + (f" (goal: {GOALS[name]})" if name in GOALS else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {','.join(MODELS)}")
    p.add_argument("--runtimes", default=",".join(RUNTIMES))
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="tiny data, few epochs, 1 round (a smoke run)")
    p.add_argument("--out", default=None, help="folder for the files (default: a temporary folder)")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            raise SystemExit(f"unknown model {n!r}; choose from {', '.join(MODELS)}")
    load = os.getloadavg()
    print(f"Machine: {_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the start; "
          f"date {time.strftime('%Y-%m-%d')}\n")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        for name in names:
            model, data, settings = build(name, args.quick)
            config = ArenaConfig(runtimes=tuple(args.runtimes.split(",")), rounds=1 if args.quick else args.rounds,
                                 repeats=3 if args.quick else args.repeats, warmup=1 if args.quick else 5,
                                 **({"batches": (1, 4)} if args.quick and not settings else {}), **settings)
            arena = run_arena(model, root / name, data, config, label=name)
            print(f"### {name}\n\n```\n{arena.text()}\n```\n\n{goals(name, arena)}; "
                  f"{arena.seconds:.0f} s for export, checks and timing\n", flush=True)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
