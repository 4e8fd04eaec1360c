"""Train any network on a dataset's tasks: reference models, fine-tuning, QAT, distillation.

``lab.train.train`` trains a ``CoupledSystem`` with its W bookkeeping; compression needs a plainer
loop that also takes single-task networks (tensor output) and custom losses. Seeding follows
``lab.train``: a generator seeded with ``config.seed`` for the batch order and one for dropout
(``lab.seeding.seeded_training``), never the global RNG — the same seed gives the same weights, also
when other threads train at the same time.

    model = build_model("mlp")
    fit(model, data, FitConfig(epochs=30, lr=1e-3, seed=0))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import Tensor, nn

from ..cost import task_outputs
from ..data.base import MultiTaskData
from ..divergence import DIVERGENCE_FACTOR
from ..metrics import task_loss
from ..seeding import generator, seeded_training
from ..validation import check_optimiser_settings, check_seed, normalise_fields, show

# loss(model, x, y) -> {"loss": total, ...parts}; the default sums the task losses
LossFn = Callable[[nn.Module, Tensor, dict[str, Tensor]], dict[str, Tensor]]


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings for ``fit`` (Adam or SGD with momentum 0.9).

    Allowed: epochs 0..100000 (0 = no training), batch_size 1..1000000, lr in (0, 1e6],
    optimizer adam|sgd, weight_decay in [0, 1], seed 0..2**31-1 (``lab.validation``)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: Literal["adam", "sgd"] = "adam"
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_optimiser_settings(self.epochs, self.batch_size, self.lr, self.optimizer, self.weight_decay,
                                 min_epochs=0)
        normalise_fields(self, {"epochs": int(self.epochs), "batch_size": int(self.batch_size), "lr": float(self.lr),
                                "weight_decay": float(self.weight_decay), "seed": check_seed(self.seed)})


def check_finetune(finetune: object, name: str = "finetune", optional: bool = True) -> None:
    """ValueError unless ``finetune`` is a FitConfig (or None when ``optional``)."""
    if not (isinstance(finetune, FitConfig) or (optional and finetune is None)):
        raise ValueError(f"{name} must be a FitConfig{' or None' if optional else ''}, got {show(finetune)}")


def task_losses(model: nn.Module, x: Tensor, y: dict[str, Tensor], data: MultiTaskData) -> dict[str, Tensor]:
    """{"loss": sum over tasks, task: loss} for the tasks the model predicts."""
    out = task_outputs(model(x), data.tasks)
    parts = {t.name: task_loss(t, out[t.name], y[t.name]) for t in data.tasks if t.name in out}
    if not parts:
        raise ValueError(f"the model predicts none of the data's tasks {list(data.task_names)}")
    return {"loss": sum(parts.values()), **parts}


def fit(model: nn.Module, data: MultiTaskData, config: FitConfig = FitConfig(), *,
        loss: LossFn | None = None, params: list[nn.Parameter] | None = None,
        after_step: Callable[[nn.Module], None] | None = None) -> list[float]:
    """Train ``model`` in place on ``data.train``; returns the mean loss of every epoch.

    ``params``: what the optimiser updates (default: every parameter that requires grad).
    ``after_step(model)`` runs after every optimiser step (e.g. to re-apply a constraint).
    """
    loss_fn = loss or (lambda m, xb, yb: task_losses(m, xb, yb, data))
    x, y = data.train.x, data.train.y
    n = len(x)
    curve: list[float] = []
    if config.epochs == 0:
        return curve
    with seeded_training(model, config.seed):
        gen = generator(config.seed)
        trainable = params if params is not None else [p for p in model.parameters() if p.requires_grad]
        if config.optimizer == "adam":
            opt = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
        else:
            opt = torch.optim.SGD(trainable, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
        model.train()
        initial: float | None = None
        for epoch in range(1, config.epochs + 1):
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, config.batch_size):
                idx = perm[i:i + config.batch_size]
                opt.zero_grad(set_to_none=True)
                value = loss_fn(model, x[idx], {k: v[idx] for k, v in y.items()})["loss"]
                if not torch.isfinite(value):
                    raise ValueError(f"non-finite loss {value.item()} while fitting (epoch {epoch}); "
                                     "lower the learning rate")
                if initial is None:
                    initial = float(value.detach())
                value.backward()
                opt.step()
                if after_step is not None:
                    after_step(model)
                total += value.item() * len(idx)
            curve.append(total / n)
            if curve[-1] > DIVERGENCE_FACTOR * max(initial, 1.0) or not all(
                    torch.isfinite(p).all() for p in trainable if p.is_floating_point()):
                raise ValueError(f"fitting diverged at epoch {epoch}: mean loss {curve[-1]:.3g} from {initial:.3g} "
                                 "at the first step, or weights became NaN/inf; lower the learning rate")
    model.eval()
    return curve
