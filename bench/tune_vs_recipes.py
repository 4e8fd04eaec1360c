"""Does the tuner's front dominate the hand recipes at equal trials and equal time?

The hand side is bench.compress_table's grid for one seed (gradual pruning to each sparsity, then
k-means with each k: one global setting per model, 18 settings), timed. The tuner side is a study on
the per-layer space with the ranges of bench.tune_frontier, as many trials as the grid has settings;
each trial's finish time is recorded, so the front can be read at equal trials (all of them) and at
equal time (the trials finished within the grid's wall time). Points are (validation accuracy, bytes);
a point is dominated when another is at least as accurate and at most as large, better in one.

    .venv/bin/python -m bench.tune_vs_recipes            # seed 0, ~5 min on 2 busy cores
    .venv/bin/python -m bench.tune_vs_recipes --quick    # a tiny setting (the test suite runs this)
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna
import torch

from bench import compress_table
from bench.tune_frontier import QUICK, RANGES
from lab.tables import format_table
from lab.tune import TuneConfig, build_space, open_study, run_worker
from lab.tune.trials import TrialContext


def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(val %, bytes) a dominates b."""
    return a[0] >= b[0] and a[1] <= b[1] and a != b


def front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return sorted({p for p in points if not any(beats(q, p) for q in points)}, key=lambda p: p[1])


def best_ratio(points: list[tuple[float, float]], ref_val: float, ref_bytes: int, max_loss: float) -> float | None:
    ok = [ref_bytes / b for v, b in points if ref_val - v <= max_loss + 1e-9]
    return max(ok) if ok else None


def compare(tuner: list[tuple[float, float]], hand: list[tuple[float, float]], ref_val: float, ref_bytes: int,
            max_loss: float) -> dict:
    tf, hf = front(tuner), front(hand)
    return {"tuner_points": len(tuner), "hand_front_dominated": sum(any(beats(t, h) for t in tf) for h in hf),
            "hand_front": len(hf), "tuner_front_dominated": sum(any(beats(h, t) for h in hf) for t in tf),
            "tuner_front": len(tf), "tuner_best_ratio": best_ratio(tuner, ref_val, ref_bytes, max_loss),
            "hand_best_ratio": best_ratio(hand, ref_val, ref_bytes, max_loss)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-loss", type=float, default=0.5)
    p.add_argument("--population", type=int, default=8)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    sparsities, clusters = [0.9, 0.92, 0.94, 0.95, 0.96, 0.97], [16, 8, 4]
    steps, epochs = 8, 20
    if args.quick:
        sparsities, clusters, steps, epochs = [0.5], [16], 2, 1
    t0 = time.perf_counter()
    _, _, ref_report, (ref_val, _), rows = compress_table.grid(args.seed, sparsities, clusters, steps, epochs, 1e-3,
                                                                args.quick)
    grid_seconds = time.perf_counter() - t0
    hand = [(r["val_%"], r["bytes"]) for r in rows]

    space = build_space("mlp_compression", QUICK if args.quick else RANGES, limit=300 if args.quick else None,
                        data_seed=args.seed, seed=args.seed, reference_epochs=3 if args.quick else 40)
    t1 = time.perf_counter()
    context = TrialContext.build(space)      # trains the same reference as the grid (same seed and fit)
    with tempfile.TemporaryDirectory() as tmp:
        config = TuneConfig(space, seed=args.seed, trials=len(rows), population=min(args.population, len(rows) + 1),
                            study="vs-recipes", storage=str(Path(tmp) / "vs.db"))
        study = open_study(config)
        finished: list[tuple[float, float, float]] = []         # (seconds since start, val %, bytes)
        run_worker(study, config, context=context, on_trial=lambda t: finished.append(
            (time.perf_counter() - t1, 100 * t.values[0], t.values[1])) if t.values else None)
        tuner_seconds = time.perf_counter() - t1
    all_trials = [(v, b) for _, v, b in finished]
    in_time = [(v, b) for s, v, b in finished if s <= grid_seconds]
    ref_bytes = ref_report.bytes
    rows_out = [{"side": "hand grid (gradual + kmeans)", "settings": len(hand), "seconds": grid_seconds,
                 "best_ratio": best_ratio(hand, ref_val, ref_bytes, args.max_loss), "front": len(front(hand)),
                 "front_beaten_by_hand": None, "hand_front_beaten": None}]
    for label, points, seconds in (("tuner, equal trials", all_trials, tuner_seconds),
                                   ("tuner, equal time", in_time, min(grid_seconds, tuner_seconds))):
        c = compare(points, hand, ref_val, ref_bytes, args.max_loss)
        rows_out.append({"side": label, "settings": len(points), "seconds": seconds, "best_ratio": c["tuner_best_ratio"],
                         "front": c["tuner_front"], "front_beaten_by_hand": c["tuner_front_dominated"],
                         "hand_front_beaten": f"{c['hand_front_dominated']} of {c['hand_front']}"})
    print(f"Tuner vs hand recipes on the reference MLP, seed {args.seed}: validation accuracy selects; best_ratio = "
          f"largest x smaller within {args.max_loss} points of the reference's {ref_val:.2f}% on validation")
    print(format_table(rows_out, digits=2))
    print("(front: non-dominated points in (validation accuracy, bytes); front_beaten_by_hand: tuner front points that a "
          "hand front point dominates; hand_front_beaten: hand front points that a tuner front point dominates)")
    return {"rows": rows_out, "grid_seconds": grid_seconds, "tuner_seconds": tuner_seconds}


if __name__ == "__main__":
    main()
