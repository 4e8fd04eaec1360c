"""Per-task losses and metrics, and evaluation of a system (or of any network) on a split.

Losses: cross-entropy for classification, mean squared error for regression.
Metrics (higher is better, in [0, 1] except r2 which can be negative):
``accuracy`` (fraction correct), ``r2`` (1 - SSE/SST over all outputs) and
``iou50`` (fraction of boxes (x0, y0, x1, y1) with IoU >= 0.5 to the target) and ``iou`` (mean IoU,
computed with ``torchvision.ops.box_iou``; its task is trained with ``box_loss``: L1 + generalized IoU).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data.base import Split, Task
from .validation import check_int


def task_loss(task: Task, output: Tensor, target: Tensor) -> Tensor:
    if task.kind == "classification":
        return F.cross_entropy(output, target)
    if task.metric == "iou":
        return box_loss(output, target)
    return F.mse_loss(output, target)


def ordered_boxes(boxes: Tensor) -> Tensor:
    """(N, 4) boxes with each pair of corners sorted (x0 <= x1, y0 <= y1), so any four numbers are a box."""
    x0, x1 = torch.minimum(boxes[:, 0], boxes[:, 2]), torch.maximum(boxes[:, 0], boxes[:, 2])
    y0, y1 = torch.minimum(boxes[:, 1], boxes[:, 3]), torch.maximum(boxes[:, 1], boxes[:, 3])
    return torch.stack([x0, y0, x1, y1], dim=1)


def box_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean L1 distance + mean generalized-IoU loss (``torchvision.ops.generalized_box_iou_loss``).

    ``pred`` and ``target`` (N, 4) as (x0, y0, x1, y1); ``pred``'s corners are sorted first
    (``ordered_boxes``), so an inverted prediction is scored as the box it spans. Targets have positive
    area, so the loss stays finite for any finite prediction.
    """
    from torchvision.ops import generalized_box_iou_loss

    return F.l1_loss(pred, target) + generalized_box_iou_loss(ordered_boxes(pred), target, reduction="mean", eps=1e-7)


def matched_box_iou(pred: Tensor, target: Tensor, chunk: int = 512) -> Tensor:
    """IoU (N,) of ``pred[i]`` with ``target[i]``: the diagonal of ``torchvision.ops.box_iou``, ``chunk`` rows at a
    time. ``pred``'s corners are sorted first (``ordered_boxes``); a prediction of zero area scores 0 against a
    target of positive area."""
    from torchvision.ops import box_iou as tv_box_iou

    pred = ordered_boxes(pred)
    parts = [tv_box_iou(pred[i:i + chunk], target[i:i + chunk]).diagonal() for i in range(0, len(pred), chunk)]
    return torch.cat(parts) if parts else pred.new_zeros(0)


def box_iou(pred: Tensor, target: Tensor) -> Tensor:
    """IoU (N,) of matching boxes ``pred[i]``, ``target[i]``, each (N, 4) as (x0, y0, x1, y1); in [0, 1].

    On well-formed boxes (x0 <= x1, y0 <= y1) with a non-empty union this is the diagonal of
    ``torchvision.ops.box_iou(pred, target)``. Deliberately different on degenerate boxes: an inverted
    box (x1 < x0 or y1 < y0) counts as empty (area 0) and an empty union gives IoU 0, where torchvision
    (which expects well-formed boxes) multiplies signed extents and gives NaN for an empty union —
    so a diverging box head never turns the metric into NaN (tests/test_metrics.py).
    """
    x0 = torch.maximum(pred[:, 0], target[:, 0])
    y0 = torch.maximum(pred[:, 1], target[:, 1])
    x1 = torch.minimum(pred[:, 2], target[:, 2])
    y1 = torch.minimum(pred[:, 3], target[:, 3])
    inter = (x1 - x0).clamp_min(0) * (y1 - y0).clamp_min(0)
    area = lambda b: (b[:, 2] - b[:, 0]).clamp_min(0) * (b[:, 3] - b[:, 1]).clamp_min(0)  # noqa: E731
    union = area(pred) + area(target) - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(union))


def task_metric(task: Task, output: Tensor, target: Tensor) -> float:
    if task.metric == "accuracy":
        return float((output.argmax(-1) == target).float().mean())
    if task.metric == "iou50":
        return float((box_iou(output, target) >= 0.5).float().mean())
    if task.metric == "iou":
        return float(matched_box_iou(output, target).mean())
    sse = ((output - target) ** 2).sum()
    sst = ((target - target.mean(0)) ** 2).sum()
    return float(1 - sse / sst) if sst > 0 else 0.0


def check_split(split: object, batch_size: object = 1) -> None:
    """ValueError unless ``split`` is a ``Split`` and ``batch_size`` an integer from 1 to 10**6."""
    if not isinstance(split, Split):
        raise ValueError(f"split must be a lab.data.Split (e.g. data.test), got {type(split).__name__}")
    check_int("batch_size", batch_size, min=1, max=1_000_000)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1024) -> dict[str, Tensor]:
    """Outputs of ``model`` on ``x`` in eval mode, concatenated over batches (mode restored after)."""
    was_training = model.training
    model.eval()
    try:
        parts = [model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def evaluate(model: nn.Module, split: Split, tasks: tuple[Task, ...], batch_size: int = 1024
             ) -> dict[str, dict[str, float]]:
    """{"loss": {task: value}, "metric": {task: value}} on a split (eval mode, no grad). A Split holds
    float32 inputs whatever it was built from (``lab.data.Split`` converts NumPy arrays and other dtypes)."""
    check_split(split, batch_size)
    out = predict(model, split.x, batch_size)
    return {"loss": {t.name: float(task_loss(t, out[t.name], split.y[t.name])) for t in tasks},
            "metric": {t.name: task_metric(t, out[t.name], split.y[t.name]) for t in tasks}}


def task_outputs(out: Tensor | dict[str, Tensor], tasks: Sequence[Task]) -> dict[str, Tensor]:
    """A model's output as {task: tensor}: a plain tensor belongs to the only (or first) task."""
    if isinstance(out, dict):
        return out
    if isinstance(out, (tuple, list)):
        return {t.name: o for t, o in zip(tasks, out)}
    return {tasks[0].name: out}


def evaluate_model(model: nn.Module | Callable, split: Split, tasks: Sequence[Task], batch_size: int = 1024
                   ) -> dict[str, float]:
    """Test metric per task of a single network (tensor output) or a CoupledSystem (dict output)."""
    check_split(split, batch_size)
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            parts = [task_outputs(model(split.x[i:i + batch_size]), tasks) for i in range(0, len(split), batch_size)]
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return {t.name: task_metric(t, out[t.name], split.y[t.name]) for t in tasks if t.name in out}
