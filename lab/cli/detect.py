"""``python -m lab detect``: train the detection system (features -> proposal -> classifier) on the
cluttered-canvas digits with L = L_det + lambda (L_cls + L_loc); ``--compare`` trains every coupling
(independent, pipeline, cross_stitch, pipeline_cross_stitch) with the same seed and budget.

    python -m lab detect --compare --epochs 15 --lam 1
    python -m lab detect --coupling pipeline --detach --save
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import CLUTTER, load_data
from ..detection import (DEFAULT_TRAIN, DETECTION_COUPLINGS, DETECTION_METRICS, DetectionConfig, DetectionSettings,
                         DetectionSystem)
from ..detection.run import compare_detection
from ..runs import new_run_dir
from ..settings import fast_mode
from ..tables import format_matrix, format_table
from ..train import TrainConfig
from ..validation import check_int, check_seed
from ..weighting import WEIGHTINGS
from .help import DefaultsHelpFormatter
from .progress import RunProgress

FAST_LIMIT = 300     # digits kept with LAB_FAST=1


def add_parser(sub) -> None:
    defaults = DetectionConfig()
    p = sub.add_parser("detect", help="train the two-stage detection system; --compare trains every coupling",
                       description=__doc__, formatter_class=DefaultsHelpFormatter)
    p.add_argument("--coupling", default=defaults.coupling, choices=list(DETECTION_COUPLINGS),
                   help="how the proposal and the classifier are coupled")
    p.add_argument("--compare", action="store_true", help="train every coupling with the same seed and budget")
    p.add_argument("--couplings", default=None,
                   help="comma-separated couplings for --compare (default: every coupling)")
    p.add_argument("--lam", type=float, default=1.0, help="lambda in L = L_det + lambda (L_cls + L_loc)")
    p.add_argument("--weighting", default="fixed", choices=list(WEIGHTINGS),
                   help="loss weighting; lambda applies to fixed and pcgrad, the others choose their own weights")
    p.add_argument("--detach", action="store_true",
                   help="detach the proposal box where the classifier uses it (no L_loc gradient into the proposal)")
    p.add_argument("--channels", type=int, default=defaults.channels, help="channels of every conv stage")
    p.add_argument("--crop", type=int, default=defaults.crop, help="side of the roi_align window (feature cells)")
    p.add_argument("--clutter", default="digit", choices=list(CLUTTER), help="what else is on the canvas")
    p.add_argument("--copies", type=int, default=1, help="place every digit this many times")
    p.add_argument("--limit", type=int, default=None,
                   help=f"keep a seeded subset of this many digits (default: all 1797; {FAST_LIMIT} with LAB_FAST=1)")
    p.add_argument("--seed", type=int, default=DEFAULT_TRAIN.seed, help="seed for data, weights and training")
    p.add_argument("--epochs", type=int, default=DEFAULT_TRAIN.epochs,
                   help="training epochs (at most 3 with LAB_FAST=1)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_TRAIN.batch_size, help="examples per optimiser step")
    p.add_argument("--lr", type=float, default=DEFAULT_TRAIN.lr, help="learning rate (Adam)")
    p.add_argument("--save", action="store_true", help="save each run under runs/ (or $LAB_RUNS) as it trains")
    p.set_defaults(func=run)


def run(args) -> int:
    """Check every setting, load the data, train, print one table (and W of the learned couplings)."""
    couplings = [c.strip() for c in args.couplings.split(",") if c.strip()] if args.couplings else None
    if couplings is not None and not args.compare:
        raise ValueError("--couplings goes with --compare; for one run use --coupling")
    couplings = couplings or (list(DETECTION_COUPLINGS) if args.compare else [args.coupling])
    unknown = [c for c in couplings if c not in DETECTION_COUPLINGS]
    if unknown:
        raise ValueError(f"unknown --couplings {unknown}; choose from {list(DETECTION_COUPLINGS)}")
    seed = check_seed(args.seed, "--seed")
    config = DetectionConfig(coupling=couplings[0], channels=args.channels, crop=args.crop, detach_box=args.detach,
                             seed=seed)
    settings = DetectionSettings(lam=args.lam, weighting=args.weighting)
    train_config = TrainConfig(epochs=min(args.epochs, 3) if fast_mode() else args.epochs, batch_size=args.batch_size,
                               lr=args.lr, seed=seed)
    limit = None if args.limit is None else check_int("--limit", args.limit, min=30, max=1797)
    if limit is None and fast_mode():
        limit = FAST_LIMIT
    DetectionSystem(config)               # a --crop that does not fit the 32 px canvas fails here, before the data
    data = load_data("detection", clutter=args.clutter, copies=args.copies, seed=seed, limit=limit)
    saved: dict[str, Path] = {}

    def run_dir_for(label: str) -> Path:
        saved[label] = path = new_run_dir(f"detection-{label}")
        print(f"saving {label} run to {path} (every epoch)", flush=True)
        return path

    try:
        results = compare_detection(data, couplings, config, train_config, settings,
                                    callbacks=(RunProgress(len(couplings)),),
                                    run_dir_for=run_dir_for if args.save else None)
    except KeyboardInterrupt:
        print("\ninterrupted" + (": every epoch finished so far is saved in " + ", ".join(map(str, saved.values()))
                                 if saved else ""), file=sys.stderr)
        return 130
    print(f"data: detection, clutter {args.clutter} (train {len(data.train)}, val {len(data.val)}, test "
          f"{len(data.test)}), {train_config.epochs} epochs, lambda {settings.lam:g}, weighting {settings.weighting}, "
          f"detach {'on' if args.detach else 'off'}, seed {seed}; test metrics:")
    print(format_table([r.row() for r in results], ["coupling", *DETECTION_METRICS, "params", "train_s"]))
    for r in results:
        if r.coupling in ("cross_stitch", "pipeline_cross_stitch"):
            print(f"\nfinal W of {r.coupling} (row i: what module i takes from module j):")
            for s, W in enumerate(r.system.coupling_matrices(), start=1):
                print(f"stage {s}:\n{format_matrix(W, ['proposal', 'classifier'])}")
        if args.save:
            print(f"saved {r.coupling} run to {saved[r.coupling]}")
    return 0
