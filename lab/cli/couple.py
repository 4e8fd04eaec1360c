"""``python -m lab couple``: train a coupled system, or ``--compare`` every strategy."""
from __future__ import annotations

import argparse

from ..compare import compare_strategies, run_strategy
from ..coupling.system import COUPLINGS, SystemConfig
from ..data import DATASETS, STRUCTURES, load_data
from ..runs import new_run_dir, save_run
from ..settings import fast_mode
from ..tables import format_matrix, format_table
from ..train import TrainConfig


def floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="digits", choices=list(DATASETS), help="dataset (default: digits)")
    p.add_argument("--structure", default="chain", choices=list(STRUCTURES), help="W* of synthetic data")
    p.add_argument("--limit", type=int, default=None, help="keep a seeded subset of this many examples")
    p.add_argument("--seed", type=int, default=0, help="seed for data, initial weights and training")


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--block", default="mlp", choices=["mlp", "cnn"])
    p.add_argument("--widths", type=ints, default=(64, 64), help="stage widths, e.g. 64,64")
    p.add_argument("--w-init", type=floats, default=(0.9, 0.1), help="cross-stitch init (self, other)")
    p.add_argument("--per-channel", action="store_true", help="one cross-stitch weight per channel")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--task-weights", type=floats, default=None, help="fixed lambda per task, e.g. 1,0.5")


def data_from_args(args) -> object:
    kwargs: dict = {"seed": args.seed}
    if args.data == "synthetic":
        kwargs["structure"] = args.structure
        if args.limit:
            kwargs["num_samples"] = args.limit
    elif args.data == "mnist1d":
        if args.limit:
            kwargs["num_samples"] = args.limit
    elif args.limit:
        kwargs["limit"] = args.limit
    return load_data(args.data, **kwargs)


def configs_from_args(args, strategy: str) -> tuple[SystemConfig, TrainConfig]:
    epochs = min(args.epochs, 3) if fast_mode() else args.epochs
    system = SystemConfig(strategy=strategy, block=args.block, widths=args.widths, w_init=args.w_init,
                          per_channel=args.per_channel, dropout=args.dropout, seed=args.seed)
    train = TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                        weight_decay=args.weight_decay, task_weights=args.task_weights, seed=args.seed)
    return system, train


def add_parser(sub) -> None:
    p = sub.add_parser("couple", help="train coupled sub-modules; --compare trains every strategy",
                       description="Train a coupled system on multi-task data and show its learned W.")
    add_data_args(p)
    add_train_args(p)
    p.add_argument("--strategy", default="cross_stitch", choices=list(COUPLINGS))
    p.add_argument("--compare", action="store_true", help="train every strategy with the same seed and budget")
    p.add_argument("--strategies", default=None, help="comma-separated subset for --compare")
    p.add_argument("--save", action="store_true", help="save each run under runs/")
    p.set_defaults(func=run)


def run(args) -> int:
    data = data_from_args(args)
    system_config, train_config = configs_from_args(args, args.strategy)
    if args.compare:
        strategies = args.strategies.split(",") if args.strategies else list(COUPLINGS)
        results = compare_strategies(data, system_config, train_config, strategies)
    else:
        results = [run_strategy(data, system_config, train_config)]
    print(f"data: {data.name} (train {len(data.train)}, val {len(data.val)}, test {len(data.test)}), "
          f"block {system_config.block} {list(system_config.widths)}, {train_config.epochs} epochs, "
          f"seed {train_config.seed}; test metric per task:")
    print(format_table([r.row() for r in results]))
    for r in results:
        if r.strategy in ("cross_stitch", "attention"):
            print(f"\nfinal W of {r.strategy} (row i: what module i takes from module j):")
            for s, W in enumerate(r.system.coupling_matrices(), start=1):
                print(f"stage {s}:\n{format_matrix(W, list(r.system.task_names))}")
        if r.recovery is not None and r.strategy in ("cross_stitch", "attention"):
            rec = r.recovery
            print(f"W* recovery ({r.strategy}): AUC {rec['auc']:.3f}, precision@{rec['k']} "
                  f"{rec['precision_at_k']:.2f}, Spearman {rec['spearman']:.3f}")
        if args.save:
            path = save_run(new_run_dir(f"{data.name}-{r.strategy}"), r.system, r.history)
            print(f"saved {r.strategy} run to {path}")
    return 0
