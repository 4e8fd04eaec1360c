"""Robustness of coupled vs independent modules: ``.venv/bin/python -m bench.robustness [--tiny] [options]``.

Trains each strategy (same architecture, budget, seeds) and measures clean and
attacked test metrics for every attack in ``--attacks`` (KIND:EPS, e.g.
fgsm:0.1,pgd:0.1). Optionally trains adversarially (``--adversarial KIND:EPS``)
and, on per-module data, attacks only some modules (``--modules 0``). Logic:
``lab.compare.compare_robustness``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date

import torch

from lab.adversarial import AdversarialTraining, Attack, input_range
from lab.compare import compare_robustness
from lab.coupling import SystemConfig
from lab.data import DATASETS, STRUCTURES, load_data
from lab.tables import format_table
from lab.train import TrainConfig


def _list(cast):
    return lambda text: tuple(cast(v) for v in text.split(",") if v.strip())


def _attack(spec: str, data, args) -> Attack:
    kind, _, eps = spec.partition(":")
    try:
        eps_value = float(eps) if eps else 0.1
    except ValueError:
        raise ValueError(f"an attack is KIND:EPS, e.g. pgd:0.1; got {spec!r}") from None
    return Attack(kind, eps=eps_value, steps=args.steps, random_start=args.random_start,
                  modules="all" if args.modules is None else args.modules, clamp=input_range(data))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.robustness", description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits", choices=list(DATASETS))
    p.add_argument("--structure", default="star", choices=list(STRUCTURES), help="W* of synthetic data")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--strategies", type=_list(str), default=("independent", "cross_stitch"))
    p.add_argument("--attacks", type=_list(str), default=("fgsm:0.05", "pgd:0.05", "fgsm:0.1", "pgd:0.1"))
    p.add_argument("--steps", type=int, default=10, help="pgd steps")
    p.add_argument("--random-start", action="store_true")
    p.add_argument("--modules", type=_list(int), default=None, help="attack only these modules' inputs")
    p.add_argument("--adversarial", default=None, help="adversarial training attack KIND:EPS")
    p.add_argument("--ratio", type=float, default=0.5, help="adversarial share of every batch")
    p.add_argument("--seeds", type=_list(int), default=(0, 1, 2))
    p.add_argument("--widths", type=_list(int), default=(64, 64))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (the test suite's)")
    p.add_argument("--threads", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tiny:
        args.limit, args.seeds, args.widths, args.epochs, args.attacks = 200, (0,), (8,), 1, ("fgsm:0.1", "pgd:0.1")
        args.steps = 2
    try:
        kwargs: dict = {"structure": args.structure} if args.data == "synthetic" else {}
        if args.limit:
            kwargs["num_samples" if args.data in ("synthetic", "mnist1d") else "limit"] = args.limit
        data = load_data(args.data, **kwargs)
        attacks = [_attack(a, data, args) for a in args.attacks]
        adversarial = AdversarialTraining(_attack(args.adversarial, data, args), args.ratio) \
            if args.adversarial else None
        system_config, train_config = SystemConfig(widths=args.widths), TrainConfig(epochs=args.epochs, lr=args.lr)
        t0 = time.perf_counter()
        rows = compare_robustness(data, args.strategies, attacks, system_config, train_config,
                                  adversarial=adversarial, seeds=args.seeds)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    adv = f", adversarial training {adversarial.attack.label} ratio {adversarial.ratio:g}" if adversarial else ""
    print(f"robustness on {data.name} (test {len(data.test)}): widths {list(args.widths)}, {args.epochs} epochs, "
          f"lr {args.lr}, seeds {list(args.seeds)}{adv}; {time.perf_counter() - t0:.0f} s on {platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, {date.today()}; test metric, mean over seeds")
    first = rows[:len(args.strategies)]                      # clean metrics do not depend on the attack
    print("clean:")
    print(format_table(first, ["strategy"] + [f"clean_{t}" for t in data.task_names] + ["clean_mean"]))
    columns = ["attack", "strategy"] + [f"robust_{t}" for t in data.task_names] + [
        "robust_mean"] + (["robust_mean_sd"] if len(args.seeds) > 1 else []) + ["drop"]
    print("under attack:")
    print(format_table(rows, columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
