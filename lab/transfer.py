"""Cross-domain transfer: adapt a trained system to a shifted domain, training only chosen parts.

    result = transfer(system, shift_domain(data, "rotation", 30), "coupling", TransferConfig(epochs=5),
                      source=data)
    print(format_table(result.rows()))

Modes (``TRANSFER_MODES``) — what is trainable during adaptation:

* ``coupling``: only the coupling parameters (``system.coupling_parameters()``:
  every stage's W; attention: its prior and query/key projections). Every other
  parameter stays bit-identical. Strategies with a fixed W (independent,
  pipeline, ensemble, shared) have none, and this mode raises ValueError.
* ``heads``: only the task heads; ``modules``: only the sub-modules' stages;
  ``all``: everything (fine-tuning).

``transfer`` never changes the system it is given: it adapts a deep copy and
returns it in ``TransferResult.system``. Before/after metrics are measured on
the target's test split (and the source's, when ``source`` is given, to show
what adaptation costs on the old domain). The budget is ``epochs`` and,
optionally, ``max_steps`` (optimizer steps) and ``limit`` (a seeded subset of
the target's training examples: few-shot adaptation).
"""
from __future__ import annotations

import copy
import math
import threading
from dataclasses import asdict, dataclass, replace
from typing import Literal, Sequence

import torch
from torch import nn

from .coupling.system import CoupledSystem
from .data.base import MultiTaskData
from .data.shifts import SHIFT_KINDS, DomainShift, shift_domain
from .history import History
from .metrics import evaluate
from .train import Callback, FunctionCallback, TrainConfig, check_compatible, train
from .validation import check_optional_int, normalise_fields
from .weighting import Weighting

TransferMode = Literal["coupling", "heads", "modules", "all"]
TRANSFER_MODES: tuple[str, ...] = ("coupling", "heads", "modules", "all")


@dataclass(frozen=True)
class TransferConfig:
    """Adaptation budget and optimiser. ``max_steps`` (None = no cap) ends training after that many
    optimizer steps; ``limit`` (None = all) uses a seeded subset of that many target training examples."""

    epochs: int = 5
    lr: float = 1e-3
    batch_size: int = 64
    optimizer: Literal["adam", "sgd"] = "adam"
    max_steps: int | None = None
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        normalise_fields(self, {
            "max_steps": check_optional_int("max_steps", self.max_steps, min=1, max=10 ** 9),
            "limit": check_optional_int("limit", self.limit, min=1, max=10 ** 9)})
        config = self.train_config()  # validates epochs, lr, batch_size, optimizer, seed
        normalise_fields(self, {"epochs": config.epochs, "lr": config.lr, "batch_size": config.batch_size,
                                "seed": config.seed})

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer=self.optimizer,
                           seed=self.seed)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TransferResult:
    """What an adaptation did. ``before``/``after``: domain ("target", and "source" when given) -> task ->
    test metric. ``system``: the adapted copy; ``history``: its training on the target."""

    mode: str
    system: CoupledSystem
    history: History
    trainable_parameters: int
    total_parameters: int
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]

    def rows(self) -> list[dict]:
        """One row per (domain, task): before, after and change of the test metric."""
        return [{"mode": self.mode, "domain": domain, "task": task, "before": self.before[domain][task],
                 "after": self.after[domain][task], "change": self.after[domain][task] - self.before[domain][task]}
                for domain in self.after for task in self.after[domain]]

    def summary(self) -> dict:
        """One row: trainable parameters and mean metric before/after on each domain."""
        row: dict = {"mode": self.mode, "trainable": self.trainable_parameters, "total": self.total_parameters}
        for domain in self.after:
            row[f"{domain}_before"] = _mean(self.before[domain])
            row[f"{domain}_after"] = _mean(self.after[domain])
        row["steps"] = len(self.history.step_loss)
        return row


def _mean(d: dict[str, float]) -> float:
    return sum(d.values()) / len(d)


def trainable_parts(system: CoupledSystem, mode: str) -> list[nn.Parameter]:
    """The parameters a transfer ``mode`` trains (ValueError for an unknown mode or a fixed-W 'coupling')."""
    if mode not in TRANSFER_MODES:
        raise ValueError(f"unknown transfer mode {mode!r}; choose from {list(TRANSFER_MODES)}")
    if mode == "coupling":
        params = system.coupling_parameters()
        if not params:
            raise ValueError(f"transfer mode 'coupling' trains only W, but the {system.strategy!r} strategy has no "
                             "coupling parameters (its W is fixed); use cross_stitch or attention, or another mode "
                             f"({', '.join(m for m in TRANSFER_MODES if m != 'coupling')})")
        return params
    if mode == "heads":
        return system.head_parameters()
    if mode == "modules":
        return system.module_parameters()
    return list(system.parameters())


