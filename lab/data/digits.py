"""scikit-learn's 8x8 handwritten digits (real data, ships with scikit-learn).

Two multi-task views of the same images:

* :func:`load_digits_tasks` — several related classification tasks per image:
  the digit (10 classes), its parity (even/odd), whether it is >= 5, and its
  number of closed loops (0, 1 or 2: 1 for 0/4/6/9, 2 for 8).
* :func:`load_digits_canvas` — the detection case: a digit scaled and placed at
  a random position on a larger canvas; tasks are *what* (the digit class) and
  *where* (its box as (x0, y0, x1, y1), normalised to [0, 1]).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..validation import _is_int, check_int, check_optional_int, check_seed
from .base import MultiTaskData, Task, check_fractions, check_task_names, make_splits

DIGITS_TASKS = ("digit", "parity", "ge5", "loops")
NUM_DIGITS = 1797          # images in scikit-learn's digits
_LOOPS = torch.tensor([1, 0, 0, 0, 1, 0, 1, 0, 2, 1])


def digit_derived_targets(labels: Tensor) -> dict[str, Tensor]:
    """Targets of the related tasks for digit labels (N,) int64 in 0..9."""
    labels = labels.long()
    return {"digit": labels, "parity": labels % 2, "ge5": (labels >= 5).long(), "loops": _LOOPS[labels]}


def digit_task_specs(names: tuple[str, ...] = DIGITS_TASKS) -> tuple[Task, ...]:
    classes = {"digit": 10, "parity": 2, "ge5": 2, "loops": 3}
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ValueError(f"unknown digit task(s) {unknown}; choose from {list(classes)}")
    return tuple(Task(n, "classification", classes[n]) for n in names)


def _digit_images(limit: int | None, seed: int) -> tuple[Tensor, Tensor]:
    """All digit images (N, 1, 8, 8) in [0, 1] and labels (N,); a seeded subset when ``limit`` is set."""
    seed = check_seed(seed)
    if limit is not None and _is_int(limit) and limit < 30:
        raise ValueError(f"limit={limit} leaves too few digits for three splits; use at least 30")
    limit = check_optional_int("limit", limit, min=30, max=NUM_DIGITS)
    from sklearn.datasets import load_digits as _sk_load_digits   # ~1 s to import: only when data are loaded
    bunch = _sk_load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    if limit is not None:
        keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:limit]
        x, y = x[keep], y[keep]
    return x, y


def load_digits_tasks(tasks: tuple[str, ...] = DIGITS_TASKS, seed: int = 0, limit: int | None = None,
                      fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> MultiTaskData:
    """The digits with related tasks; inputs (N, 1, 8, 8) in [0, 1].

    ``tasks`` picks and orders the tasks (default: digit, parity, ge5, loops).
    ``limit`` keeps a seeded subset of the 1797 images (for fast runs).
    """
    specs = digit_task_specs(check_task_names(tasks, DIGITS_TASKS, "digit"))
    fractions = check_fractions(fractions)
    x, labels = _digit_images(limit, seed)
    targets = digit_derived_targets(labels)
    train, val, test = make_splits(x, {t.name: targets[t.name] for t in specs}, fractions, seed)
    return MultiTaskData("digits", specs, train, val, test, input_shape=(1, 8, 8),
                         info={"source": "sklearn.datasets.load_digits", "seed": seed, "limit": limit})


def place_on_canvas(images: Tensor, canvas: int, min_size: int, max_size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Scale each image (N, 1, h, w) to a random size and paste it at a random position.

    Returns canvases (N, 1, canvas, canvas) and boxes (N, 4) as (x0, y0, x1, y1) / canvas.
    """
    if not 2 <= min_size <= max_size <= canvas:
        raise ValueError(f"need 2 <= min_size <= max_size <= canvas, got min_size={min_size}, "
                         f"max_size={max_size}, canvas={canvas}")
    gen = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    sizes = torch.randint(min_size, max_size + 1, (n,), generator=gen)
    out = torch.zeros(n, 1, canvas, canvas)
    boxes = torch.zeros(n, 4)
    for i in range(n):
        s = int(sizes[i])
        digit = F.interpolate(images[i:i + 1], size=(s, s), mode="bilinear", align_corners=False)
        x0 = int(torch.randint(0, canvas - s + 1, (1,), generator=gen))
        y0 = int(torch.randint(0, canvas - s + 1, (1,), generator=gen))
        out[i, :, y0:y0 + s, x0:x0 + s] = digit[0]
        boxes[i] = torch.tensor([x0, y0, x0 + s, y0 + s], dtype=torch.float32) / canvas
    return out, boxes


def load_digits_canvas(canvas: int = 16, min_size: int = 6, max_size: int = 12, seed: int = 0,
                       limit: int | None = None,
                       fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> MultiTaskData:
    """Digits on a canvas: tasks ``digit`` (10 classes) and ``box`` (regression, metric IoU >= 0.5).

    The joint loss L = L_cls + lambda * L_loc of a detector is ``train`` with
    task weights (1, lambda). Inputs (N, 1, canvas, canvas).
    """
    canvas = check_int("canvas", canvas, min=2, max=256)
    min_size, max_size = check_int("min_size", min_size, min=2, max=256), check_int("max_size", max_size, min=2, max=256)
    if not min_size <= max_size <= canvas:
        raise ValueError(f"need 2 <= min_size <= max_size <= canvas, got min_size={min_size}, "
                         f"max_size={max_size}, canvas={canvas}")
    fractions = check_fractions(fractions)
    images, labels = _digit_images(limit, seed)
    x, boxes = place_on_canvas(images, canvas, min_size, max_size, seed)
    tasks = (Task("digit", "classification", 10), Task("box", "regression", 4, metric="iou50"))
    train, val, test = make_splits(x, {"digit": labels, "box": boxes}, fractions, seed)
    return MultiTaskData("digits_canvas", tasks, train, val, test, input_shape=(1, canvas, canvas),
                         info={"canvas": canvas, "min_size": min_size, "max_size": max_size, "seed": seed,
                               "limit": limit})
