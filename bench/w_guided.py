"""W-guided compression vs honest baselines: ``.venv/bin/python -m bench.w_guided [--tiny] [options]``.

Prints one table (mean ± sd over seeds per setting, technique and method; random baselines as the
median of their draws) and the verdicts; the logic is in ``lab.benchmarks.w_guided``. ``--tiny`` is
the seconds-long setting the test suite runs.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import date

import torch

from lab.benchmarks.w_guided import (WGuidedBenchConfig, export_comparison, known_structure, run_w_guided,
                                     trained_system)
from lab.benchmarks.w_guided_summary import format_summary, summarize, verdicts
from lab.compress.edges import edge_scores, select_edges
from lab.compress.fit import FitConfig, fit
from lab.compress.modules import choose_modules, module_scores
from lab.coupling.restructure import restructure
from lab.data.synthetic import load_synthetic
from lab.tables import format_table

TINY = dict(structures=("redundant",), seeds=(0, 1), digits_seeds=(0,), draws=2, num_samples=300, widths=(8, 8),
            epochs=2, digits_widths=(8, 8), digits_epochs=1, digits_limit=200, finetune_epochs=1, student_hidden=(8,),
            student_epochs=1)


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    d = WGuidedBenchConfig()
    p = argparse.ArgumentParser(prog="python -m bench.w_guided", description=__doc__.splitlines()[0])
    p.add_argument("--structures", type=_list(str), default=d.structures, help="known structures (redundant,hub,chain)")
    p.add_argument("--seeds", type=_list(int), default=d.seeds, help="seeds of the synthetic settings")
    p.add_argument("--digits-seeds", type=_list(int), default=d.digits_seeds, help="seeds on the digits ('' for none)")
    p.add_argument("--draws", type=int, default=d.draws, help="random draws per seed")
    p.add_argument("--samples", type=int, default=d.num_samples)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--json", default=None, help="also write every row, the summary and the verdicts to this file")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny models)")
    p.add_argument("--no-export", action="store_true", help="skip the ONNX export table")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    options = dict(structures=args.structures, seeds=args.seeds, digits_seeds=args.digits_seeds, draws=args.draws,
                   num_samples=args.samples, epochs=args.epochs, finetune_epochs=args.finetune_epochs)
    if args.tiny:
        options.update(TINY)
    try:
        config = WGuidedBenchConfig(**options)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = run_w_guided(config)
    summary = summarize(rows)
    lines = verdicts(summary)
    print(f"W-guided compression: structures {list(config.structures)} x seeds {list(config.seeds)}, digits seeds "
          f"{list(config.digits_seeds)}, {config.draws} random draws, fine-tuning {config.finetune_epochs} epochs; "
          f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s on {platform.machine()}, "
          f"{torch.get_num_threads()} torch thread(s), {date.today()}")
    print(format_summary(summary))
    print("\n".join(lines))
    exported = [] if args.no_export else export_table(config)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config.to_dict(), "rows": rows, "summary": summary, "verdicts": lines,
                       "export": exported}, f, indent=1, default=str)
    return 0


def export_table(config: WGuidedBenchConfig) -> list[dict]:
    """The first structure's first seed: the full system, W's half of the edges, W's module removed, exported to
    ONNX (fine-tuned as in the table); printed as one table."""
    name, seed = (config.structures or ("redundant",))[0], (config.seeds or (0,))[0]
    data = load_synthetic(num_modules=config.num_modules, W_true=known_structure(name, config.num_modules),
                          num_samples=config.num_samples, seed=seed)
    system = trained_system(data, config.widths, config.epochs, config.lr, seed)
    ft = FitConfig(epochs=config.finetune_epochs, lr=1e-3, seed=seed)
    half = restructure(system, edges=select_edges(edge_scores(system), keep=config.edge_keep))
    (m,) = choose_modules(module_scores(system, "w", data), 1)
    small = restructure(system, modules=[k for k in range(system.num_modules) if k != m])
    for model in (half, small):
        fit(model, data, ft)
    with tempfile.TemporaryDirectory(prefix="lab-wbench-onnx-") as tmp:
        rows = export_comparison({"full system": system, f"edges:{config.edge_keep:g} (W)": half,
                                  f"modules:1 (W: module {m})": small}, data, tmp)
    print(f"\nONNX export ({name}, seed {seed}; KB_no_metadata: the file without the exporter's per-node stack traces, "
          "which ONNX Runtime runs; ORT at batch 1, best of 3 interleaved rounds of 300 calls):")
    print(format_table([{"model": r["model"], "outputs": r["outputs"], "KB": r["bytes"] / 1000,
                         "KB_no_metadata": r["stripped_bytes"] / 1000, "ops": r["ops"],
                         "weight_values": r["weight_values"], "max_abs_diff": f"{r['max_abs_diff']:.1e}",
                         "ort_us": r["ort_us"]} for r in rows], digits=2))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