def parse_shift(text: str, seed: int = 0) -> DomainShift:
    """'rotation:30', 'noise:0.3', 'invert:1', 'blur:1.0' -> DomainShift."""
    kind, sep, amount = text.partition(":")
    if not sep:
        raise ValueError(f"a domain shift is KIND:AMOUNT with KIND in {list(SHIFT_KINDS)}, e.g. rotation:30; "
                         f"got {text!r}")
    try:
        value = float(amount)
    except ValueError:
        raise ValueError(f"the amount of domain shift {text!r} must be a number") from None
    if not math.isfinite(value):
        raise ValueError(f"the amount of domain shift {text!r} must be finite")
    return DomainShift(kind.strip(), value, seed)


def shifted(data: MultiTaskData, shift: DomainShift | str, seed: int = 0) -> MultiTaskData:
    """The target domain: ``data`` with every split shifted (``shift`` as DomainShift or 'kind:amount')."""
    shift = parse_shift(shift, seed) if isinstance(shift, str) else shift
    return shift_domain(data, shift.kind, shift.amount, shift.seed)


def _subset(data: MultiTaskData, limit: int | None, seed: int) -> MultiTaskData:
    if limit is None or limit >= len(data.train):
        return data
    keep = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:limit]
    return replace(data, train=data.train.subset(keep))


def _metrics(system: nn.Module, target: MultiTaskData, source: MultiTaskData | None) -> dict[str, dict[str, float]]:
    out = {"target": evaluate(system, target.test, system.tasks)["metric"]}
    if source is not None:
        out["source"] = evaluate(system, source.test, system.tasks)["metric"]
    return out


def transfer(system: CoupledSystem, target: MultiTaskData, mode: str = "coupling",
             config: TransferConfig | TrainConfig | None = None, source: MultiTaskData | None = None, *,
             weighting: Weighting | None = None, callbacks: Sequence[Callback] = (),
             stop: threading.Event | None = None, progress: bool = False) -> TransferResult:
    """Adapt a copy of ``system`` to ``target``, training only the parts ``mode`` names.

    ``config``: a TransferConfig (default TransferConfig()) or a TrainConfig (its
    epochs, lr, ...; no step cap, all target examples). ``source``: the domain the
    system was trained on, measured before and after. The caller's system is not
    modified. ``stop`` ends adaptation early like in ``train``.
    """
    if mode not in TRANSFER_MODES:
        raise ValueError(f"unknown transfer mode {mode!r}; choose from {list(TRANSFER_MODES)}")
    config = config or TransferConfig()
    if isinstance(config, TransferConfig):
        train_config, max_steps, limit = config.train_config(), config.max_steps, config.limit
    elif isinstance(config, TrainConfig):
        train_config, max_steps, limit = config, None, None
    else:
        raise ValueError(f"config must be a TransferConfig or TrainConfig, got {type(config).__name__}")
    check_compatible(system, target)
    if source is not None:
        check_compatible(system, source)
    adapted = copy.deepcopy(system)
    trainable = trainable_parts(adapted, mode)
    ids = {id(p) for p in trainable}
    was = [(p, p.requires_grad) for p in adapted.parameters()]
    before = _metrics(system, target, source)
    # Our own event: the step cap halts training without setting the caller's ``stop``.
    halt = threading.Event()

    def check_halt(info) -> None:
        if (stop is not None and stop.is_set()) or (max_steps is not None and info.global_step >= max_steps):
            halt.set()

    cbs = list(callbacks) + [FunctionCallback(on_step=check_halt)]
    try:
        for p in adapted.parameters():
            p.requires_grad_(id(p) in ids)
        history = train(adapted, _subset(target, limit, train_config.seed), train_config, weighting=weighting,
                        callbacks=cbs, stop=halt, progress=progress)
        history.stopped = stop is not None and stop.is_set()   # a reached step cap is not a Stop
    finally:
        for p, flag in was:
            p.requires_grad_(flag)
    history.extra["transfer"] = {"mode": mode, "target": target.name,
                                 "source": source.name if source is not None else None,
                                 "config": config.to_dict(), "trainable_parameters": sum(p.numel() for p in trainable)}
    after = _metrics(adapted, target, source)
    history.extra["transfer"].update(before=before, after=after)
    return TransferResult(mode, adapted, history, sum(p.numel() for p in trainable), adapted.num_parameters(),
                          before, after)


def compare_transfer(system: CoupledSystem, target: MultiTaskData, modes: Sequence[str] = TRANSFER_MODES,
                     config: TransferConfig | TrainConfig | None = None, source: MultiTaskData | None = None, *,
                     skip_unavailable: bool = True, progress: bool = False) -> list[TransferResult]:
    """``transfer`` once per mode, all from the same trained system. With ``skip_unavailable``, 'coupling'
    is left out for strategies that have no coupling parameters instead of raising."""
    unknown = [m for m in modes if m not in TRANSFER_MODES]
    if unknown:
        raise ValueError(f"unknown transfer modes {unknown}; choose from {list(TRANSFER_MODES)}")
    results = []
    for mode in modes:
        if mode == "coupling" and skip_unavailable and not system.coupling_parameters():
            continue
        results.append(transfer(system, target, mode, config, source, progress=progress))
    return results


__all__ = ["TRANSFER_MODES", "TransferConfig", "TransferResult", "compare_transfer", "parse_shift", "shifted",
           "trainable_parts", "transfer"]
