"""The detection data set: one digit to find and name on a larger canvas, with clutter.

Every example is a (1, canvas, canvas) image in [0, 1] holding one *target* digit (scikit-learn's
8x8 digits, scaled to a random size in [min_size, max_size] pixels and pasted at a random
position) and, with ``clutter``, something that is not the target:

* ``"digit"`` - a second, smaller digit of another class (size in [clutter_min, clutter_max]),
  placed so that it does not overlap the target when a free spot exists: a model that looks at the
  whole canvas sees two digits and must work out which one is meant (the larger one);
* ``"strokes"`` - two random straight strokes (intensity 0.6-1) anywhere on the canvas;
* ``"none"`` - the target alone.

Tasks (the two stages of a detector; both box tasks target the same box):

* ``proposal`` - regression, 4 outputs: the target's box (x0, y0, x1, y1) / canvas in [0, 1]
  (stage 1: where is the object; loss L_det);
* ``digit`` - classification, 10 classes (stage 2: what is it; loss L_cls);
* ``box`` - regression, 4 outputs: the same box, predicted by the second stage (L_loc).

Both box tasks use the ``iou`` metric (mean IoU, ``lab.metrics``). ``copies`` places every digit
``copies`` times (different positions, sizes and clutter), so the set has copies x N examples.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..validation import check_choice, check_int, check_seed, show
from .base import MultiTaskData, Task, check_fractions, make_splits
from .digits import _digit_images

CLUTTER: tuple[str, ...] = ("digit", "strokes", "none")
DETECTION_TASKS: tuple[str, ...] = ("proposal", "digit", "box")
MAX_CANVAS = 128
MAX_COPIES = 8


def detection_tasks() -> tuple[Task, ...]:
    """The three tasks of the detection data, in order (proposal, digit, box)."""
    return (Task("proposal", "regression", 4, metric="iou"), Task("digit", "classification", 10),
            Task("box", "regression", 4, metric="iou"))


def check_boxes(boxes: object, what: str = "boxes") -> Tensor:
    """``boxes`` as a float32 (N, 4) tensor of (x0, y0, x1, y1) normalised to the canvas.

    Allowed: finite numbers with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 (inside the canvas, positive
    width and height). ValueError naming the first offending row otherwise.
    """
    if not isinstance(boxes, Tensor):
        try:
            boxes = torch.as_tensor(boxes, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{what} must be an (N, 4) array of (x0, y0, x1, y1), got {show(boxes)}") from None
    if boxes.dim() != 2 or boxes.shape[1] != 4 or not (boxes.is_floating_point() or boxes.dtype == torch.int64):
        raise ValueError(f"{what} must be an (N, 4) tensor of (x0, y0, x1, y1), got {boxes.dtype} {tuple(boxes.shape)}")
    boxes = boxes.float()
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{what} contain NaN or inf; boxes are finite (x0, y0, x1, y1) in [0, 1]")
    outside = ((boxes < 0) | (boxes > 1)).any(1)
    if outside.any():
        i = int(outside.nonzero()[0])
        raise ValueError(f"{what}: box {i} {boxes[i].tolist()} lies outside the canvas; "
                         "coordinates are fractions of the canvas, 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    degenerate = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if degenerate.any():
        i = int(degenerate.nonzero()[0])
        raise ValueError(f"{what}: box {i} {boxes[i].tolist()} is degenerate (no width or height); "
                         "a box needs x0 < x1 and y0 < y1")
    return boxes


def _spot(size: int, canvas: int, avoid: tuple[int, int, int, int] | None, gen: torch.Generator,
          tries: int = 20) -> tuple[int, int]:
    """A top-left corner for a size x size patch, off the ``avoid`` box (x0, y0, x1, y1) if possible."""
    best, best_overlap = (0, 0), None
    for _ in range(tries):
        x0, y0 = (int(v) for v in torch.randint(0, canvas - size + 1, (2,), generator=gen))
        if avoid is None:
            return x0, y0
        ox = max(0, min(x0 + size, avoid[2]) - max(x0, avoid[0]))
        oy = max(0, min(y0 + size, avoid[3]) - max(y0, avoid[1]))
        if best_overlap is None or ox * oy < best_overlap:
            best, best_overlap = (x0, y0), ox * oy
        if ox * oy == 0:
            break
    return best


def _stroke(image: Tensor, gen: torch.Generator) -> None:
    """Draw one straight stroke of random ends and intensity into ``image`` (canvas, canvas) in place."""
    canvas = image.shape[-1]
    ends = torch.rand(4, generator=gen) * (canvas - 1)
    t = torch.linspace(0, 1, 2 * canvas)
    xs = (ends[0] + t * (ends[2] - ends[0])).round().long()
    ys = (ends[1] + t * (ends[3] - ends[1])).round().long()
    value = 0.6 + 0.4 * float(torch.rand(1, generator=gen))
    image[ys, xs] = torch.maximum(image[ys, xs], torch.full_like(image[ys, xs], value))


def make_canvases(images: Tensor, labels: Tensor, canvas: int, min_size: int, max_size: int, clutter: str,
                  clutter_size: tuple[int, int], seed: int) -> tuple[Tensor, Tensor]:
    """Paste each digit (N, 1, h, w) on its own canvas with clutter; (N, 1, canvas, canvas), boxes (N, 4) in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    out = torch.zeros(n, 1, canvas, canvas)
    boxes = torch.zeros(n, 4)
    for i in range(n):
        s = int(torch.randint(min_size, max_size + 1, (1,), generator=gen))
        x0, y0 = _spot(s, canvas, None, gen)
        digit = F.interpolate(images[i:i + 1], size=(s, s), mode="bilinear", align_corners=False)[0, 0]
        out[i, 0, y0:y0 + s, x0:x0 + s] = digit
        boxes[i] = torch.tensor([x0, y0, x0 + s, y0 + s], dtype=torch.float32) / canvas
        if clutter == "digit":
            others = (labels != labels[i]).nonzero().flatten()
            j = int(others[torch.randint(len(others), (1,), generator=gen)])
            c = int(torch.randint(clutter_size[0], clutter_size[1] + 1, (1,), generator=gen))
            cx, cy = _spot(c, canvas, (x0, y0, x0 + s, y0 + s), gen)
            small = F.interpolate(images[j:j + 1], size=(c, c), mode="bilinear", align_corners=False)[0, 0]
            region = out[i, 0, cy:cy + c, cx:cx + c]
            out[i, 0, cy:cy + c, cx:cx + c] = torch.maximum(region, small)
        elif clutter == "strokes":
            for _ in range(2):
                _stroke(out[i, 0], gen)
    return out.clamp_(0, 1), check_boxes(boxes, "generated boxes")


