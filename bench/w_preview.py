"""Time of an edge-threshold move *through the compression panel's W tab*: setting the slider's value
re-builds the edge-pruned cross-stitch system, scores it on the test split without fine-tuning, writes
its packed file, restyles the W graph and redraws the readout.

    .venv/bin/python -m bench.w_preview            # cross-stitch on all digits (widths 64,64), 60 moves
    .venv/bin/python -m bench.w_preview --quick
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

import torch

from lab.coupling import SystemConfig, build_system
from lab.data import load_digits_tasks
from lab.train import TrainConfig, train
from lab.ui import CompressionPanel
from lab.ui.compress_runs import LoadedModel


def _stats(times: list[float]) -> dict[str, float]:
    q = sorted(times)
    return {"median_ms": statistics.median(q), "p90_ms": q[int(0.9 * (len(q) - 1))], "max_ms": q[-1]}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moves", type=int, default=60, help="threshold slider moves")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    moves = 6 if args.quick else args.moves
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = load_digits_tasks(seed=0, limit=300 if args.quick else None)
        system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(64, 64), seed=0))
        train(system, data, TrainConfig(epochs=2 if args.quick else 15, seed=0), progress=False)
        with tempfile.TemporaryDirectory() as runs:
            cp = CompressionPanel(runs_root=runs, update_interval=0.0)
            cp.use_model(LoadedModel.of(system, data, "cross_stitch", "cross-stitch on the digits", version=1))
            top = cp.edge_threshold.max
            fractions = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2]
            panel_ms, preview_ms, kept = [], [], []
            for i in range(moves):
                cp.edge_threshold.value = round(top * fractions[i % len(fractions)] + 1e-4 * (i // len(fractions)), 5)
                panel_ms.append(1000 * cp.w_tab.preview_seconds)
                preview_ms.append(cp.w_preview_row["preview_ms"])
                kept.append(cp.w_preview_row["edges_kept"])
            result = {"threshold_move": _stats(panel_ms), "preview_call": _stats(preview_ms),
                      "test_examples": len(data.test), "edges": cp.w_preview_row["edges_total"],
                      "edges_kept_range": (min(kept), max(kept))}
    finally:
        torch.set_num_threads(before)
    for name, what in (("threshold_move", f"edge-threshold move, end to end ({moves} moves)"),
                       ("preview_call", "  of which the EdgePreview call")):
        s = result[name]
        print(f"{what}: median {s['median_ms']:.1f} ms, p90 {s['p90_ms']:.1f} ms, max {s['max_ms']:.1f} ms")
    print(f"(cross-stitch, 4 modules x 2 stages, {result['edges']} edges, {result['edges_kept_range'][0]}-"
          f"{result['edges_kept_range'][1]} kept; test split {result['test_examples']} examples, 1 thread)")
    return result


if __name__ == "__main__":
    main()
