"""``python -m lab couple``: train a coupled system, or ``--compare`` every strategy.

Joint-training options: ``--weighting`` (one loss weighting) or ``--weightings``
(sweep several; with ``--compare`` every strategy x weighting), ``--adversarial``
(adversarial training) and ``--attack`` (robust test metrics), ``--transfer-to``
(adapt the trained system to a shifted domain, per transfer mode).
"""
from __future__ import annotations

import argparse
import inspect
import sys
from dataclasses import replace
from pathlib import Path

from ..adversarial import ATTACK_KINDS, AdversarialTraining, Attack, input_range, robust_accuracy
from ..compare import compare_strategies, compare_weightings, run_strategy, weighting_for
from ..coupling.blocks import BLOCKS
from ..coupling.system import COUPLINGS, SystemConfig
from ..data import DATASETS, STRUCTURES, load_data
from ..defaults import ADV_EPS, ADV_RATIO, ADV_STEPS, DATA, DEFAULT_SYSTEM, DEFAULT_TRAIN, STRUCTURE, field_default
from ..runs import new_run_dir
from ..settings import fast_mode
from ..tables import format_matrix, format_table
from ..train import TrainConfig
from ..train_schedule import LR_SCHEDULES
from ..transfer import TRANSFER_MODES, TransferConfig, compare_transfer, shifted
from ..validation import check_int, check_seed
from ..weighting import WEIGHTINGS
from .couple_checks import (WEIGHTING_FLAGS, check_before_training, check_options, strategy_names, transfer_modes,
                            weighting_names, weighting_options)
from .help import DefaultsHelpFormatter
from .progress import RunProgress


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


def _init_default(cls: type, name: str):
    """The default of keyword ``name`` of ``cls.__init__`` (e.g. a weighting's option)."""
    return inspect.signature(cls.__init__).parameters[name].default


# Defaults come from lab.defaults (the config dataclasses), which the coupling playground uses too.
def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=DATA, choices=list(DATASETS), help="dataset")
    p.add_argument("--structure", default=STRUCTURE, choices=list(STRUCTURES),
                   help="ground-truth W* of --data synthetic: which modules each task needs")
    p.add_argument("--limit", type=int, default=None,
                   help="keep a seeded subset of this many examples (default: the whole dataset)")
    p.add_argument("--seed", type=int, default=DEFAULT_TRAIN.seed, help="seed for data, initial weights and training")


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--block", default=DEFAULT_SYSTEM.block, choices=list(BLOCKS),
                   help="layers of every module's stage: mlp, cnn, gru (a GRU over the sequence) or logistic "
                        "(linear, no activation)")
    p.add_argument("--widths", type=ints, default=DEFAULT_SYSTEM.widths,
                   help="units (mlp, logistic), channels (cnn) or hidden units (gru) of every stage, comma-separated")
    p.add_argument("--kernel-size", type=int, default=DEFAULT_SYSTEM.kernel_size,
                   help="cnn blocks: convolution kernel size")
    p.add_argument("--stride", type=int, default=DEFAULT_SYSTEM.stride, help="cnn blocks: convolution stride")
    p.add_argument("--batch-norm", action="store_true", help="cnn blocks: batch norm after every convolution")
    p.add_argument("--w-init", type=floats, default=DEFAULT_SYSTEM.w_init,
                   help="initial W of learned couplings: self,others (diagonal; total of a row's other entries)")
    p.add_argument("--per-channel", action="store_true", help="one cross-stitch weight per channel")
    p.add_argument("--dropout", type=float, default=DEFAULT_SYSTEM.dropout, help="dropout after every stage")
    p.add_argument("--epochs", type=int, default=DEFAULT_TRAIN.epochs,
                   help="training epochs (at most 3 with LAB_FAST=1)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_TRAIN.batch_size, help="examples per optimiser step")
    p.add_argument("--lr", type=float, default=DEFAULT_TRAIN.lr, help="learning rate")
    p.add_argument("--optimizer", default=DEFAULT_TRAIN.optimizer, choices=["adam", "sgd"], help="optimiser")
    p.add_argument("--weight-decay", type=float, default=DEFAULT_TRAIN.weight_decay, help="L2 weight decay")
    p.add_argument("--lr-schedule", default=DEFAULT_TRAIN.lr_schedule, choices=list(LR_SCHEDULES),
                   help="learning-rate schedule, stepped every epoch: none, cosine (to 0 over the run) or step "
                        "(times --lr-gamma every --lr-step-epochs)")
    p.add_argument("--lr-step-epochs", type=int, default=None,
                   help="step schedule: epochs between decays (default: a third of the run)")
    p.add_argument("--lr-gamma", type=float, default=DEFAULT_TRAIN.lr_gamma, help="step schedule: decay factor")
    p.add_argument("--restore-best", action="store_true",
                   help="end with the weights of the epoch with the best validation metric")
    p.add_argument("--task-weights", type=floats, default=None,
                   help="fixed loss weight (lambda) per task, e.g. 1,0.5 (default: 1 for every task)")


def data_from_args(args) -> object:
    kwargs: dict = {"seed": check_seed(args.seed, "--seed")}
    limit = None if args.limit is None else check_int("--limit", args.limit, min=1)
    if args.data == "synthetic":
        kwargs["structure"] = args.structure
        if limit is not None:
            kwargs["num_samples"] = limit
    elif args.data == "mnist1d":
        if limit is not None:
            kwargs["num_samples"] = limit
    elif limit is not None:
        kwargs["limit"] = limit
    return load_data(args.data, **kwargs)


def configs_from_args(args, strategy: str) -> tuple[SystemConfig, TrainConfig]:
    epochs = min(args.epochs, 3) if fast_mode() else args.epochs
    system = SystemConfig(strategy=strategy, block=args.block, widths=args.widths, w_init=args.w_init,
                          per_channel=args.per_channel, dropout=args.dropout, seed=args.seed,
                          kernel_size=args.kernel_size, stride=args.stride, batch_norm=args.batch_norm)
    train = TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                        weight_decay=args.weight_decay, task_weights=args.task_weights, seed=args.seed,
                        lr_schedule=args.lr_schedule, lr_step_epochs=args.lr_step_epochs, lr_gamma=args.lr_gamma,
                        restore_best=args.restore_best)
    return system, train


