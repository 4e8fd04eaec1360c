"""Deep Compression on the reference MLP (64-300-100-10, digits): storage ratio at <= 0.5 point loss.

Grid: gradual pruning (Zhu & Gupta, fine-tuning between steps) to each sparsity, then k-means
sharing with centroid fine-tuning for each k. A setting qualifies when its *validation* accuracy is
within ``--max-loss`` points of the reference's; the best qualifying ratio is then reported with its
*test* accuracy (selection never looks at the test split). The chosen setting is re-run through the
recipe runner (the same code as the CLI command printed) for the step-by-step table with latency.

    .venv/bin/python -m bench.compress_table            # full grid, ~3-6 min on 2 busy cores
    .venv/bin/python -m bench.compress_table --quick    # a tiny setting (the test suite runs this)
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from lab.compress import (FitConfig, GradualConfig, KMeansConfig, RecipeOptions, digit_data, gradual_prune,
                          run_recipe, share_weights, train_reference)
from lab.compress.reference import REFERENCE_FIT
from lab.cost import MeasureConfig, evaluate_model, format_reports, measure
from lab.tables import format_table

FAST = MeasureConfig(latency=False, memory=False)


def accuracy(model, data, split: str) -> float:
    return 100.0 * evaluate_model(model, getattr(data, split), data.tasks)["digit"]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-loss", type=float, default=0.5, help="accuracy points allowed to lose (validation)")
    p.add_argument("--sparsities", default="0.85,0.9,0.92,0.94,0.95,0.96")
    p.add_argument("--clusters", default="16,8,4")
    p.add_argument("--steps", type=int, default=6, help="gradual pruning steps")
    p.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per step")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--quick", action="store_true", help="tiny data and grid (smoke test)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    sparsities = [float(s) for s in args.sparsities.split(",")]
    clusters = [int(k) for k in args.clusters.split(",")]
    ref_fit = REFERENCE_FIT
    if args.quick:
        sparsities, clusters, args.steps, args.epochs = [0.5], clusters[:1], 2, 1
        ref_fit = FitConfig(epochs=3)
    data = digit_data(args.seed, limit=300 if args.quick else None)
    t0 = time.perf_counter()
    reference = train_reference("mlp", data, ref_fit, args.seed)
    ref_report = measure(reference, data, "fp32", FAST)
    ref_val, ref_test = accuracy(reference, data, "val"), accuracy(reference, data, "test")
    ft = FitConfig(epochs=args.epochs, lr=args.lr, seed=args.seed)
    kmeans_ft = FitConfig(epochs=args.epochs, lr=3e-4, seed=args.seed)
    rows = []
    for s in sparsities:
        pruned, _ = gradual_prune(reference, GradualConfig(s, steps=args.steps, finetune=ft), data=data,
                                  measure_config=FAST)
        for k in clusters:
            shared, report = share_weights(pruned, KMeansConfig(k, finetune=kmeans_ft, seed=args.seed), data=data,
                                           measure_config=FAST)
            val, test = accuracy(shared, data, "val"), accuracy(shared, data, "test")
            rows.append({"sparsity": s, "k": k, "val_%": val, "test_%": test, "val_loss": ref_val - val,
                         "test_loss": ref_test - test, "bytes": report.bytes,
                         "ratio": ref_report.bytes / report.bytes})
    ok = [r for r in rows if r["val_loss"] <= args.max_loss]
    best = max(ok, key=lambda r: r["ratio"]) if ok else None
    print(f"reference MLP: val {ref_val:.2f}%, test {ref_test:.2f}%, {ref_report.bytes:,} bytes (torch.save); "
          f"grid took {time.perf_counter() - t0:.0f} s\n")
    print(format_table(rows, digits=2))
    result = {"rows": rows, "best": best, "reference_bytes": ref_report.bytes}
    if best is None:
        print(f"\nno setting within {args.max_loss} validation points")
        return result
    recipe = (f"gradual:{best['sparsity']:g}:steps={args.steps}:epochs={args.epochs},"
              f"kmeans:{best['k']}:lr=3e-4:epochs={args.epochs},int8")
    measure_cfg = MeasureConfig(repeats=10 if args.quick else 200, warmup=5 if args.quick else 50, threads=1)
    options = RecipeOptions(finetune=FitConfig(epochs=args.epochs, lr=args.lr), measure=measure_cfg, seed=args.seed)
    table = run_recipe(reference, recipe, data, options)
    print(f"\nbest within {args.max_loss} validation points: sparsity {best['sparsity']:g}, k={best['k']}: "
          f"{best['ratio']:.1f}x smaller ({ref_report.bytes:,} -> {best['bytes']:,} bytes), test accuracy "
          f"{best['test_%']:.2f}% ({best['test_loss']:+.2f} points lost on test, {best['val_loss']:+.2f} on val)")
    print(f"\nstep by step (same as `python -m lab compress --model mlp --recipe {recipe} "
          f"--finetune-epochs {args.epochs} --finetune-lr {args.lr:g}`; latency: median of "
          f"{measure_cfg.repeats} calls at batch 1, 1 thread):")
    print(format_reports(table.reports))
    print(f"\nmachine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}")
    result["table"] = table
    return result


if __name__ == "__main__":
    main()
