"""Knowledge distillation (Hinton, Vinyals & Dean 2015, https://arxiv.org/abs/1503.02531).

A small student learns from a trained teacher's softened outputs:

    L = α · T² · KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - α) · CE(z_s, y)

T > 1 softens both distributions so the student sees how the teacher ranks the wrong classes;
T² keeps the gradient scale comparable across temperatures. The teacher may be a ``CoupledSystem``
(its output for ``task``) and the student a single small network (tensor output), or any pair.

    student, report = distill(build_model("mlp", hidden=(32,)), DistillConfig(task="digit"),
                              teacher=system, data=data)
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, measure, task_outputs
from ..data.base import MultiTaskData
from ..validation import _is_real, check_str, normalise_fields, show
from .fit import FitConfig, check_finetune, fit


@dataclass(frozen=True)
class DistillConfig:
    """``temperature`` T > 0, ``alpha`` in [0, 1] (weight of the teacher term), ``task``: which
    classification task to distil (None: the data's first task)."""

    temperature: float = 4.0
    alpha: float = 0.7
    task: str | None = None
    train: FitConfig = field(default_factory=lambda: FitConfig(epochs=30, lr=1e-3))

    def __post_init__(self) -> None:
        if not (_is_real(self.temperature) and math.isfinite(self.temperature) and 0 < self.temperature <= 100):
            raise ValueError(f"temperature must be > 0 and <= 100 (a finite number), got {show(self.temperature)}")
        if not (_is_real(self.alpha) and math.isfinite(self.alpha) and 0.0 <= self.alpha <= 1.0):
            raise ValueError(f"alpha must lie in [0, 1], got {show(self.alpha)}")
        if self.task is not None:
            check_str("task", self.task)
        check_finetune(self.train, "train", optional=False)
        normalise_fields(self, {"temperature": float(self.temperature), "alpha": float(self.alpha)})


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, target: Tensor, temperature: float,
            alpha: float) -> dict[str, Tensor]:
    """{"loss", "kd", "ce"}: the Hinton loss for logits (B, C) and labels (B,)."""
    T = temperature
    kd = F.kl_div(F.log_softmax(student_logits / T, -1), F.log_softmax(teacher_logits / T, -1),
                  reduction="batchmean", log_target=True) * T * T
    ce = F.cross_entropy(student_logits, target)
    return {"loss": alpha * kd + (1 - alpha) * ce, "kd": kd, "ce": ce}


@torch.no_grad()
def kl_to_teacher(student: nn.Module, teacher: nn.Module, x: Tensor, task: str, tasks,
                  temperature: float = 1.0) -> float:
    """Mean KL(teacher || student) of the softmax outputs at ``temperature`` on inputs ``x``."""
    student.eval(), teacher.eval()
    s = task_outputs(student(x), tasks)[task]
    t = task_outputs(teacher(x), tasks)[task]
    return float(F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1),
                          reduction="batchmean", log_target=True))


def _task(config: DistillConfig, data: MultiTaskData):
    name = config.task or data.tasks[0].name
    task = next((t for t in data.tasks if t.name == name), None)
    if task is None:
        raise ValueError(f"unknown task {name!r}; the data has {list(data.task_names)}")
    if task.kind != "classification":
        raise ValueError(f"distillation needs a classification task; {name!r} is {task.kind}")
    return task


def distill(student: nn.Module, config: DistillConfig, *, teacher: nn.Module, data: MultiTaskData,
            measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """Train a copy of ``student`` on ``teacher``'s soft outputs for one task; Report on that task."""
    task = _task(config, data)
    data1 = data.select_tasks([task.name])
    teacher = teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    trained = copy.deepcopy(student)
    kl_before = kl_to_teacher(trained, teacher, data.test.x, task.name, data.tasks)

    def loss(model, x, y):
        with torch.no_grad():
            t = task_outputs(teacher(x), data.tasks)[task.name]
        s = task_outputs(model(x), data1.tasks)[task.name]
        return kd_loss(s, t, y[task.name], config.temperature, config.alpha)

    try:
        fit(trained, data1, config.train, loss=loss)
    finally:
        for p in teacher.parameters():
            p.requires_grad_(True)
    kl_after = kl_to_teacher(trained, teacher, data.test.x, task.name, data.tasks)
    return trained, measure(trained, data1, f"distill:T={config.temperature:g}", measure_config,
                            extra={"kl_before": kl_before, "kl_after": kl_after})
