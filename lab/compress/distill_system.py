"""Distil a whole coupled system into one small multi-head student (every task at once).

The student is an MLP trunk over the flattened input (all modules' inputs together when every
module has its own) with one linear head per task; it returns ``{task: output}`` like the system,
so it is measured, exported (one ONNX output per task) and tabulated the same way. The loss sums,
over tasks, :func:`lab.compress.distill.kd_loss` (Hinton: α·T²·KL of softened outputs + (1-α)·CE)
for classification and α·MSE(student, teacher) + (1-α)·MSE(student, target) for regression.

    student, report = distill_system(system, SystemDistillConfig(hidden=(64,)), data=data)
    report.metrics       # test metric per task of the student
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, evaluate_model, measure, task_outputs
from ..data.base import MultiTaskData, Task
from .distill import kd_loss
from .fit import FitConfig, fit


class MultiHeadStudent(nn.Module):
    """Flatten -> [Linear -> ReLU] per hidden width -> one Linear head per task; output {task: (B, out)}."""

    def __init__(self, tasks: tuple[Task, ...], input_shape: tuple[int, ...], num_inputs: int | None = None,
                 hidden: tuple[int, ...] = (64,), seed: int = 0):
        super().__init__()
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden widths must be positive integers, e.g. (64,) or (64, 32); got {hidden}")
        self.tasks, self.input_shape, self.num_inputs = tuple(tasks), tuple(input_shape), num_inputs
        self.hidden = tuple(int(h) for h in hidden)
        features = math.prod(input_shape) * (num_inputs or 1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = [nn.Flatten()]
            for width in self.hidden:
                layers += [nn.Linear(features, width), nn.ReLU()]
                features = width
            self.trunk = nn.Sequential(*layers)
            self.heads = nn.ModuleDict({t.name: nn.Linear(features, t.num_outputs) for t in self.tasks})

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.trunk(x)
        return {name: head(h) for name, head in self.heads.items()}

    def architecture(self) -> dict[str, Any]:
        return {"student": list(self.hidden), "tasks": [t.as_dict() for t in self.tasks],
                "input_shape": list(self.input_shape), "num_inputs": self.num_inputs}


@dataclass(frozen=True)
class SystemDistillConfig:
    """Student ``hidden`` widths, ``temperature`` T > 0, ``alpha`` in [0, 1] (teacher share), training."""

    hidden: tuple[int, ...] = (64,)
    temperature: float = 4.0
    alpha: float = 0.7
    train: FitConfig = field(default_factory=lambda: FitConfig(epochs=30, lr=1e-3))
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be positive integers, e.g. (64,); got {self.hidden}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {self.temperature!r}")
        if not (isinstance(self.alpha, (int, float)) and 0.0 <= self.alpha <= 1.0):
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha!r}")

    def describe(self) -> str:
        return f"student:{'x'.join(map(str, self.hidden))}"


def system_kd_loss(student_out: dict[str, Tensor], teacher_out: dict[str, Tensor], y: dict[str, Tensor],
                   tasks: tuple[Task, ...], temperature: float, alpha: float) -> dict[str, Tensor]:
    """{"loss": sum over tasks, task: that task's distillation loss}."""
    parts = {}
    for t in tasks:
        s, te = student_out[t.name], teacher_out[t.name]
        if t.kind == "classification":
            parts[t.name] = kd_loss(s, te, y[t.name], temperature, alpha)["loss"]
        else:
            parts[t.name] = alpha * F.mse_loss(s, te) + (1 - alpha) * F.mse_loss(s, y[t.name])
    return {"loss": sum(parts.values()), **parts}


def distill_system(teacher: nn.Module, config: SystemDistillConfig, *, data: MultiTaskData,
                   measure_config: MeasureConfig = MeasureConfig()) -> tuple[MultiHeadStudent, Report]:
    """Train a new multi-head student on ``teacher``'s outputs for every task of ``data``; its Report
    (``extra``: the teacher's test metric per task)."""
    probe = task_outputs(teacher(data.val.x[:2]), data.tasks)
    missing = [t.name for t in data.tasks if t.name not in probe]
    if missing:
        raise ValueError(f"the teacher does not predict tasks {missing}; a multi-head student learns every task")
    student = MultiHeadStudent(data.tasks, data.input_shape, data.num_inputs, config.hidden, config.seed)
    teacher = copy.deepcopy(teacher).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss(model, x, y):
        with torch.no_grad():
            t = task_outputs(teacher(x), data.tasks)
        return system_kd_loss(model(x), t, y, data.tasks, config.temperature, config.alpha)

    fit(student, data, config.train, loss=loss)
    teacher_metrics = evaluate_model(teacher, data.test, data.tasks)
    return student, measure(student.eval(), data, config.describe(), measure_config,
                            extra={"teacher_metrics": teacher_metrics})
