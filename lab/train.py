"""Joint training of a coupled system: ``train(system, data, config) -> History``.

Joint loss sum_i lambda_i L_i (the weighting decides lambda; fixed by default),
Adam or SGD, weight decay, seeded and deterministic: the same seed on the same
system gives the same history. After every epoch the validation metrics and
every stage's W are recorded (attention: the mean W(x) over the validation split,
``system.coupling_matrices(data.val)``); the run's facts - steps per epoch,
weighting and its options, data name and info, adversarial settings - go into
the History's typed fields. Callbacks see every step and epoch; a stop flag
(``threading.Event``) ends training cleanly after the current step, and the
partial epoch is still evaluated and recorded. A NaN/inf loss raises
``NonFiniteLossError`` naming the epoch and step; a loss that explodes (or NaN/inf
parameters, W or metrics at the end of an epoch) raises ``DivergenceError`` naming the
epoch (see ``lab.divergence``). Their ``.history`` (and the ``history`` passed in, if
any) keeps everything recorded so far.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Callable, Literal

import torch
from torch import nn
from tqdm.std import tqdm   # text on stderr: tqdm.auto's notebook widget is closed after training and a saved
                            # notebook then shows "Error displaying widget: model not found" where it was

from .coupling.sparsity import check_penalty, coupling_penalty
from .coupling.system import CoupledSystem
from .divergence import DIVERGENCE_FACTOR, DivergenceError, NonFiniteLossError, check_epoch
from .data.base import MultiTaskData
from .history import History
from .seeding import generator, seeded_training
from .validation import (check_bool, check_device, check_float, check_floats, check_optimiser_settings, check_seed,
                         normalise_fields)
from .metrics import evaluate, task_loss, task_metric
from .train_schedule import BestEpoch, check_lr_schedule, make_lr_scheduler
from .weighting import Fixed, Weighting

if TYPE_CHECKING:  # lab.adversarial imports this module; only the type is needed here
    from .adversarial import AdversarialTraining


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. ``task_weights`` are the fixed lambdas (one per task,
    None = all 1) used when no weighting object is passed. ``coupling_lr_scale``
    multiplies the learning rate of the coupling parameters (W), as cross-stitch
    training often uses a larger rate for them.

    Allowed (checked on creation, ValueError naming the field otherwise; see ``lab.validation``):
    epochs 1..100000, batch_size 1..1000000, lr in (0, 1e6], optimizer adam|sgd, momentum in [0, 1),
    weight_decay in [0, 1], task_weights finite >= 0 (at most 1e6 each), coupling_lr_scale in (0, 1000],
    seed 0..2**31-1, device "cpu" or an available CUDA device. NumPy numbers are accepted.
    ``sparse_coupling`` > 0 adds that times the ``sparse_coupling_kind`` penalty ("l1" or "group",
    ``lab.coupling.sparsity``) on W's off-diagonal to the loss, so the coupling learns to be sparse
    (cross-stitch only); its value per epoch is recorded in ``History.extra["coupling_penalty"]``.
    ``lr_schedule``: "none" (constant lr), "cosine" or "step" (lr times ``lr_gamma`` in (0, 1] every
    ``lr_step_epochs`` epochs, default a third of the run), stepped after every epoch; the lr of every
    epoch is recorded in ``History.epoch_lr`` (see ``lab.train_schedule``). ``restore_best``: at the
    end of training, load the weights of the epoch with the best mean validation metric (ties: lower
    validation loss, then earlier); ``History.restored_epoch`` names it."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    task_weights: tuple[float, ...] | None = None
    coupling_lr_scale: float = 1.0
    seed: int = 0
    device: str = "cpu"
    sparse_coupling: float = 0.0
    sparse_coupling_kind: str = "l1"
    lr_schedule: str = "none"
    lr_step_epochs: int | None = None
    lr_gamma: float = 0.1
    restore_best: bool = False

    def __post_init__(self) -> None:
        check_optimiser_settings(self.epochs, self.batch_size, self.lr, self.optimizer, self.weight_decay)
        normalise_fields(self, {
            "epochs": int(self.epochs), "batch_size": int(self.batch_size), "lr": float(self.lr),
            "weight_decay": float(self.weight_decay),
            "momentum": check_float("momentum", self.momentum, min=0.0, max=1.0, max_open=True),
            "coupling_lr_scale": check_float("coupling_lr_scale", self.coupling_lr_scale, min=0.0, max=1000.0,
                                             min_open=True),
            "task_weights": None if self.task_weights is None else check_floats(
                "task_weights", self.task_weights, min=0.0, max=1e6, max_len=64),
            "seed": check_seed(self.seed),
            "device": check_device(self.device)})
        check_penalty(self.sparse_coupling_kind, self.sparse_coupling)
        schedule, step_epochs, gamma = check_lr_schedule(self.lr_schedule, self.lr_step_epochs, self.lr_gamma)
        normalise_fields(self, {"lr_schedule": schedule, "lr_step_epochs": step_epochs, "lr_gamma": gamma,
                                "restore_best": check_bool("restore_best", self.restore_best)})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["task_weights"] = list(self.task_weights) if self.task_weights is not None else None
        return d


@dataclass
class StepInfo:
    """What a step-end callback receives."""

    epoch: int                 # 1-based
    step: int                  # 1-based within the epoch
    steps_per_epoch: int
    global_step: int
    losses: dict[str, float]   # per task
    loss: float                # joint loss
    weights: dict[str, float] = field(default_factory=dict)


class Callback:
    """Hooks for progress displays, live plots and checkpointing (all optional)."""

    def on_train_start(self, system: nn.Module, history: History) -> None: ...
    def on_step_end(self, info: StepInfo) -> None: ...
    def on_epoch_end(self, system: nn.Module, history: History) -> None: ...
    def on_train_end(self, system: nn.Module, history: History) -> None: ...


class FunctionCallback(Callback):
    """Wrap plain functions: ``FunctionCallback(on_step=f, on_epoch=g)``."""

    def __init__(self, on_step: Callable[[StepInfo], None] | None = None,
                 on_epoch: Callable[[nn.Module, History], None] | None = None):
        self._on_step, self._on_epoch = on_step, on_epoch

    def on_step_end(self, info):
        if self._on_step:
            self._on_step(info)

    def on_epoch_end(self, system, history):
        if self._on_epoch:
            self._on_epoch(system, history)


def check_compatible(system: CoupledSystem, data: MultiTaskData) -> None:
    """Raise ValueError when the data's tasks or inputs do not match the system's heads."""
    if tuple(t.as_dict() for t in data.tasks) != tuple(t.as_dict() for t in system.tasks):
        raise ValueError(f"the data's tasks {[t.as_dict() for t in data.tasks]} do not match the system's heads "
                         f"{[t.as_dict() for t in system.tasks]}")
    if tuple(data.input_shape) != system.input_shape or data.num_inputs != system.num_inputs:
        raise ValueError(f"the data's inputs {data.input_shape} (per-module: {data.num_inputs}) do not fit the "
                         f"system's {system.input_shape} (per-module: {system.num_inputs})")


def make_optimizer(system: nn.Module, config: TrainConfig, extra: list[nn.Parameter]) -> torch.optim.Optimizer:
    coupling = list(system.coupling_parameters()) if hasattr(system, "coupling_parameters") else []
    coupling_ids = {id(p) for p in coupling}
    rest = [p for p in system.parameters() if id(p) not in coupling_ids and p.requires_grad]
    groups = [{"params": rest}]
    trainable_coupling = [p for p in coupling if p.requires_grad]
    if trainable_coupling:
        groups.append({"params": trainable_coupling, "lr": config.lr * config.coupling_lr_scale})
    if extra:
        groups.append({"params": extra, "weight_decay": 0.0})
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def train(system: CoupledSystem, data: MultiTaskData, config: TrainConfig | None = None, *,
          weighting: Weighting | None = None, callbacks: list[Callback] | tuple[Callback, ...] = (),
          stop: threading.Event | None = None, history: History | None = None,
          progress: bool = True, adversarial: "AdversarialTraining | None" = None) -> History:
    """Train ``system`` in place on ``data.train``, evaluating on ``data.val`` after every epoch.

    ``weighting`` turns the per-task losses into one update (default: fixed
    lambdas from ``config.task_weights``). ``adversarial``
    (``lab.adversarial.AdversarialTraining``) replaces a share of every batch by
    adversarial examples made against the current model; the recorded training
    losses and metrics are then those of the mixed batches.
    Returns the History (the ``history`` passed in, filled, if one was given).
    """
    config = config or TrainConfig()
    check_compatible(system, data)
    tasks = system.tasks
    names = system.task_names
    device = torch.device(config.device)
    system.to(device)
    weighting = weighting or Fixed(config.task_weights)
    weighting.setup(names, system)
    history = history if history is not None else History(task_names=list(names))
    x_train = data.train.x.to(device)
    y_train = {k: v.to(device) for k, v in data.train.y.items()}
    val = data.val
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    _record_facts(history, system, data, config, weighting, adversarial, steps_per_epoch)
    if config.sparse_coupling > 0:
        coupling_penalty(system, config.sparse_coupling_kind)       # a clear error now for a coupling without edges

    with seeded_training(system, config.seed):      # dropout draws from the seed, never the global RNG
        gen = generator(config.seed)
        optimizer = make_optimizer(system, config, weighting.parameters())
        scheduler = make_lr_scheduler(optimizer, config.lr_schedule, config.epochs, config.lr_step_epochs,
                                      config.lr_gamma)
        best = BestEpoch() if config.restore_best else None
        history.W_init = [W.tolist() for W in system.coupling_matrices(val)]
        for cb in callbacks:
            cb.on_train_start(system, history)
        global_step = 0
        initial: dict[str, float] = {}
        bar = tqdm(range(1, config.epochs + 1), desc=f"train {system.strategy}", disable=not progress, leave=False)
        for epoch in bar:
            t0 = time.perf_counter()
            system.train()
            sums = {t: 0.0 for t in names}
            correct = {t: 0.0 for t in names}
            seen = 0
            weights: dict[str, float] = {}
            perm = torch.randperm(n, generator=gen)
            epoch_lr = float(optimizer.param_groups[0]["lr"])
            for step in range(1, steps_per_epoch + 1):
                idx = perm[(step - 1) * config.batch_size: step * config.batch_size].to(device)
                xb, yb = x_train[idx], {k: v[idx] for k, v in y_train.items()}
                if adversarial is not None:
                    xb = adversarial.mix(system, xb, yb, seed=config.seed * 1_000_003 + global_step)
                optimizer.zero_grad(set_to_none=True)
                out = system(xb)
                losses = {t.name: task_loss(t, out[t.name], yb[t.name]) for t in tasks}
                if not initial:      # the untrained model's losses: the yardstick for divergence
                    initial = {t: float(v.detach()) for t, v in losses.items()}
                bad = [t for t, v in losses.items() if not torch.isfinite(v)]
                if bad:
                    history.error = (f"non-finite loss at epoch {epoch}, step {step}: "
                                     + ", ".join(f"{t}={losses[t].item()}" for t in bad))
                    bar.close()
                    raise NonFiniteLossError(history.error + " (lower the learning rate or check the data); "
                                             f"the history keeps the {history.num_epochs} finished epochs",
                                             history)
                weights = weighting.backward(losses, system)
                if config.sparse_coupling > 0:
                    (config.sparse_coupling * coupling_penalty(system, config.sparse_coupling_kind)).backward()
                optimizer.step()
                global_step += 1
                b = len(idx)
                seen += b
                with torch.no_grad():
                    for t in tasks:
                        sums[t.name] += losses[t.name].item() * b
                        correct[t.name] += task_metric(t, out[t.name].detach(), yb[t.name]) * b
                joint = weighting.joint_loss(losses, weights)
                history.step_loss.append(joint)
                info = StepInfo(epoch, step, steps_per_epoch, global_step,
                                {t: v.item() for t, v in losses.items()}, joint, weights)
                for cb in callbacks:
                    cb.on_step_end(info)
                if stop is not None and stop.is_set():
                    history.stopped = True
                    break
            train_loss = {t: sums[t] / seen for t in names}
            train_loss["total"] = sum(weights.get(t, 1.0) * train_loss[t] for t in names)
            weighting.on_epoch_end(epoch, {t: train_loss[t] for t in names})
            val_result = evaluate(system, val, tasks)
            train_metric, matrices = {t: correct[t] / seen for t in names}, system.coupling_matrices(val)
            try:
                check_epoch(epoch, system, history, initial, train_loss, train_metric, val_result, weights, matrices)
            except DivergenceError:
                bar.close()
                raise
            history.record_epoch(epoch, train_loss, train_metric, val_result, weights, matrices,
                                 time.perf_counter() - t0)
            history.epoch_lr.append(epoch_lr)
            if best is not None:
                best.update(epoch, system, val_result)
            if scheduler is not None:
                scheduler.step()
            if config.sparse_coupling > 0:
                with torch.no_grad():
                    value = float(coupling_penalty(system, config.sparse_coupling_kind))
                history.extra.setdefault("coupling_penalty", []).append(value)
            bar.set_postfix(loss=f"{train_loss['total']:.3f}")
            for cb in callbacks:
                cb.on_epoch_end(system, history)
            if history.stopped:
                break
        bar.close()
        if best is not None:
            history.restored_epoch = best.restore(system)
    system.eval()
    for cb in callbacks:
        cb.on_train_end(system, history)
    return history


def _json_safe(info: dict) -> dict:
    """The data's info entries that JSON can hold (seed, limit, structure, shift, ...)."""
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool, type(None)))}


def _record_facts(history: History, system: CoupledSystem, data: MultiTaskData, config: TrainConfig,
                  weighting: Weighting, adversarial: "AdversarialTraining | None", steps_per_epoch: int) -> None:
    """What the run is, in the History's typed fields (and the ``config`` record saved with it)."""
    history.task_names, history.strategy = list(system.task_names), system.strategy
    history.steps_per_epoch = steps_per_epoch
    history.weighting, history.weighting_options = weighting.name, dict(weighting.options)
    history.data_name, history.data_info = data.name, _json_safe(data.info)
    history.adversarial = adversarial.to_dict() if adversarial is not None else None
    history.config = {"train": config.to_dict(), "system": system.architecture(), "weighting": weighting.name,
                      "data": data.name, "data_info": dict(history.data_info)}
    if adversarial is not None:
        history.config["adversarial"] = history.adversarial
    if data.W_true is not None:
        history.W_true = data.W_true.tolist()
