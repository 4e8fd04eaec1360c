"""Adversarial examples (FGSM, PGD), robust accuracy and adversarial training.

L-infinity attacks that *maximise the joint loss* sum_i L_i of all tasks:

* FGSM (Goodfellow et al. 2015, https://arxiv.org/abs/1412.6572): one step
  x' = x + a * sign(grad_x L), a = eps (or 1.25 eps from a random start, as in
  Wong et al. 2020's "fast" FGSM).
* PGD (Madry et al. 2018, https://arxiv.org/abs/1706.06083): ``steps`` such
  steps of size a (default 2.5 eps / steps), each projected back onto the
  eps-ball around x; optionally from a uniform random start in the ball.

``eps`` and the step size are in input units (digits are scaled to [0, 1], so
eps = 0.1 is a tenth of the pixel range). ``clamp`` keeps perturbed inputs in a
valid range ((0, 1) for images; None for unbounded inputs such as the synthetic
tasks); ``input_range(data)`` picks it from the data. With per-module inputs
(B, n, ...), ``modules`` chooses whose inputs are attacked: "all" or a tuple of
module indices (the others stay clean) — with one shared input only "all" makes
sense.

The attack runs the system in eval mode (dropout off) and never touches the
parameters' ``.grad``. ``robust_accuracy`` gives each task's metric (accuracy,
r2 or iou50 — whatever the task's metric is) on attacked inputs.
``AdversarialTraining(attack, ratio)`` passed to ``lab.train.train`` replaces
``ratio`` of every batch by adversarial examples made against the current model.
The experiment that trains several strategies the same way and tabulates clean vs
robust metrics (the test of "coupled modules defend each other") is
:func:`lab.compare.compare_robustness`; this module imports nothing above the
metrics, so the trainer can use ``AdversarialTraining`` without an import ring.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .data.base import MultiTaskData, Split
from .metrics import evaluate, task_loss
from .coupling.limits import MAX_MODULES
from .validation import _is_int, _is_real, check_bool, check_float, check_floats, check_ints, normalise_fields, show

MAX_EPS = 1e6          # attack radius / step size (input units)
MAX_STEPS = 10_000     # PGD steps
AttackKind = Literal["fgsm", "pgd"]
ATTACK_KINDS: tuple[str, ...] = ("fgsm", "pgd")


@dataclass(frozen=True)
class Attack:
    """An L-infinity attack: ``kind`` fgsm|pgd, radius ``eps`` >= 0, ``steps`` >= 1 (pgd only),
    ``step_size`` (None: eps for fgsm, 1.25 eps for fgsm from a random start, 2.5 eps / steps for pgd),
    ``random_start``, ``modules`` ("all" or module indices) and ``clamp`` ((lo, hi) or None)."""

    kind: AttackKind = "pgd"
    eps: float = 0.1
    step_size: float | None = None
    steps: int = 10
    random_start: bool = False
    modules: str | tuple[int, ...] = "all"
    clamp: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ATTACK_KINDS:
            raise ValueError(f"unknown attack {self.kind!r}; choose from {list(ATTACK_KINDS)}")
        if not (_is_real(self.eps) and math.isfinite(self.eps) and 0 <= self.eps <= MAX_EPS):
            raise ValueError(f"eps must be a finite number >= 0 (at most {MAX_EPS:g}), got {show(self.eps)}")
        if not _is_int(self.steps) or not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be an integer >= 1 (at most {MAX_STEPS}), got {show(self.steps)}")
        if self.step_size is not None:
            check_float("step_size", self.step_size, min=0.0, max=MAX_EPS, min_open=True)
        if not (isinstance(self.modules, str) and self.modules == "all"):
            if isinstance(self.modules, str) or not isinstance(self.modules, (tuple, list)):
                raise ValueError(f"modules must be 'all' or a tuple of module indices, got {show(self.modules)}")
            try:
                mods = check_ints("modules", self.modules, min=0, max=MAX_MODULES - 1)
            except ValueError:
                mods = ()
            if not mods or len(set(mods)) != len(mods):
                raise ValueError(f"modules must be distinct module indices >= 0 (at least one), got {show(self.modules)}")
            object.__setattr__(self, "modules", mods)
        if self.clamp is not None:
            try:
                clamp = check_floats("clamp", self.clamp, length=2)
            except ValueError:
                clamp = (0.0, 0.0)
            if not clamp[0] < clamp[1]:
                raise ValueError(f"clamp must be (lo, hi) of finite numbers with lo < hi, or None; got {show(self.clamp)}")
            object.__setattr__(self, "clamp", clamp)
        normalise_fields(self, {"eps": float(self.eps), "steps": int(self.steps),
                                "step_size": None if self.step_size is None else float(self.step_size),
                                "random_start": check_bool("random_start", self.random_start)})

    @property
    def num_steps(self) -> int:
        return 1 if self.kind == "fgsm" else self.steps

    @property
    def alpha(self) -> float:
        """The step size actually used."""
        if self.step_size is not None:
            return float(self.step_size)
        if self.kind == "fgsm":
            return 1.25 * self.eps if self.random_start else self.eps
        return 2.5 * self.eps / self.steps

    @property
    def label(self) -> str:
        parts = [f"eps={self.eps:g}"]
        if self.kind == "pgd":
            parts.append(f"steps={self.steps}")
        if self.random_start:
            parts.append("random start")
        if self.modules != "all":
            parts.append(f"modules={list(self.modules)}")
        return f"{self.kind}({', '.join(parts)})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["modules"] = self.modules if self.modules == "all" else list(self.modules)
        d["clamp"] = list(self.clamp) if self.clamp is not None else None
        return d


def input_range(data: MultiTaskData) -> tuple[float, float] | None:
    """(0, 1) when every training input lies in [0, 1] (images), else None (no clamping)."""
    x = data.train.x
    return (0.0, 1.0) if float(x.min()) >= 0.0 and float(x.max()) <= 1.0 else None


def _module_mask(system: nn.Module, x: Tensor, attack: Attack) -> Tensor | None:
    """A 0/1 mask broadcastable to x that selects the attacked modules' inputs (None = everything)."""
    if attack.modules == "all":
        return None
    num_inputs = getattr(system, "num_inputs", None)
    if num_inputs is None:
        raise ValueError(f"attack modules={list(attack.modules)} needs per-module inputs, but this system's "
                         "modules share one input; use modules='all'")
    bad = [m for m in attack.modules if m >= num_inputs]
    if bad:
        raise ValueError(f"attack modules {bad} do not exist: the system has {num_inputs} modules "
                         f"(0..{num_inputs - 1})")
    mask = torch.zeros((1, num_inputs) + (1,) * (x.dim() - 2), dtype=x.dtype, device=x.device)
    mask[:, list(attack.modules)] = 1.0
    return mask


