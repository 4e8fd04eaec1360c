"""Domain shifts of image data, for cross-domain transfer experiments.

Each shift is parameterised by one number, ``amount``:

* ``rotation`` — rotate every image by ``amount`` degrees;
* ``noise`` — add Gaussian noise of standard deviation ``amount`` (seeded), clip to [0, 1];
* ``invert`` — blend towards the negative: x' = (1 - amount) x + amount (1 - x), amount in [0, 1];
* ``blur`` — Gaussian blur with sigma ``amount`` (pixels); the kernel reaches at most 3 sigma and never
  beyond the image (a wide blur on an 8x8 digit is cut to the image's size).

Images are (N, C, H, W) in [0, 1]; ``noise``, ``invert`` and ``blur`` also accept
1-D signals (N, C, L).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..validation import _is_real, check_seed, show
from .base import MultiTaskData

ShiftKind = Literal["rotation", "noise", "invert", "blur"]
SHIFT_KINDS: tuple[str, ...] = ("rotation", "noise", "invert", "blur")
# allowed amounts: degrees, noise std and blur sigma in input units / pixels (a sigma of 20 already
# spans a 121-pixel kernel), invert blend
SHIFT_RANGES: dict[str, tuple[float, float]] = {"rotation": (-360.0, 360.0), "noise": (0.0, 100.0),
                                                "invert": (0.0, 1.0), "blur": (0.0, 20.0)}


@dataclass(frozen=True)
class DomainShift:
    kind: ShiftKind
    amount: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SHIFT_KINDS:
            raise ValueError(f"unknown domain shift {self.kind!r}; choose from {list(SHIFT_KINDS)}")
        lo, hi = SHIFT_RANGES[self.kind]
        if not (_is_real(self.amount) and math.isfinite(self.amount)):
            raise ValueError(f"{self.kind} amount must be a finite number, got {show(self.amount)}")
        if self.kind == "invert" and not 0 <= self.amount <= 1:
            raise ValueError(f"invert amount must lie in [0, 1], got {self.amount}")
        if not lo <= self.amount <= hi:
            raise ValueError(f"{self.kind} amount must be >= {lo:g} and <= {hi:g}, got {self.amount}")
        object.__setattr__(self, "amount", float(self.amount))
        object.__setattr__(self, "seed", check_seed(self.seed))

    @property
    def label(self) -> str:
        return f"{self.kind}={self.amount:g}"


def _blur_1d(x: Tensor, sigma: float) -> Tensor:
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1).repeat(x.shape[1], 1, 1)
    return torch.nn.functional.conv1d(torch.nn.functional.pad(x, (radius, radius), mode="replicate"),
                                      kernel, groups=x.shape[1])


def apply_shift(x: Tensor, shift: DomainShift) -> Tensor:
    """Shifted copy of inputs ``x`` (N, C, H, W) or (N, C, L); per-module inputs (N, M, ...) are shifted alike."""
    if x.dim() not in (3, 4):
        raise ValueError(f"domain shifts need inputs of shape (N, C, H, W) or (N, C, L), got {tuple(x.shape)}")
    if shift.kind == "invert":
        return (1 - shift.amount) * x + shift.amount * (1 - x)
    if shift.kind == "noise":
        gen = torch.Generator().manual_seed(shift.seed)
        return (x + shift.amount * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    if shift.kind == "blur":
        if shift.amount == 0:
            return x.clone()
        if x.dim() == 3:
            return _blur_1d(x, shift.amount)
        radius = min(max(1, int(3 * shift.amount)), min(x.shape[-2:]) - 1)   # reflect padding needs < the image
        if radius < 1:
            return x.clone()
        size = 2 * radius + 1
        import torchvision.transforms.v2.functional as TF   # ~1 s to import: only when blurring
        return TF.gaussian_blur(x, kernel_size=[size, size], sigma=[shift.amount, shift.amount])
    if x.dim() != 4:
        raise ValueError("rotation needs images (N, C, H, W); 1-D signals cannot be rotated")
    import torchvision.transforms.v2.functional as TF       # ~1 s to import: only when rotating
    return TF.rotate(x, angle=float(shift.amount), interpolation=TF.InterpolationMode.BILINEAR)


def shift_domain(data: MultiTaskData, kind: ShiftKind, amount: float, seed: int = 0) -> MultiTaskData:
    """A copy of ``data`` with every split's inputs shifted (same labels, same tasks)."""
    shift = DomainShift(kind, amount, seed)
    return data.map_x(lambda x: apply_shift(x, shift), name=f"{data.name}[{shift.label}]", shift=shift.label)
