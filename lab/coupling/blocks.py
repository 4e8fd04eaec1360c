"""Builders for the stages of a sub-module: MLP blocks and small CNN blocks.

A sub-module is a stack of S stages (``nn.ModuleList``). Coupling strategies mix
the stages' outputs between modules, so each stage is a separate module.

* ``mlp`` stage: flatten -> Linear(in, width) -> ReLU -> Dropout.
* ``cnn`` stage: Conv(in_ch, width, 3, padding=1) -> ReLU -> MaxPool(2) while the
  feature map is at least 4 wide -> Dropout. 1-D inputs (C, L) use Conv1d,
  images (C, H, W) use Conv2d.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from ..seeding import SeededDropout

Block = Literal["mlp", "cnn"]
BLOCKS: tuple[str, ...] = ("mlp", "cnn")


def mlp_stage(in_features: int, width: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, width), nn.ReLU(), SeededDropout(dropout))


def cnn_stage(in_shape: tuple[int, ...], width: int, dropout: float = 0.0) -> nn.Sequential:
    """A conv stage for inputs (C, L) or (C, H, W); pools by 2 while the smallest side is >= 4."""
    if len(in_shape) not in (2, 3):
        raise ValueError(f"cnn blocks need inputs with a channel axis, (C, L) or (C, H, W); got shape {in_shape}")
    conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(in_shape) == 2 else (nn.Conv2d, nn.MaxPool2d)
    layers: list[nn.Module] = [conv(in_shape[0], width, kernel_size=3, padding=1), nn.ReLU()]
    if min(in_shape[1:]) >= 4:
        layers.append(pool(2))
    layers.append(SeededDropout(dropout))
    return nn.Sequential(*layers)


def output_shape(stage: nn.Module, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one example after ``stage`` (found with a forward pass on zeros)."""
    with torch.no_grad():
        return tuple(stage(torch.zeros(1, *in_shape)).shape[1:])


def build_stack(block: Block, in_shape: tuple[int, ...], widths: tuple[int, ...], dropout: float = 0.0
                ) -> tuple[nn.ModuleList, list[tuple[int, ...]]]:
    """Stages of one sub-module and the output shape after each stage (per example)."""
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; choose from {list(BLOCKS)}")
    if not widths or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths}")
    stages, shapes = nn.ModuleList(), []
    shape = tuple(in_shape)
    for width in widths:
        stage = mlp_stage(math.prod(shape), int(width), dropout) if block == "mlp" else cnn_stage(shape, int(width), dropout)
        shape = output_shape(stage, shape)
        stages.append(stage)
        shapes.append(shape)
    return stages, shapes


def head(in_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    """A task head: flatten -> Linear(features, num_outputs)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), num_outputs))
