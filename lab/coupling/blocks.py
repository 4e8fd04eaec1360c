"""Builders for the stages of a sub-module: MLP, CNN, GRU and logistic (linear) blocks.

A sub-module is a stack of S stages (``nn.ModuleList``). Coupling strategies mix
the stages' outputs between modules, so each stage is a separate module.

* ``mlp`` stage: flatten -> Linear(in, width) -> ReLU -> Dropout.
* ``cnn`` stage: Conv(in_ch, width, kernel_size, stride, padding=kernel_size // 2)
  [-> BatchNorm] -> ReLU -> MaxPool(2) while the feature map is at least 4 wide -> Dropout.
  1-D inputs (C, L) use Conv1d, images (C, H, W) use Conv2d. The defaults (kernel 3,
  stride 1, no batch norm) are the lab's original CNN stage.
* ``gru`` stage: a GRU over a sequence (Cho et al. 2014, https://arxiv.org/abs/1406.1078).
  Inputs (C, L) are L time steps of C features (MNIST-1D: (1, 40)); images (C, H, W) are
  read row by row (H steps of C*W features). The stage returns the hidden state at every
  step as (width, L), channel-first like a conv map, so stages chain (a stacked GRU) and
  cross-stitch mixes the states like any feature map; the head flattens all steps, as in
  the MNIST-1D paper's GRU baseline (Greydanus 2020, https://arxiv.org/abs/2011.14439).
* ``logistic`` stage: flatten -> Linear(in, width) -> Dropout, no non-linearity: a stack of
  them and its head is one linear map, so the system is (multinomial) logistic regression;
  mixing by cross-stitch keeps it linear.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from ..seeding import SeededDropout

Block = Literal["mlp", "cnn", "gru", "logistic"]
BLOCKS: tuple[str, ...] = ("mlp", "cnn", "gru", "logistic")
CNN_DEFAULTS: dict[str, object] = {"kernel_size": 3, "stride": 1, "batch_norm": False}


def mlp_stage(in_features: int, width: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, width), nn.ReLU(), SeededDropout(dropout))


def logistic_stage(in_features: int, width: int, dropout: float = 0.0) -> nn.Sequential:
    """Flatten -> Linear(in_features, width) -> Dropout: a linear map (B, *in) -> (B, width)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, width), SeededDropout(dropout))


def cnn_stage(in_shape: tuple[int, ...], width: int, dropout: float = 0.0, kernel_size: int = 3, stride: int = 1,
              batch_norm: bool = False) -> nn.Sequential:
    """A conv stage for inputs (C, L) or (C, H, W); pools by 2 while the smallest side is >= 4."""
    if len(in_shape) not in (2, 3):
        raise ValueError(f"cnn blocks need inputs with a channel axis, (C, L) or (C, H, W); got shape {in_shape}")
    one_d = len(in_shape) == 2
    conv, pool, norm = (nn.Conv1d, nn.MaxPool1d, nn.BatchNorm1d) if one_d else (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d)
    layers: list[nn.Module] = [conv(in_shape[0], width, kernel_size=kernel_size, stride=stride,
                                    padding=kernel_size // 2)]
    if batch_norm:
        layers.append(norm(width))
    layers.append(nn.ReLU())
    out_sides = [(s + 2 * (kernel_size // 2) - kernel_size) // stride + 1 for s in in_shape[1:]]   # >= 1 always
    if min(out_sides) >= 4:
        layers.append(pool(2))
    layers.append(SeededDropout(dropout))
    return nn.Sequential(*layers)


class GRUStage(nn.Module):
    """One GRU layer over a sequence: (B, C, L) -> (B, width, L), or (B, C, H, W) read as H steps of
    C*W features -> (B, width, H). The initial hidden state is zero; dropout acts on the outputs."""

    def __init__(self, in_shape: tuple[int, ...], width: int, dropout: float = 0.0):
        super().__init__()
        if len(in_shape) not in (2, 3):
            raise ValueError(f"gru blocks need sequences (C, L) or images (C, H, W) read row by row; "
                             f"got shape {in_shape}")
        self.in_shape = tuple(in_shape)
        features = in_shape[0] if len(in_shape) == 2 else in_shape[0] * in_shape[2]
        self.gru = nn.GRU(features, width, batch_first=True)
        self.dropout = SeededDropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4:                                        # (B, C, H, W) -> (B, H, C*W)
            seq = x.permute(0, 2, 1, 3).flatten(2)
        else:                                                   # (B, C, L) -> (B, L, C)
            seq = x.transpose(1, 2)
        out, _ = self.gru(seq)                                  # (B, steps, width)
        return self.dropout(out.transpose(1, 2))                # (B, width, steps)


def output_shape(stage: nn.Module, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one example after ``stage`` (found with a forward pass on zeros; a stage with batch norm
    runs it in eval mode, so its running statistics are not touched)."""
    has_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in stage.modules())
    was_training = stage.training
    if has_norm:
        stage.eval()
    try:
        with torch.no_grad():
            return tuple(stage(torch.zeros(1, *in_shape)).shape[1:])
    finally:
        stage.train(was_training)


def build_stack(block: Block, in_shape: tuple[int, ...], widths: tuple[int, ...], dropout: float = 0.0,
                kernel_size: int = 3, stride: int = 1, batch_norm: bool = False
                ) -> tuple[nn.ModuleList, list[tuple[int, ...]]]:
    """Stages of one sub-module and the output shape after each stage (per example).

    ``kernel_size``, ``stride`` and ``batch_norm`` shape ``cnn`` stages only."""
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; choose from {list(BLOCKS)}")
    if not widths or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths}")
    stages, shapes = nn.ModuleList(), []
    shape = tuple(in_shape)
    for width in widths:
        if block == "mlp":
            stage = mlp_stage(math.prod(shape), int(width), dropout)
        elif block == "logistic":
            stage = logistic_stage(math.prod(shape), int(width), dropout)
        elif block == "gru":
            stage = GRUStage(shape, int(width), dropout)
        else:
            stage = cnn_stage(shape, int(width), dropout, kernel_size, stride, batch_norm)
        shape = output_shape(stage, shape)
        stages.append(stage)
        shapes.append(shape)
    return stages, shapes


def head(in_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    """A task head: flatten -> Linear(features, num_outputs)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), num_outputs))
