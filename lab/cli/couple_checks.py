"""Checks of ``python -m lab couple``'s options that run before any data is loaded or any training starts.

``check_options`` needs only the options; ``check_before_training`` also the data (per-module inputs,
task count, weightings that cannot work with a strategy). Each raises ValueError naming the option.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..adversarial import Attack
from ..compare import weighting_for
from ..coupling.system import COUPLINGS, SystemConfig, build_system
from ..train import TrainConfig
from ..transfer import TRANSFER_MODES, TransferConfig, parse_shift
from ..validation import LR_MAX, MAX_EPOCHS, check_float, check_int
from ..weighting import WEIGHTINGS, make_weighting


@dataclass(frozen=True)
class WeightingFlag:
    """A ``couple`` flag that sets option ``option`` of weighting ``weighting`` (``what``: its meaning)."""

    flag: str
    weighting: str
    option: str
    type: type
    what: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


WEIGHTING_FLAGS: tuple[WeightingFlag, ...] = (
    WeightingFlag("--alpha", "gradnorm", "alpha", float, "restoring-force strength"),
    WeightingFlag("--gradnorm-lr", "gradnorm", "lr", float, "learning rate of the task weights"),
    WeightingFlag("--temperature", "dwa", "temperature", float, "softmax temperature"),
    WeightingFlag("--uncertainty-init", "uncertainty", "init", float, "starting log-variance"),
    WeightingFlag("--pcgrad-seed", "pcgrad", "seed", int, "seed of the projection order"),
    WeightingFlag("--rlw-seed", "rlw", "seed", int, "seed of the random weights"),
    WeightingFlag("--famo-lr", "famo", "lr", float, "learning rate of the task logits"),
    WeightingFlag("--famo-gamma", "famo", "gamma", float, "weight decay of the task logits"),
    WeightingFlag("--mgda-epsilon", "mgda", "epsilon", float, "stopping tolerance of the min-norm solver"),
    WeightingFlag("--cagrad-c", "cagrad", "c", float, "radius c of the ball around the mean gradient"),
    WeightingFlag("--cagrad-rescale", "cagrad", "rescale", int, "rescaling (0: none, 1: / (1 + c^2), 2: / (1 + c))"),
    WeightingFlag("--nash-max-norm", "nash_mtl", "max_norm", float, "largest norm of the update (0: no clipping)"),
    WeightingFlag("--aligned-scale", "aligned_mtl", "scale_mode", str, "scale of the aligned update"),
    WeightingFlag("--upgrad-reg-eps", "upgrad", "reg_eps", float, "regularisation of the Gramian"),
)
"""Every weighting option ``couple`` forwards; a flag given without its weighting is refused."""


def weighting_options(args, name: str) -> dict:
    """The options the command line sets for weighting ``name`` (only the flags that were given)."""
    return {f.option: getattr(args, f.dest) for f in WEIGHTING_FLAGS
            if f.weighting == name and getattr(args, f.dest, None) is not None}


def weighting_names(args) -> list[str] | None:
    if args.weightings is None:
        return None
    names = list(WEIGHTINGS) if args.weightings.strip() == "all" else [w.strip() for w in args.weightings.split(",")
                                                                       if w.strip()]
    unknown = [w for w in names if w not in WEIGHTINGS]
    if unknown or not names:
        raise ValueError(f"unknown weightings {unknown or [args.weightings]}; choose from {list(WEIGHTINGS)} or 'all'")
    return names


def transfer_modes(args) -> tuple[list[str], bool]:
    """(modes, skip modes the strategy lacks) from --transfer-mode."""
    if args.transfer_mode is None:
        return list(TRANSFER_MODES), True
    modes = [m.strip() for m in args.transfer_mode.split(",") if m.strip()]
    unknown = [m for m in modes if m not in TRANSFER_MODES]
    if unknown or not modes:
        raise ValueError(f"unknown transfer mode(s) {unknown or [args.transfer_mode]}; choose from "
                         f"{list(TRANSFER_MODES)}")
    return modes, False


def strategy_names(args) -> list[str]:
    """The strategies to train: ``--strategy``, or with ``--compare`` every one or the ``--strategies`` list."""
    if args.strategies is None:
        return list(COUPLINGS) if args.compare else [args.strategy]
    if not args.compare:
        raise ValueError("--strategies picks the strategies of --compare; add --compare, or use --strategy for one")
    names = [s.strip() for s in args.strategies.split(",")]
    if not args.strategies.strip() or any(not n for n in names):
        raise ValueError(f"--strategies must list strategies separated by commas, e.g. independent,cross_stitch; "
                         f"got {args.strategies!r}")
    unknown = [s for s in names if s not in COUPLINGS]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--strategies names each strategy once, got {names}")
    return names


def check_options(args, weightings: list[str] | None) -> None:
    """Options that need no data: their values, and options that would be silently ignored."""
    chosen = weightings or ([args.weighting] if args.weighting else [])
    for f in WEIGHTING_FLAGS:
        if getattr(args, f.dest, None) is not None and f.weighting not in chosen:
            raise ValueError(f"{f.flag} sets {f.weighting}'s {f.what}; it needs --weighting {f.weighting} "
                             f"(or {f.weighting} in --weightings)")
    for name in chosen:                   # the values themselves, before any data is loaded
        options = weighting_options(args, name)
        if options:
            make_weighting(name, **options)
    attacking = args.attack or args.adversarial
    for flag, given in (("--attack-modules", args.attack_modules is not None), ("--step-size", args.step_size is not None),
                        ("--random-start", args.random_start)):
        if given and not attacking:
            raise ValueError(f"{flag} sets the attack; it needs --attack or --adversarial")
    Attack(attacking or "pgd", eps=args.eps, step_size=args.step_size, steps=args.attack_steps,
           random_start=args.random_start, modules="all" if args.attack_modules is None else tuple(args.attack_modules))
    check_float("--adv-ratio", args.adv_ratio, min=0.0, max=1.0)
    if not args.transfer_to:
        for flag, given in (("--transfer-mode", args.transfer_mode is not None),
                            ("--transfer-limit", args.transfer_limit is not None)):
            if given:
                raise ValueError(f"{flag} sets the adaptation; it needs --transfer-to KIND:AMOUNT")
    else:
        parse_shift(args.transfer_to)
        transfer_modes(args)
    check_int("--transfer-epochs", args.transfer_epochs, min=1, max=MAX_EPOCHS)
    check_float("--transfer-lr", args.transfer_lr, min=0.0, max=LR_MAX, min_open=True)
    if args.transfer_limit is not None:
        check_int("--transfer-limit", args.transfer_limit, min=1)
    TransferConfig(epochs=args.transfer_epochs, lr=args.transfer_lr, batch_size=args.batch_size,
                   limit=args.transfer_limit, seed=args.seed)


def check_before_training(args, data, system_config: SystemConfig, strategies: list[str],
                          wants_coupling_transfer: bool, train_config: TrainConfig | None = None,
                          weightings: list[str] | None = None) -> None:
    """Refuse settings that would only fail after the (possibly long) training."""
    if args.attack_modules is not None and data.num_inputs is None:
        raise ValueError(f"--attack-modules needs per-module inputs, but every module of {data.name!r} sees the same "
                         "input; leave it out to attack the shared input")
    unknown = [s for s in strategies if s not in COUPLINGS]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
    if train_config is not None and train_config.task_weights is not None \
            and len(train_config.task_weights) != len(data.tasks):
        raise ValueError(f"--task-weights: got {len(train_config.task_weights)} task weights for {len(data.tasks)} "
                         f"tasks {list(data.task_names)} of {data.name!r}; give one lambda per task")
    names = weightings or ([args.weighting] if args.weighting else [])
    for s in strategies if train_config is not None else ():
        system = build_system(data, replace(system_config, strategy=s))    # cheap: no training
        for name in names:            # e.g. gradnorm on 'independent' (nothing shared) fails here, not mid-sweep
            weighting_for(name, train_config, weighting_options(args, name)).setup(data.task_names, system)
    if wants_coupling_transfer:
        fixed = [s for s in strategies
                 if not build_system(data, replace(system_config, strategy=s)).coupling_parameters()]
        if fixed:
            raise ValueError(f"transfer mode 'coupling' trains only W, but {fixed} have no coupling parameters; "
                             "choose other --transfer-mode values or leave it out (every mode each strategy has)")