def add_parser(sub) -> None:
    p = sub.add_parser("couple", help="train coupled sub-modules; --compare trains every strategy",
                       description="Train a coupled system on multi-task data and show its learned W.",
                       formatter_class=DefaultsHelpFormatter)
    add_data_args(p)
    add_train_args(p)
    p.add_argument("--strategy", default=DEFAULT_SYSTEM.strategy, choices=list(COUPLINGS),
                   help="how the modules are coupled")
    p.add_argument("--compare", action="store_true", help="train every strategy with the same seed and budget")
    p.add_argument("--strategies", default=None,
                   help="comma-separated strategies for --compare (default: every strategy)")
    p.add_argument("--save", action="store_true",
                   help="save each run under runs/ (or $LAB_RUNS) as it trains: config, then checkpoint and "
                        "history every epoch")
    add_weighting_args(p)
    add_adversarial_args(p)
    add_transfer_args(p)
    p.set_defaults(func=run)


def add_weighting_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("loss weighting")
    g.add_argument("--weighting", default=None, choices=list(WEIGHTINGS),
                   help="how task losses are combined (default: fixed --task-weights, i.e. equal)")
    g.add_argument("--weightings", default=None,
                   help="sweep these weightings (comma-separated, or 'all'); with --compare, for every strategy "
                        "(default: no sweep)")
    for f in WEIGHTING_FLAGS:            # one flag per forwarded option (lab.cli.couple_checks.WEIGHTING_FLAGS)
        g.add_argument(f.flag, dest=f.dest, type=f.type, default=None,
                       help=f"{f.weighting}: {f.what} (default: {_init_default(WEIGHTINGS[f.weighting], f.option)})")


