"""Exercises of notebooks 07 (detection pipeline) and 08 (weighting arena): the detection score from boxes and
classes (07.1), a detection-score target on the learner's DetectionPanel (07.2), and Delta m % from per-task
metrics (08.1) - each checked against the lab's own implementation (``lab.detection.detection_metrics``,
``lab.benchmarks.delta_m``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import figures
from .checker import FunctionCheck, Mistake
from .result import CheckResult, LearnerError, as_tensor, failed, passed


def _scalar(out, exp) -> torch.Tensor:
    """One number (a float, a 0-d or 1-element tensor/array) as a 0-d float64 tensor; LearnerError otherwise."""
    if isinstance(out, torch.Tensor):
        out = out.detach().double().numpy()
    if isinstance(out, np.ndarray) and out.size == 1:
        out = out.reshape(-1)[0]
    if isinstance(out, bool) or not isinstance(out, (int, float, np.integer, np.floating)):
        raise LearnerError(f"your function should return one number, got {type(out).__name__}"
                           + (f" of shape {tuple(out.shape)}" if hasattr(out, "shape") else ""))
    return as_tensor(out, (), "your result")


# --- 07.1 the detection score ------------------------------------------------------------------------
def _box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """A box given in pixels of a 32 x 32 canvas, as the lab writes boxes: fractions of the canvas."""
    return [x0 / 32, y0 / 32, x1 / 32, y1 / 32]


def _logits(classes: list[int], n_classes: int = 10) -> torch.Tensor:
    """Logits whose argmax is ``classes`` (and whose largest value is not the class number)."""
    z = torch.linspace(-1.0, 1.0, n_classes).repeat(len(classes), 1).roll(3, dims=1)
    for k, c in enumerate(classes):
        z[k, c] = 5.0 + 0.1 * k
    return z


# 10 canvases: target 10 x 10 px at (4, 4); predictions chosen for IoU 0.9, 0.5 (exactly), 0.3 (a box that holds
# the target), 0.8, 0.6, 0.2, 0.4, 0.55, 1.0, 0.7 - and the predicted class right or wrong
_TARGET = torch.tensor([_box(4, 4, 14, 14)] * 10)
_PRED = torch.tensor([_box(4, 4, 14, 13), _box(4, 4, 14, 9), _box(4, 4, 14, 4 + 100 / 3),
                      _box(4, 4, 14, 12), _box(4, 4, 14, 10), _box(4, 4, 14, 6), _box(4, 4, 14, 8),
                      _box(4, 4, 14, 9.5), _box(4, 4, 14, 14), _box(4, 4, 14, 11)])
_TRUE = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
_RIGHT = [True, True, True, False, True, True, False, True, False, False]
_LABELS = torch.tensor(_TRUE)
_PRED_CLASS = [t if r else (t + 1) % 10 for t, r in zip(_TRUE, _RIGHT)]
# a second, irregular case: 24 seeded boxes of every size on a 32 x 32 canvas
_g = torch.Generator().manual_seed(7)
_XY = torch.rand(24, 2, generator=_g) * 16
_TARGET2 = torch.cat([_XY, _XY + 6 + torch.rand(24, 2, generator=_g) * 10], 1) / 32
_PRED2 = _TARGET2 + (torch.rand(24, 4, generator=_g) - 0.5) / 4
_LABELS2 = torch.randint(0, 10, (24,), generator=_g)
_CLASS2 = torch.where(torch.rand(24, generator=_g) < 0.6, _LABELS2, (_LABELS2 + 3) % 10)


def _iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from ..metrics import matched_box_iou

    return matched_box_iou(pred.float(), target.float()).double()


def _inter_over_target(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from torchvision.ops import box_area

    w = (torch.minimum(pred[:, 2], target[:, 2]) - torch.maximum(pred[:, 0], target[:, 0])).clamp(min=0)
    h = (torch.minimum(pred[:, 3], target[:, 3]) - torch.maximum(pred[:, 1], target[:, 1])).clamp(min=0)
    return (w * h / box_area(target)).double()


def _score_reference(logits, boxes, labels, target_boxes):
    from ..detection import detection_metrics

    got = detection_metrics({"digit": logits, "box": boxes}, {"digit": labels, "box": target_boxes})
    return torch.tensor(got["detection"], dtype=torch.float64)


def _score_variant(logits, boxes, labels, target_boxes, *, iou=_iou, threshold=0.5, strict=False, combine="and"):
    right = logits.argmax(-1) == labels
    overlap = iou(boxes, target_boxes)
    located = overlap > threshold if strict else overlap >= threshold - 1e-9
    hit = {"and": right & located, "or": right | located, "class": right, "box": located}[combine]
    return hit.double().mean()


DETECTION_SCORE = FunctionCheck(
    exercise="07.1", what="detection score",
    cases=[(_logits(_PRED_CLASS), _PRED, _LABELS, _TARGET), (_logits(_CLASS2.tolist()), _PRED2, _LABELS2, _TARGET2)],
    reference=_score_reference, normalise=_scalar,
    mistakes=[
        Mistake("class only", lambda *c: _score_variant(*c, combine="class"),
                "you scored the class alone (that is class accuracy): a detection also needs the box in the right "
                "place"),
        Mistake("box only", lambda *c: _score_variant(*c, combine="box"),
                "you scored the box alone (the fraction at IoU >= 0.5): a detection also needs the right class"),
        Mistake("either", lambda *c: _score_variant(*c, combine="or"),
                "you counted a canvas when the class *or* the box is right; a detection needs both at once"),
        Mistake("strict", lambda *c: _score_variant(*c, strict=True),
                "a box with IoU exactly 0.5 counts as found (IoU >= 0.5, not > 0.5)"),
        Mistake("iou 0.75", lambda *c: _score_variant(*c, threshold=0.75),
                "the detection score uses the IoU >= 0.5 threshold (0.75 is the stricter box metric)"),
        Mistake("intersection over target", lambda *c: _score_variant(*c, iou=_inter_over_target),
                "your overlap is the intersection divided by the target's area; IoU divides by the area of the "
                "*union*, so a huge box that holds the target does not score 1"),
    ],
    generic_hint="per canvas: the predicted class is the argmax of the logits; the box counts when its IoU "
                 "(intersection / union) with the target is at least 0.5; the score is the fraction of canvases "
                 "where both hold",
    figure=lambda case, got, exp: figures.bars(["detection score"], got, exp, "class right and IoU >= 0.5",
                                               "fraction of canvases"),
    describe=lambda case: f"{len(case[2])} canvases",
)


# --- 07.2 a detection-score target on the panel ------------------------------------------------------
def detection_target(panel: Any, goal: float = 0.85) -> CheckResult:
    """A run of ``panel`` (a DetectionPanel: ``rows``, one dict per run) with detection score >= ``goal``."""
    ex = "07.2"
    rows = getattr(panel, "rows", None)
    if not isinstance(rows, list):
        return failed(ex, f"expected the detection panel, got {type(panel).__name__}", "pass `panel`")
    if not rows:
        return failed(ex, "the panel has no run yet", "press Train in the panel first")
    best = max(rows, key=lambda r: r["detection"])
    score = 100 * best["detection"]
    if best["detection"] >= goal:
        return passed(ex, f"{best['run']} reached a detection score of {score:.1f} % (>= {100 * goal:.0f} %)")
    return failed(ex, f"your best run so far, {best['run']}, reaches {score:.1f} % (goal {100 * goal:.0f} %) "
                      f"over {len(rows)} run(s)",
                  "read the table: which coupling names the digit? Then think about what a large lambda does to "
                  "the proposal that coupling relies on (section 3), and train longer than the default")


# --- 08.1 Delta m % ----------------------------------------------------------------------------------
_M1, _B1 = {"t0": 0.80, "t1": 0.55, "t2": 0.90}, {"t0": 0.75, "t1": 0.60, "t2": 0.90}
_M2, _B2 = {"a": 0.30, "b": -0.20, "c": 0.64, "d": 0.91}, {"a": 0.40, "b": -0.50, "c": 0.50, "d": 0.92}


def _delta_m_reference(metrics, baseline):
    from ..benchmarks.delta_m import delta_m

    return torch.tensor(delta_m(metrics, baseline), dtype=torch.float64)


def _dm_variant(metrics, baseline, *, abs_base=True, percent=True, mean=True, over="baseline", sign=1.0):
    terms = []
    for t in metrics:
        denom = baseline[t] if over == "baseline" else metrics[t]
        terms.append(sign * (metrics[t] - baseline[t]) / (abs(denom) if abs_base else denom))
    total = sum(terms) / (len(terms) if mean else 1)
    return torch.tensor(100 * total if percent else total, dtype=torch.float64)


DELTA_M = FunctionCheck(
    exercise="08.1", what="Delta m %",
    cases=[(_M1, _B1), (_M2, _B2), ({"only": 0.5}, {"only": 0.4})],
    reference=_delta_m_reference, normalise=_scalar,
    mistakes=[
        Mistake("fraction", lambda m, b: _dm_variant(m, b, percent=False),
                "Delta m is in percent: multiply the mean relative change by 100"),
        Mistake("sum", lambda m, b: _dm_variant(m, b, mean=False),
                "you added the tasks' relative changes; Delta m is their *mean* over the tasks"),
        Mistake("sign", lambda m, b: _dm_variant(m, b, sign=-1.0),
                "your sign is flipped: a method better than the baseline (higher metric) has a positive Delta m"),
        Mistake("over the method", lambda m, b: _dm_variant(m, b, over="method"),
                "you divided by the method's metric; the change is relative to the baseline's, B_i"),
        Mistake("no abs", lambda m, b: _dm_variant(m, b, abs_base=False),
                "a baseline metric can be negative (an r2 below 0): divide by its size |B_i|, or an improvement "
                "counts as a loss"),
    ],
    generic_hint="metrics and baseline map each task to its test metric (higher is better); Delta m = 100 / T "
                 "times the sum over the T tasks of (M_i - B_i) / |B_i|",
    figure=lambda case, got, exp: figures.bars(["Delta m"], got, exp, "Delta m against the baseline", "%"),
    describe=lambda case: f"{len(case[0])} task(s)",
)
