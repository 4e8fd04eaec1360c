"""Detection couplings x lambda x seeds: ``.venv/bin/python -m bench.detection [--tiny] [options]``.

Trains every coupling of ``lab.detection`` (independent, pipeline, cross_stitch, pipeline_cross_stitch) at
each lambda of L = L_det + lambda (L_cls + L_loc), for every seed (data, weights and batch order all follow the
seed), plus the pipelines with the box detached at lambda 1. Prints one table - mean ± sd over seeds of class
accuracy, mean IoU, IoU >= 0.75, detection score (class right and IoU >= 0.5), proposal IoU, parameters and
train time - then the lesson's question answered from the means (``lab.detection.summary.verdict``) and the
paired differences per seed. ``--tiny`` is the seconds-long setting the test suite runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import date

import torch

from lab.data import load_detection
from lab.detection import DETECTION_COUPLINGS, DetectionConfig, DetectionSettings, run_detection
from lab.detection.summary import QUESTION, verdict
from lab.tables import format_table
from lab.train import TrainConfig

METRICS = ("class_acc", "mean_iou", "iou50", "iou75", "detection", "proposal_iou")
TINY = dict(couplings=("independent", "pipeline"), lams=(1.0,), seeds=(0,), epochs=1, limit=60, detach=False)


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__.splitlines()[0])
    p.add_argument("--couplings", type=_list(str), default=tuple(DETECTION_COUPLINGS))
    p.add_argument("--lams", type=_list(float), default=(0.25, 1.0, 4.0), help="lambda values")
    p.add_argument("--seeds", type=_list(int), default=(0, 1, 2))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--limit", type=int, default=None, help="digits kept (default: all 1797)")
    p.add_argument("--no-detach", dest="detach", action="store_false", help="skip the detached-box runs")
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--json", default=None, help="also write every row and the summary to this file")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny models)")
    return p


def plan(couplings, lams, detach: bool) -> list[tuple[str, float, bool]]:
    """(coupling, lambda, detach) of every setting: all couplings x lambdas, then the detached pipelines at 1."""
    runs = [(c, lam, False) for lam in lams for c in couplings]
    if detach:
        runs += [(c, 1.0, True) for c in couplings if c.startswith("pipeline")]
    return runs


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and sd over seeds per (coupling, lambda, detach)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["coupling"], r["lambda"], r["detach"]), []).append(r)
    out = []
    for (coupling, lam, detach), rs in groups.items():
        s = {"coupling": coupling, "lambda": lam, "detach": detach, "seeds": len(rs)}
        for m in (*METRICS, "train_s"):
            values = [r[m] for r in rs]
            s[m] = statistics.fmean(values)
            s[f"{m}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        s["params"] = rs[0]["params"]
        out.append(s)
    return out


def paired(rows: list[dict], a: str, b: str, lam: float, metric: str = "detection") -> tuple[float, float, int] | None:
    """Mean and sd over seeds of (a - b) in points of ``metric`` at ``lambda`` (not detached); None if missing."""
    by = {(r["coupling"], r["seed"]): r[metric] for r in rows if r["lambda"] == lam and not r["detach"]}
    diffs = [100 * (by[(a, s)] - by[(b, s)]) for (c, s) in by if c == a and (b, s) in by]
    if not diffs:
        return None
    return statistics.fmean(diffs), (statistics.stdev(diffs) if len(diffs) > 1 else 0.0), len(diffs)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    options = dict(couplings=args.couplings, lams=args.lams, seeds=args.seeds, epochs=args.epochs, limit=args.limit,
                   detach=args.detach)
    if args.tiny:
        options.update(TINY)
    try:
        unknown = [c for c in options["couplings"] if c not in DETECTION_COUPLINGS]
        if unknown or not options["couplings"] or not options["seeds"] or not options["lams"]:
            raise ValueError(f"couplings from {list(DETECTION_COUPLINGS)}, at least one seed and one lambda, "
                             f"got couplings {list(options['couplings'])}, seeds {list(options['seeds'])}, "
                             f"lambdas {list(options['lams'])}")
        settings = {lam: DetectionSettings(lam=lam) for lam in options["lams"]}      # lambda checked up front
        train = {s: TrainConfig(epochs=options["epochs"], batch_size=64, lr=3e-3, seed=s) for s in options["seeds"]}
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    t0, rows = time.perf_counter(), []
    runs = plan(options["couplings"], options["lams"], options["detach"])
    for seed in options["seeds"]:
        data = load_detection(seed=seed, limit=options["limit"])
        for coupling, lam, detach in runs:
            result = run_detection(data, DetectionConfig(coupling, detach_box=detach, seed=seed), train[seed],
                                   settings.get(lam) or DetectionSettings(lam=lam))
            rows.append({**result.row(), "seed": seed})
            print(f"seed {seed} {coupling} lambda {lam:g}{' detached' if detach else ''}: detection "
                  f"{result.metrics['detection']:.3f} ({result.train_seconds:.0f} s)", file=sys.stderr, flush=True)
    summary = summarise(rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"detection couplings: {len(options['couplings'])} couplings x lambdas {list(options['lams'])} x seeds "
          f"{list(options['seeds'])}, {options['epochs']} epochs, limit {options['limit'] or 'all'}; {len(rows)} runs "
          f"in {time.perf_counter() - t0:.0f} s on {platform.machine()} ({os.cpu_count()} cores), "
          f"{torch.get_num_threads()} torch thread(s), load {load:.1f}, {date.today()}")
    shown = [{"coupling": s["coupling"], "lambda": s["lambda"], "detach": "yes" if s["detach"] else "",
              **{m: f"{100 * s[m]:.1f} ± {100 * s[m + '_sd']:.1f}" for m in METRICS},
              "params": s["params"], "train_s": round(s["train_s"], 1)} for s in summary]
    print(format_table(shown))
    print(f"\n{QUESTION}")
    for line in verdict([s for s in summary if not s["detach"]]):
        print(" ", line)
    print("paired differences over seeds (detection points, mean ± sd):")
    for lam in options["lams"]:
        for a, b in (("pipeline", "cross_stitch"), ("pipeline", "independent"), ("pipeline_cross_stitch", "pipeline"),
                     ("cross_stitch", "independent")):
            d = paired(rows, a, b, lam)
            if d is not None:
                print(f"  lambda {lam:g}: {a} - {b}: {d[0]:+.1f} ± {d[1]:.1f} ({d[2]} seeds)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
                       "rows": rows, "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