def add_adversarial_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("adversarial training and robustness (L-infinity)")
    g.add_argument("--adversarial", default=None, choices=list(ATTACK_KINDS),
                   help="train adversarially with this attack and report robust test metrics (default: off)")
    g.add_argument("--adv-ratio", type=float, default=ADV_RATIO, help="share of adversarial examples per batch")
    g.add_argument("--attack", default=None, choices=list(ATTACK_KINDS),
                   help="report test metrics under this attack (default: the --adversarial one, else none)")
    g.add_argument("--eps", type=float, default=ADV_EPS, help="attack radius in input units")
    g.add_argument("--attack-steps", type=int, default=ADV_STEPS, help="pgd steps")
    g.add_argument("--step-size", type=float, default=None, help="attack step size (default: eps for fgsm, "
                   "2.5 eps / steps for pgd)")
    g.add_argument("--random-start", action="store_true", help="start the attack at a random point of the ball")
    g.add_argument("--attack-modules", type=ints, default=None,
                   help="attack only these modules' inputs, e.g. 0,2 (per-module inputs only; default: all)")


def add_transfer_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cross-domain transfer")
    g.add_argument("--transfer-to", default=None, metavar="SHIFT",
                   help="after training, adapt to the shifted domain KIND:AMOUNT, e.g. rotation:30, noise:0.3 "
                        "(default: no transfer)")
    g.add_argument("--transfer-mode", default=None,
                   help=f"what adaptation trains, comma-separated from {list(TRANSFER_MODES)} "
                        "(default: every mode the strategy has)")
    g.add_argument("--transfer-epochs", type=int, default=field_default(TransferConfig, "epochs"),
                   help="adaptation epochs (at most 2 with LAB_FAST=1)")
    g.add_argument("--transfer-lr", type=float, default=field_default(TransferConfig, "lr"),
                   help="adaptation learning rate")
    g.add_argument("--transfer-limit", type=int, default=None,
                   help="adapt on this many target training examples (default: all)")


def attack_from_args(args, data, kind: str) -> Attack:
    return Attack(kind, eps=args.eps, step_size=args.step_size, steps=args.attack_steps,
                  random_start=args.random_start,
                  modules="all" if args.attack_modules is None else tuple(args.attack_modules),
                  clamp=input_range(data))


