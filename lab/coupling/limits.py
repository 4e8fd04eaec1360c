"""Limits of a coupled system's architecture, checked before anything is allocated.

The limits lie far above anything the lab needs (its systems have 10^4-10^6 parameters); they
stop a typo or a hostile checkpoint (a few bytes declaring ``widths=[200000, 200000]``) from
asking for gigabytes. ``parameter_bound`` estimates the parameters a build would allocate from
the architecture alone (an upper estimate: every task head is counted on every module), so the
size is refused before ``nn.Linear`` allocates anything.

=====================  ==========  ======================================================
constant               value       what it bounds
=====================  ==========  ======================================================
``MAX_WIDTH``          16384       channels / features of one stage
``MAX_STAGES``         64          stages per module
``MAX_MODULES``        64          modules (and per-module inputs)
``MAX_ATTENTION_DIM``  4096        attention coupling's query/key size
``MAX_INPUT_DIM``      65536       one axis of ``input_shape``
``MAX_INPUT_SIZE``     2**24       values per example and module (product of the axes)
``MAX_PARAMETERS``     10^8        parameters of the whole system (400 MB of float32)
``MAX_KERNEL``         63          kernel size of a cnn stage
``MAX_STRIDE``         16          stride of a cnn stage
=====================  ==========  ======================================================
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from ..validation import _is_int, check_ints, show

_OK = object()

MAX_WIDTH = 16384
MAX_STAGES = 64
MAX_MODULES = 64
MAX_ATTENTION_DIM = 4096
MAX_INPUT_DIM = 65536
MAX_INPUT_SIZE = 2 ** 24
MAX_PARAMETERS = 100_000_000
MAX_KERNEL = 63
MAX_STRIDE = 16


def check_widths(value: Any) -> tuple:
    """``widths`` as (w1, ..., wS) shared by every module, or one such tuple per module.

    Each width is an integer from 1 to ``MAX_WIDTH``; 1 to ``MAX_STAGES`` stages; at most
    ``MAX_MODULES`` per-module tuples, all with the same number of stages."""
    what = (f"widths must be a list of stage widths (integers from 1 to {MAX_WIDTH}, 1 to {MAX_STAGES} stages), "
            "e.g. (64, 64), or one such list per module")
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
        raise ValueError(f"{what}; got {show(value)}")
    nested = [isinstance(w, (list, tuple, np.ndarray)) for w in value]
    if any(nested) and not all(nested):
        raise ValueError(f"{what}, not a mix of both; got {show(value)}")
    groups = list(value) if all(nested) else [value]
    if len(groups) > MAX_MODULES:
        raise ValueError(f"{what}; got {len(groups)} per-module lists (at most {MAX_MODULES} modules)")
    for g in groups:
        if isinstance(g, np.ndarray) and g.ndim != 1:
            raise ValueError(f"{what}; got {show(value)}")
        if not 1 <= len(g) <= MAX_STAGES:
            raise ValueError(f"{what}; got {len(g)} stages in {show(value)}")
        bad = next((w for w in g if not (_is_int(w) and 1 <= w <= MAX_WIDTH)), _OK)
        if bad is not _OK:
            raise ValueError(f"{what}; got {show(value)} (bad width: {show(bad)})")
    out = tuple(tuple(int(w) for w in g) for g in groups)
    if len({len(g) for g in out}) != 1:
        raise ValueError(f"every module needs the same number of stages, got widths {[list(w) for w in out]}")
    return out if all(nested) else out[0]


def check_input_shape(value: Any, name: str = "input_shape") -> tuple[int, ...]:
    """The shape of one example for one module: 1 to 3 axes, each 1..MAX_INPUT_DIM, product <= MAX_INPUT_SIZE."""
    shape = check_ints(name, value, min=1, max=MAX_INPUT_DIM, max_len=3)
    if math.prod(shape) > MAX_INPUT_SIZE:
        raise ValueError(f"{name} {list(shape)} holds {math.prod(shape):,} values per example; the limit is "
                         f"{MAX_INPUT_SIZE:,}")
    return shape


def parameter_bound(block: str, widths: list[tuple[int, ...]], input_shape: tuple[int, ...], total_outputs: int,
                    per_channel: bool, attention_dim: int, kernel_size: int = 3, stride: int = 1) -> int:
    """An upper estimate of the parameters a system would allocate (computed, nothing allocated).

    ``widths``: one tuple per module; ``total_outputs``: the outputs of all tasks together. Stage
    weights are counted exactly (a pipeline module may read its predecessor's output, so its first
    stage takes the larger of that and the input; batch norm's 2 per channel are counted for every
    cnn stage); every module is charged every task head."""
    n = len(widths)
    max_w = max(max(w) for w in widths)
    if block in ("mlp", "logistic"):
        first_in, kernel, spatial = math.prod(input_shape), 1, ()
    elif block == "gru":       # (C, L): L steps of C; (C, H, W): H steps of C*W
        first_in = input_shape[0] * (input_shape[2] if len(input_shape) == 3 else 1)
        kernel, spatial = 1, tuple(input_shape[1:2])
    else:
        first_in, kernel, spatial = input_shape[0], kernel_size ** (len(input_shape) - 1), tuple(input_shape[1:])
    total = 0
    for module_widths in widths:
        fan_in = max(first_in, max_w)
        sp = spatial
        for w in module_widths:
            if block == "gru":
                total += 3 * (fan_in * w + w * w + 2 * w)
            else:
                total += fan_in * w * kernel + w + (2 * w if block == "cnn" else 0)
            fan_in = w
            if block == "cnn" and sp:
                sp = tuple(max(1, (s + 2 * (kernel_size // 2) - kernel_size) // stride + 1) for s in sp)
                if min(sp) >= 4:
                    sp = tuple(s // 2 for s in sp)
        total += (module_widths[-1] * math.prod(sp) + 1) * total_outputs
    stages = len(widths[0])
    total += stages * n * n * (max_w if per_channel else 1)            # cross-stitch W / attention prior
    total += stages * 2 * max_w * attention_dim                         # attention's query and key
    return total


def check_size(bound: int) -> None:
    if bound > MAX_PARAMETERS:
        raise ValueError(f"this architecture would allocate about {bound:,} parameters ({bound * 4 / 1e9:.1f} GB of "
                         f"float32), more than the limit of {MAX_PARAMETERS:,}; use smaller widths or fewer "
                         "modules/stages")


def check_state_dict(expected: Mapping[str, Tensor], given: Any, source: str = "the state dict") -> None:
    """One ValueError listing missing, unexpected, mis-shaped and non-finite entries of ``given``
    against the state dict a build produces (``expected``: e.g. built on the meta device)."""
    if not isinstance(given, Mapping):
        raise ValueError(f"{source} must be a mapping of parameter names to tensors, got {show(given)}")
    not_tensor = [k for k, v in given.items() if not isinstance(v, Tensor)]
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    wrong = [f"{k}: {tuple(given[k].shape)} {given[k].dtype} (expected {tuple(v.shape)} {v.dtype})"
             for k, v in expected.items()
             if k in given and isinstance(given[k], Tensor)
             and (tuple(given[k].shape) != tuple(v.shape) or given[k].dtype != v.dtype)]
    non_finite = [k for k, v in given.items() if isinstance(v, Tensor) and k in expected and not wrong
                  and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    problems = []
    for label, items in (("entries that are not tensors", not_tensor), ("missing", missing),
                         ("unexpected", unexpected), ("wrong shape or dtype", wrong),
                         ("NaN/inf values", non_finite)):
        if items:
            shown = ", ".join(map(str, items[:4])) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise ValueError(f"{source} does not fit its architecture - " + "; ".join(problems))
