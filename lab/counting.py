"""What a model costs by counting, not timing: FLOPs per example, stored and non-zero values, bytes on disk.

* FLOPs per example are counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per
  multiply-accumulate: Linear(a, b) costs 2ab); the *effective* count scales each Linear/Conv by the
  fraction of its weights that are non-zero (what an ideal sparse kernel would do).
* Sizes are bytes of real files: ``torch.save(state_dict)`` and the packed format
  (:mod:`lab.formats.packed`).

Part of the cost model :mod:`lab.cost`, which re-exports these names.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from .data.base import MultiTaskData
from .formats.packed import write_packed


def example_input(model: nn.Module, data: MultiTaskData | None = None, batch_size: int = 1) -> Tensor:
    """A (batch_size, *input_shape) input: test examples when data is given, else zeros."""
    if data is not None:
        x = data.test.x
        reps = math.ceil(batch_size / len(x))
        return (x.repeat(reps, *([1] * (x.dim() - 1))) if reps > 1 else x)[:batch_size]
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("cannot build an example input: pass data, or give the model an input_shape attribute")
    num_inputs = getattr(model, "num_inputs", None)
    return torch.zeros(batch_size, *(((num_inputs,) if num_inputs else ()) + tuple(shape)))


def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Linear and Conv layers by qualified name: the layers compression acts on."""
    return {n: m for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))}


def stored_tensors(value: Any) -> Iterator[Tensor]:
    """The tensors in one state-dict entry: the tensor itself, or those in a (nested) tuple/list."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from stored_tensors(v)


def _nonzero(t: Tensor) -> int:
    try:
        return int(torch.count_nonzero(t.dequantize() if t.is_quantized else t))
    except (NotImplementedError, RuntimeError):     # tensor subclasses without the op (torchao int8)
        try:
            return int(torch.count_nonzero(t.dequantize()))
        except Exception:
            return t.numel()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(stored values, non-zero ones) over the state dict: weights, biases, float buffers (BatchNorm
    statistics) and quantization scales; integer counters and zero points are not counted."""
    total = nonzero = 0
    for value in model.state_dict().values():
        for t in stored_tensors(value):
            if t.is_quantized or t.is_floating_point() or t.dtype in (torch.int8, torch.uint8):
                total += t.numel()
                nonzero += _nonzero(t.detach())
    return total, nonzero


def count_flops(model: nn.Module, x: Tensor) -> tuple[int, int]:
    """(dense FLOPs, effective FLOPs) per example of ``model(x)`` (x: a batch of >= 1 example).

    A model may add the FLOPs per example of elementwise work the counter does not see through an
    ``uncounted_flops()`` method (``lab.coupling.pruned.PrunedSystem``: its per-edge mix)."""
    from torch.utils.flop_counter import FlopCounterMode   # imports triton (~0.25 s): only when counting

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    total = counter.get_total_flops()
    per_module = counter.get_flop_counts()
    effective = total
    for name, layer in weight_layers(model).items():
        key = f"{type(model).__name__}.{name}" if name else type(model).__name__
        flops = sum(per_module.get(key, {}).values())
        w = layer.weight.detach()
        density = _nonzero(w) / w.numel() if w.numel() else 1.0
        effective -= flops * (1.0 - density)
    b = x.shape[0]
    hidden = getattr(model, "uncounted_flops", None)        # elementwise work the counter cannot see (a
    extra = int(hidden()) if callable(hidden) else 0         # pruned coupling's per-edge multiply-adds)
    return int(round(total / b)) + extra, int(round(effective / b)) + extra


def state_for_saving(model: nn.Module) -> dict[str, Any]:
    """The model's state dict, detached (tensors a converted graph no longer uses are not in it)."""
    return {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in model.state_dict().items()}


def saved_size(model: nn.Module, directory: str | os.PathLike, name: str = "model.pt") -> int:
    """Bytes of ``torch.save(state_dict)`` written to ``directory/name``."""
    path = Path(directory) / name
    torch.save(state_for_saving(model), path)
    return path.stat().st_size


def packable_state(model: nn.Module) -> dict[str, Tensor]:
    """Plain tensors that determine the model's weights, for the packed format.

    Quantized tensors (torch.ao int8 weights, torchao int8 subclasses) enter as their dequantized
    values, which lie exactly on the int8 grid, so the packer stores them as codes + grid/codebook;
    tuples (packed parameters) are flattened; non-tensor entries (dtypes) belong to the
    architecture and are left out.
    """
    out: dict[str, Tensor] = {}

    def add(name: str, value: Any) -> None:
        if isinstance(value, Tensor):
            if value.is_quantized or type(value) not in (Tensor, nn.Parameter):
                value = value.dequantize()
            out[name] = value.detach()
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                add(f"{name}.{i}", v)

    for name, value in model.state_dict().items():
        add(name, value)
    return out


def packed_size(model: nn.Module, directory: str | os.PathLike, name: str = "model.lpk") -> int | None:
    """Bytes of the lab.packed/1 file written to ``directory/name``; None if the state does not pack."""
    try:
        return write_packed(packable_state(model), Path(directory) / name).bytes
    except (ValueError, NotImplementedError, RuntimeError):
        return None