def _joint_loss(system: nn.Module, x: Tensor, y: dict[str, Tensor]) -> Tensor:
    out = system(x)
    return sum(task_loss(t, out[t.name], y[t.name]) for t in system.tasks)


def perturb(system: nn.Module, x: Tensor, y: dict[str, Tensor], attack: Attack, seed: int = 0) -> Tensor:
    """Adversarial copy of ``x`` (same shape) within ``attack.eps`` in L-infinity of x.

    Maximises sum_i L_i(system(x'), y_i). ``seed`` fixes the random start. The
    system's train/eval mode and its parameters' gradients are left as they were.
    """
    mask = _module_mask(system, x, attack)
    x = x.detach()
    eps = attack.eps

    def project(x_adv: Tensor) -> Tensor:
        if attack.clamp is not None:
            x_adv = x_adv.clamp(*attack.clamp)
        delta = (x_adv - x).clamp(-eps, eps)
        if mask is not None:
            delta = delta * mask
        return x + delta

    if eps == 0:
        return x.clone()
    was_training = system.training
    system.eval()
    try:
        with torch.enable_grad():
            if attack.random_start:
                gen = torch.Generator().manual_seed(seed)
                start = (torch.rand(x.shape, generator=gen, dtype=torch.float32) * 2 - 1) * eps
                x_adv = project(x + start.to(device=x.device, dtype=x.dtype))
            else:
                x_adv = x.clone()
            for _ in range(attack.num_steps):
                x_adv.requires_grad_(True)
                (grad,) = torch.autograd.grad(_joint_loss(system, x_adv, y), x_adv)
                x_adv = project(x_adv.detach() + attack.alpha * grad.sign())
    finally:
        system.train(was_training)
    return x_adv.detach()


def _as_split(data_or_split: Split | MultiTaskData) -> Split:
    return data_or_split.test if isinstance(data_or_split, MultiTaskData) else data_or_split


def attack_split(system: nn.Module, split: Split | MultiTaskData, attack: Attack, batch_size: int = 256,
                 seed: int = 0) -> Split:
    """The split with every input replaced by its adversarial copy (a MultiTaskData means its test split)."""
    split = _as_split(split)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(system.parameters()).device
    parts = []
    for b, i in enumerate(range(0, len(split), batch_size)):
        xb = split.x[i:i + batch_size].to(device)
        yb = {k: v[i:i + batch_size].to(device) for k, v in split.y.items()}
        parts.append(perturb(system, xb, yb, attack, seed=seed + b).cpu())
    return Split(torch.cat(parts), dict(split.y))


def robust_evaluate(system: nn.Module, split: Split | MultiTaskData, attack: Attack, batch_size: int = 256,
                    seed: int = 0) -> dict[str, dict[str, float]]:
    """{"loss": {task: value}, "metric": {task: value}} on attacked inputs."""
    return evaluate(system, attack_split(system, split, attack, batch_size, seed), system.tasks)


def robust_accuracy(system: nn.Module, split: Split | MultiTaskData, attack: Attack, batch_size: int = 256,
                    seed: int = 0) -> dict[str, float]:
    """Each task's metric (accuracy / r2 / iou50) on inputs attacked with ``attack``."""
    return robust_evaluate(system, split, attack, batch_size, seed)["metric"]


@dataclass(frozen=True)
class AdversarialTraining:
    """Pass to ``train(..., adversarial=...)``: ``ratio`` of every batch (0..1) is replaced by
    adversarial examples (``attack`` against the model of that step); 1 = only adversarial examples."""

    attack: Attack
    ratio: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.attack, Attack):
            raise ValueError(f"attack must be an Attack, got {type(self.attack).__name__}")
        if not (_is_real(self.ratio) and math.isfinite(self.ratio) and 0.0 <= self.ratio <= 1.0):
            raise ValueError(f"ratio (share of adversarial examples per batch) must lie in [0, 1], "
                             f"got {show(self.ratio)}")
        object.__setattr__(self, "ratio", float(self.ratio))

    def mix(self, system: nn.Module, x: Tensor, y: dict[str, Tensor], seed: int = 0) -> Tensor:
        """The batch with its first round(ratio * B) examples made adversarial (batches arrive shuffled)."""
        m = int(round(self.ratio * len(x)))
        if m == 0:
            return x
        x = x.clone()
        x[:m] = perturb(system, x[:m], {k: v[:m] for k, v in y.items()}, self.attack, seed=seed)
        return x

    def to_dict(self) -> dict:
        return {"attack": self.attack.to_dict(), "ratio": self.ratio}


__all__ = ["ATTACK_KINDS", "AdversarialTraining", "Attack", "attack_split", "input_range", "perturb",
           "robust_accuracy", "robust_evaluate"]
