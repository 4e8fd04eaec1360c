"""Detection metrics that do not saturate: box quality, class accuracy and both together.

    detection_metrics(outputs, split)  ->  {"mean_iou": .., "iou50": .., "iou75": .., "class_acc": ..,
                                            "detection": .., "proposal_iou": ..}

``mean_iou``, ``iou50`` and ``iou75`` score the final ``box`` against the target (IoU by
``torchvision.ops.box_iou``, ``lab.metrics.matched_box_iou``); ``proposal_iou`` the first stage's box;
``class_acc`` the ``digit``; ``detection`` is the share of examples with the class right **and**
box IoU >= 0.5. All are fractions in [0, 1].
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..data.base import Split
from ..data.detection import check_boxes
from ..metrics import matched_box_iou

DETECTION_METRICS: tuple[str, ...] = ("class_acc", "mean_iou", "iou50", "iou75", "detection", "proposal_iou")


def detection_metrics(outputs: dict[str, Tensor], target: Split | dict[str, Tensor]) -> dict[str, float]:
    """The metrics above for ``outputs`` {"proposal": (N, 4), "digit": (N, 10), "box": (N, 4)} against a split's
    targets (or a dict {"digit": (N,), "box": (N, 4)}). Target boxes are checked (``check_boxes``: inside the
    canvas, positive width and height); predictions may be anything finite (corners are sorted)."""
    y = target.y if isinstance(target, Split) else target
    if not isinstance(outputs, dict) or not {"digit", "box"} <= set(outputs) or not {"digit", "box"} <= set(y):
        raise ValueError("detection metrics need outputs and targets with 'digit' and 'box' entries, got "
                         f"outputs {sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__}, "
                         f"targets {sorted(y) if isinstance(y, dict) else type(y).__name__}")
    boxes = check_boxes(y["box"], "target boxes")
    n = len(boxes)
    if outputs["box"].shape != (n, 4) or outputs["digit"].shape[0] != n or y["digit"].shape != (n,):
        raise ValueError(f"{n} target boxes but predictions of shapes box {tuple(outputs['box'].shape)}, digit "
                         f"{tuple(outputs['digit'].shape)} and {tuple(y['digit'].shape)} labels")
    if n == 0:
        raise ValueError("detection metrics need at least one example")
    with torch.no_grad():
        iou = matched_box_iou(outputs["box"].float(), boxes)
        right = outputs["digit"].argmax(-1) == y["digit"]
        result = {"class_acc": right.float().mean(), "mean_iou": iou.mean(), "iou50": (iou >= 0.5).float().mean(),
                  "iou75": (iou >= 0.75).float().mean(), "detection": (right & (iou >= 0.5)).float().mean()}
        if "proposal" in outputs:
            result["proposal_iou"] = matched_box_iou(outputs["proposal"].float(), boxes).mean()
    return {k: float(v) for k, v in result.items()}
