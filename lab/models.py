"""Reference single-task networks for compression (digits: inputs (B, 1, 8, 8), 10 classes).

* ``mlp``: 64-300-100-10, the digits analogue of LeNet-300-100 (LeCun et al. 1998), the classic
  benchmark of pruning and weight sharing (Han et al., "Deep Compression", ICLR 2016).
* ``lenet``: a LeNet-5-style CNN sized for 8x8 inputs (two 3x3 convs with pooling, then 120-84-10).
* ``dscnn``: MobileNet-style depthwise-separable blocks (Howard et al. 2017): a 3x3 stem, then
  depthwise 3x3 + BatchNorm + ReLU -> pointwise 1x1 + BatchNorm + ReLU, global average pool, linear.
* ``mobilenet_v3_small``: torchvision's network with random weights (``weights=None``: nothing is
  downloaded); a grey 8x8 digit is repeated to 3 channels and resized to ``resize`` pixels first.

Every builder takes ``input_shape`` (C, H, W) and ``num_classes`` and returns a module whose
``forward(x)`` gives logits (B, num_classes); the module carries ``input_shape`` so cost functions
can build an example input.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .seeding import seeded


def _tag(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    model.input_shape = tuple(input_shape)
    return model


def mlp(input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10,
        hidden: tuple[int, ...] = (300, 100)) -> nn.Sequential:
    """Flatten -> Linear(64, 300) -> ReLU -> Linear(300, 100) -> ReLU -> Linear(100, 10)."""
    if not hidden or any(h < 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty tuple of positive widths, got {hidden}")
    sizes = (math.prod(input_shape), *hidden)
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], num_classes))
    return _tag(nn.Sequential(*layers), input_shape)


def lenet(input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10,
          channels: tuple[int, int] = (6, 16)) -> nn.Sequential:
    """Conv3x3(C, 6) -> ReLU -> MaxPool2 -> Conv3x3(6, 16) -> ReLU -> MaxPool2 -> 120 -> 84 -> classes."""
    if len(input_shape) != 3 or min(input_shape[1:]) < 4:
        raise ValueError(f"lenet needs image inputs (C, H, W) with H, W >= 4, got {input_shape}")
    c1, c2 = channels
    features = nn.Sequential(
        nn.Conv2d(input_shape[0], c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    with torch.no_grad():
        flat = features(torch.zeros(1, *input_shape)).shape[1]
    return _tag(nn.Sequential(*features, nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                              nn.Linear(84, num_classes)), input_shape)


def _separable(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
            nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def dscnn(input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10,
          channels: tuple[int, ...] = (16, 32, 64)) -> nn.Sequential:
    """Stem Conv3x3(C, 16) + BN + ReLU, then depthwise-separable blocks 16->32 (stride 2), 32->64,
    global average pool and Linear(64, classes)."""
    if len(input_shape) != 3:
        raise ValueError(f"dscnn needs image inputs (C, H, W), got {input_shape}")
    layers: list[nn.Module] = [nn.Conv2d(input_shape[0], channels[0], 3, padding=1, bias=False),
                               nn.BatchNorm2d(channels[0]), nn.ReLU()]
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
        layers += _separable(a, b, stride=2 if i == 0 else 1)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], num_classes)]
    return _tag(nn.Sequential(*layers), input_shape)


class ToRGB(nn.Module):
    """(B, C, H, W) -> (B, 3, size, size): repeat a grey channel 3 times, resize bilinearly."""

    def __init__(self, in_channels: int, size: int | None):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"mobilenet_v3_small takes 1 (grey) or 3 (RGB) channels, got {in_channels}")
        self.in_channels, self.size = in_channels, size

    def forward(self, x: Tensor) -> Tensor:
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.size is not None and x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return x


def mobilenet_v3_small(input_shape: tuple[int, ...] = (3, 64, 64), num_classes: int = 10,
                       resize: int | None = 32) -> nn.Sequential:
    """torchvision ``mobilenet_v3_small(weights=None, num_classes=...)`` behind a ``ToRGB`` adapter.

    The network downsamples 32x, so inputs smaller than ``resize`` (default 32) are resized up;
    larger ones pass unchanged when ``resize`` is None.
    """
    from torchvision.models import mobilenet_v3_small as tv_mobilenet

    if len(input_shape) != 3:
        raise ValueError(f"mobilenet_v3_small needs image inputs (C, H, W), got {input_shape}")
    size = resize if resize is not None and min(input_shape[1:]) < resize else None
    net = tv_mobilenet(weights=None, num_classes=num_classes)
    return _tag(nn.Sequential(ToRGB(input_shape[0], size), net), input_shape)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "lenet": lenet,
    "dscnn": dscnn,
    "mobilenet_v3_small": mobilenet_v3_small,
}


def build_model(name: str, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10,
                seed: int = 0, **options) -> nn.Module:
    """A reference network by name (see ``MODELS``) with weights initialised from ``seed``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {list(MODELS)}")
    with seeded(seed):      # torch's own init, drawn from the seed instead of the global RNG
        return MODELS[name](tuple(input_shape), num_classes, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
