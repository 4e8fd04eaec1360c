"""Time of a preview slider move *through the compression panel* (notebook 04): setting the widget's
value re-runs ``Preview`` (prune + fake-quantize + evaluate + packed file), counts the effective FLOPs
and updates the figure and table. A sparsity move costs one Preview call; a bits (or scales) change
also measures the accuracy-vs-sparsity curve of the new setting once (cached afterwards).

    .venv/bin/python -m bench.compress_panel              # the reference MLP, 60 sparsity moves, 16 bits changes
    .venv/bin/python -m bench.compress_panel --quick
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

import torch

from lab.ui import CompressionPanel, ModelSource, RecipeConfig
from lab.ui.compress import CURVE_SPARSITIES


def _stats(times: list[float]) -> dict[str, float]:
    q = sorted(times)
    return {"median_ms": statistics.median(q), "p90_ms": q[int(0.9 * (len(q) - 1))], "max_ms": q[-1]}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moves", type=int, default=60, help="sparsity slider moves")
    p.add_argument("--bits-changes", type=int, default=16, help="bits slider changes (each a new curve)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    moves, changes = (6, 2) if args.quick else (args.moves, args.bits_changes)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as runs:
            source = ModelSource(epochs=3, limit=300) if args.quick else ModelSource()
            cp = CompressionPanel(source, RecipeConfig(latency=False), runs_root=runs, update_interval=0.0)
            if not cp.train():
                raise RuntimeError(cp.message_text)
            sparsities = [0.3, 0.55, 0.75, 0.85, 0.92, 0.97]
            panel_ms, preview_ms = [], []
            for i in range(moves):                      # the common case: one slider, same bits
                cp.sparsity.value = sparsities[i % len(sparsities)] + 0.001 * (i // len(sparsities))
                panel_ms.append(1000 * cp.preview_seconds)
                preview_ms.append(cp.preview_row["preview_ms"])
            bits_ms = []
            bit_values = [b for b in ("2", "3", "4", "5", "6", "7", "8", "10", "12", "16", "float")
                          if b != cp.bits.value]
            for i in range(changes):                    # a new bits setting: its curve is measured once
                cp.granularity.value = ("channel", "tensor")[(i // len(bit_values)) % 2]
                cp.bits.value = bit_values[i % len(bit_values)]
                bits_ms.append(1000 * cp.preview_seconds)
            result = {"sparsity_move": _stats(panel_ms), "preview_call": _stats(preview_ms),
                      "bits_change": _stats(bits_ms), "test_examples": len(cp.loaded.data.test)}
    finally:
        torch.set_num_threads(before)
    for name, what in (("sparsity_move", f"sparsity slider move, end to end ({moves} moves)"),
                       ("preview_call", "  of which the Preview call"),
                       ("bits_change", f"bits change, with a new {len(CURVE_SPARSITIES)}-point curve ({changes})")):
        s = result[name]
        print(f"{what}: median {s['median_ms']:.1f} ms, p90 {s['p90_ms']:.1f} ms, max {s['max_ms']:.1f} ms")
    print(f"(reference MLP, test split {result['test_examples']} examples, 1 thread)")
    return result


if __name__ == "__main__":
    main()
