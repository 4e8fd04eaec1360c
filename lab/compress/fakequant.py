"""Low-bit fake quantization of weights (2-16 bits): what bit width does to accuracy.

Each weight is mapped to an integer grid and back (quantize -> dequantize), so the model still
runs in float but holds at most 2^bits distinct values per tensor (or per output channel):

    symmetric: q = clamp(round(w / s), -(2^(b-1) - 1), 2^(b-1) - 1),  s = max|w| / (2^(b-1) - 1),  w' = q · s
    affine:    q = clamp(round(w / s) + z, 0, 2^b - 1),  s = (max - min) / (2^b - 1),  z = round(-min / s),
               w' = (q - z) · s       (min/max widened to include 0, so zero stays exactly zero)

``granularity="channel"`` takes one (s, z) per output channel (dim 0), ``"tensor"`` one per tensor.
``rounding="truncate"`` rounds toward zero instead of to nearest (the seed's truncation variant:
cheaper hardware, biased error). The packed format stores such weights in ``bits`` bits each
(codebook or per-row grid), so the Report's bytes shrink with the bit width.

    model, report = fake_quantize(model, FakeQuantConfig(bits=4, granularity="channel"), data=data)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, measure
from ..data.base import MultiTaskData
from ..validation import _is_int, check_bool, show
from .prune import prunable_weights


def check_bits(bits: int) -> int:
    """``bits`` as an int from 2 to 16 (NumPy integers accepted; floats, bools and strings refused)."""
    if not _is_int(bits) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an integer from 2 to 16, got {show(bits)}")
    return int(bits)


@dataclass(frozen=True)
class FakeQuantConfig:
    """Weight fake quantization: ``bits`` in 2..16, per ``tensor`` or ``channel``,
    ``symmetric`` or ``affine``, ``nearest`` or ``truncate`` rounding."""

    bits: int = 8
    granularity: Literal["tensor", "channel"] = "channel"
    scheme: Literal["symmetric", "affine"] = "symmetric"
    rounding: Literal["nearest", "truncate"] = "nearest"
    include_coupling: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", check_bits(self.bits))
        check_bool("include_coupling", self.include_coupling)
        if self.granularity not in ("tensor", "channel"):
            raise ValueError(f"granularity must be 'tensor' or 'channel', got {self.granularity!r}")
        if self.scheme not in ("symmetric", "affine"):
            raise ValueError(f"scheme must be 'symmetric' or 'affine', got {self.scheme!r}")
        if self.rounding not in ("nearest", "truncate"):
            raise ValueError(f"rounding must be 'nearest' or 'truncate', got {self.rounding!r}")


def fake_quantize_tensor(w: Tensor, bits: int, granularity: str = "channel", scheme: str = "symmetric",
                         rounding: str = "nearest") -> Tensor:
    """``w`` rounded to a ``bits``-bit grid (same shape and dtype)."""
    check_bits(bits)
    x = w.detach().float()
    per_channel = granularity == "channel" and x.dim() >= 2
    dims = tuple(range(1, x.dim())) if per_channel else tuple(range(x.dim()))
    rnd = torch.round if rounding == "nearest" else torch.trunc
    if scheme == "symmetric":
        qmax = 2 ** (bits - 1) - 1
        scale = x.abs().amax(dim=dims, keepdim=True) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = rnd(x / scale).clamp(-qmax, qmax)
        return (q * scale).to(w.dtype)
    qmax = 2 ** bits - 1
    lo = x.amin(dim=dims, keepdim=True).clamp_max(0)
    hi = x.amax(dim=dims, keepdim=True).clamp_min(0)
    scale = (hi - lo) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero = torch.round(-lo / scale).clamp(0, qmax)
    q = (rnd(x / scale) + zero).clamp(0, qmax)
    return ((q - zero) * scale).to(w.dtype)


def fake_quantize_inplace(model: nn.Module, config: FakeQuantConfig) -> None:
    with torch.no_grad():
        for p in prunable_weights(model, config.include_coupling).values():
            p.copy_(fake_quantize_tensor(p, config.bits, config.granularity, config.scheme, config.rounding))


def fake_quantize(model: nn.Module, config: FakeQuantConfig, *, data: MultiTaskData | None = None,
                  measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A copy of ``model`` with its Linear/Conv weights on a ``bits``-bit grid, and its Report."""
    quantized = copy.deepcopy(model)
    fake_quantize_inplace(quantized, config)
    step = f"fakequant:{config.bits}" + ("" if config.granularity == "channel" else ":tensor") + \
        ("" if config.scheme == "symmetric" else ":affine") + ("" if config.rounding == "nearest" else ":truncate")
    return quantized, measure(quantized, data, step, measure_config)