def load_detection(canvas: int = 32, min_size: int = 12, max_size: int = 20, clutter: str = "digit",
                   copies: int = 1, seed: int = 0, limit: int | None = None,
                   fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> MultiTaskData:
    """Digits to detect on a ``canvas`` x ``canvas`` image; tasks proposal, digit, box (module docstring).

    Allowed (ValueError saying so otherwise): canvas 8..128; 4 <= min_size <= max_size <= canvas (the
    digit must fit on the canvas); clutter one of ``CLUTTER`` (a distractor digit is ``clutter_sizes(min_size)``
    px wide); copies 1..8; limit None or 30..1797 digits.
    Inputs (N, 1, canvas, canvas) float32 in [0, 1]. Seeded: the same arguments give the same tensors.
    """
    canvas = check_int("canvas", canvas, min=8, max=MAX_CANVAS)
    min_size = check_int("min_size", min_size, min=4, max=MAX_CANVAS)
    max_size = check_int("max_size", max_size, min=4, max=MAX_CANVAS)
    if max_size > canvas:
        raise ValueError(f"the canvas ({canvas} px) is smaller than the largest digit (max_size={max_size} px); "
                         "need min_size <= max_size <= canvas")
    if min_size > max_size:
        raise ValueError(f"min_size={min_size} is larger than max_size={max_size}; need min_size <= max_size")
    clutter = check_choice("clutter", clutter, CLUTTER)
    copies = check_int("copies", copies, min=1, max=MAX_COPIES)
    seed = check_seed(seed)
    fractions = check_fractions(fractions)
    sizes = clutter_sizes(min_size)
    images, labels = _digit_images(limit, seed)
    images, labels = images.repeat(copies, 1, 1, 1), labels.repeat(copies)
    x, boxes = make_canvases(images, labels, canvas, min_size, max_size, clutter, sizes, seed)
    train, val, test = make_splits(x, {"proposal": boxes, "digit": labels, "box": boxes.clone()}, fractions, seed)
    return MultiTaskData("detection", detection_tasks(), train, val, test, input_shape=(1, canvas, canvas),
                         info={"canvas": canvas, "min_size": min_size, "max_size": max_size, "clutter": clutter,
                               "copies": copies, "seed": seed, "limit": limit})


def clutter_sizes(min_size: int) -> tuple[int, int]:
    """Side range (px) of a distractor digit: 4 .. max(4, min_size // 2 + 1), smaller than the target from
    min_size 6 on."""
    return 4, max(4, min_size // 2 + 1)