def run(args) -> int:
    system_config, train_config = configs_from_args(args, args.strategy)     # settings first, then data
    weightings = weighting_names(args)
    if weightings is not None and args.weighting is not None:
        raise ValueError("give either --weighting (one) or --weightings (a sweep), not both")
    strategies = strategy_names(args)
    check_options(args, weightings)
    data = data_from_args(args)
    adversarial = (AdversarialTraining(attack_from_args(args, data, args.adversarial), args.adv_ratio)
                   if args.adversarial else None)
    attack_kind = args.attack or args.adversarial
    attack = attack_from_args(args, data, attack_kind) if attack_kind else None
    target = transfer_config = None
    modes, skip = list(TRANSFER_MODES), True
    if args.transfer_to:
        target = shifted(data, args.transfer_to, seed=args.seed)
        modes, skip = transfer_modes(args)
        transfer_config = TransferConfig(epochs=min(args.transfer_epochs, 2) if fast_mode() else args.transfer_epochs,
                                         lr=args.transfer_lr, batch_size=args.batch_size, limit=args.transfer_limit,
                                         seed=args.seed)
    check_before_training(args, data, system_config, strategies,
                          target is not None and not skip and "coupling" in modes, train_config, weightings)
    saved: dict[str, Path] = {}

    def run_dir_for(label: str) -> Path:
        """A new folder for this run, announced before it trains (it is saved every epoch)."""
        saved[label] = path = new_run_dir(f"{data.name}-{label}")
        print(f"saving {label} run to {path} (every epoch)", flush=True)
        return path

    save_to = run_dir_for if args.save else None
    progress = (RunProgress(len(strategies) * len(weightings or [None])),)    # a line per run on stderr
    try:
        results = train_all(args, data, system_config, train_config, strategies, weightings, adversarial, save_to,
                            progress)
    except KeyboardInterrupt:
        print("\ninterrupted" + (": every epoch finished so far is saved in " + ", ".join(map(str, saved.values()))
                                 if saved else ""), file=sys.stderr)
        return 130
    adv_note = f", adversarial training {adversarial.attack.label} ratio {adversarial.ratio:g}" if adversarial else ""
    print(f"data: {data.name} (train {len(data.train)}, val {len(data.val)}, test {len(data.test)}), "
          f"block {system_config.block} {list(system_config.widths)}, {train_config.epochs} epochs, "
          f"seed {train_config.seed}{adv_note}; test metric per task:")
    print(format_table([r.row() for r in results]))
    if train_config.restore_best:
        print("restored the best validation epoch: " + ", ".join(
            f"{r.strategy if r.weighting is None else f'{r.strategy}-{r.weighting}'} {r.history.restored_epoch}"
            for r in results))
    if weightings is not None or args.weighting:
        print("\nfinal task weights (lambda per task, last epoch):")
        print(format_table([{"strategy": r.strategy, "weighting": r.history.config["weighting"],
                             **r.history.task_weights[-1]} for r in results]))
    if attack is not None:
        print(f"\ntest metric under attack {attack.label}"
              + (f" (inputs clamped to {list(attack.clamp)})" if attack.clamp else "") + ":")
        print(format_table([robust_row(r, data, attack, args.seed) for r in results]))
    for r in results:
        if r.strategy in ("cross_stitch", "attention") and weightings is None:
            print(f"\nfinal W of {r.strategy} (row i: what module i takes from module j):")
            for s, W in enumerate(r.system.coupling_matrices(data.val), start=1):   # attention: mean over val
                print(f"stage {s}:\n{format_matrix(W, list(r.system.task_names))}")
        if r.recovery is not None and r.strategy in ("cross_stitch", "attention"):
            rec = r.recovery
            print(f"W* recovery ({r.strategy}): AUC {rec['auc']:.3f}, precision@{rec['k']} "
                  f"{rec['precision_at_k']:.2f}, Spearman {rec['spearman']:.3f}")
        if args.save:
            label = r.strategy if r.weighting is None else f"{r.strategy}-{r.weighting}"
            print(f"saved {label} run to {saved[label]}")
    if target is not None:
        rows = []
        for r in results:
            for t in compare_transfer(r.system, target, modes, transfer_config, source=data, skip_unavailable=skip):
                rows.append({"strategy": r.strategy, **({"weighting": r.weighting} if r.weighting else {}),
                             **t.summary()})
        print(f"\ntransfer {data.name} -> {target.name}: {transfer_config.epochs} epochs, lr {transfer_config.lr:g}"
              + (f", {transfer_config.limit} target examples" if transfer_config.limit else "")
              + "; mean test metric before/after adaptation:")
        print(format_table(rows))
    return 0


def train_all(args, data, system_config: SystemConfig, train_config: TrainConfig, strategies: list[str],
              weightings: list[str] | None, adversarial, run_dir_for, callbacks=()) -> list:
    """Train every requested run (strategies x weightings); ``run_dir_for(label)`` gives each its folder,
    ``callbacks`` see every run (the progress lines)."""
    if weightings is not None:
        options = {w: weighting_options(args, w) for w in weightings}
        return [r for s in strategies
                for r in compare_weightings(data, replace(system_config, strategy=s), train_config, weightings,
                                            options, callbacks, adversarial=adversarial, run_dir_for=run_dir_for)]
    weighting = weighting_for(args.weighting, train_config, weighting_options(args, args.weighting)) \
        if args.weighting else None
    if args.compare:
        return compare_strategies(data, system_config, train_config, strategies, callbacks, weighting=weighting,
                                  adversarial=adversarial, run_dir_for=run_dir_for)
    return [run_strategy(data, system_config, train_config, weighting=weighting, callbacks=callbacks,
                         adversarial=adversarial, run_dir=run_dir_for(args.strategy) if run_dir_for else None)]


def robust_row(result, data, attack: Attack, seed: int) -> dict:
    """Per-task test metric of a trained result under ``attack``, with the clean mean beside it."""
    robust = robust_accuracy(result.system, data.test, attack, seed=seed)
    row = {"strategy": result.strategy}
    if result.weighting is not None:
        row["weighting"] = result.weighting
    clean = result.mean_metric
    mean = sum(robust.values()) / len(robust)
    return {**row, **robust, "clean_mean": clean, "robust_mean": mean, "drop": clean - mean}
