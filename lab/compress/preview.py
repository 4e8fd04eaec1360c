"""The interactive preview: prune + quantize a trained model and score it, fast enough for a slider.

Widgets call this on every slider move, so it avoids everything slow: no copy of the model per
call (one working copy is reset from the saved weights), no fine-tuning, no timing runs. Each call
applies magnitude pruning (global or per layer) and b-bit fake quantization, evaluates the test
split, and writes the packed file to count its real bytes. ``bench/compress_preview.py`` times it.

    pv = Preview(model, data)
    pv(sparsity=0.9, bits=4)   # PreviewResult(accuracy=0.96, bytes=10412, ratio=19.5, ...)
"""
from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..cost import evaluate_model, fixed_threads, saved_size, state_for_saving
from ..data.base import MultiTaskData
from ..formats.packed import write_packed
from ..validation import check_choice, check_int, show
from .fakequant import check_bits, fake_quantize_tensor
from .prune import apply_masks_inplace, check_sparsity, masks_for, prunable_weights


@dataclass(frozen=True)
class PreviewResult:
    sparsity: float
    bits: int | None
    accuracy: float          # mean test metric over tasks
    bytes: int               # packed file size on disk
    dense_bytes: int         # the unmodified model's torch.save file
    nonzeros: int
    seconds: float           # time this call took

    @property
    def ratio(self) -> float:
        return self.dense_bytes / self.bytes


class Preview:
    """Holds a working copy of ``model``; ``__call__(sparsity, bits)`` returns a PreviewResult."""

    def __init__(self, model: nn.Module, data: MultiTaskData, scope: str = "global",
                 granularity: str = "channel", scheme: str = "symmetric", threads: int = 1):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch nn.Module, got {show(model)}")
        if not isinstance(data, MultiTaskData):
            raise ValueError(f"data must be a MultiTaskData (e.g. lab.compress.digit_data()), got {show(data)}")
        check_choice("scope", scope, ("layer", "global"))
        check_choice("granularity", granularity, ("channel", "tensor"))
        check_choice("scheme", scheme, ("symmetric", "affine"))
        self.threads = check_int("threads", threads, min=1, max=1024)   # 1 is fastest for this small model
        self.work = copy.deepcopy(model).eval()
        self.data = data
        self.scope, self.granularity, self.scheme = scope, granularity, scheme
        self.params = prunable_weights(self.work)
        self.original = {n: p.detach().clone() for n, p in self.params.items()}
        self._dir = tempfile.TemporaryDirectory(prefix="lab-preview-")
        self.dense_bytes = saved_size(model, self._dir.name, "dense.pt")

    def __call__(self, sparsity: float = 0.0, bits: int | None = None) -> PreviewResult:
        with fixed_threads(self.threads), torch.no_grad():
            return self._run(sparsity, bits)

    def _run(self, sparsity: float, bits: int | None) -> PreviewResult:
        t0 = time.perf_counter()
        sparsity = check_sparsity(sparsity)
        if bits is not None:
            bits = check_bits(bits)
        for name, p in self.params.items():
            p.copy_(self.original[name])
        if sparsity > 0:
            apply_masks_inplace(self.params, masks_for(self.work, sparsity, self.scope))
        if bits is not None:
            for p in self.params.values():
                p.copy_(fake_quantize_tensor(p, bits, self.granularity, self.scheme))
        metrics = evaluate_model(self.work, self.data.test, self.data.tasks)
        stats = write_packed(state_for_saving(self.work), Path(self._dir.name) / "preview.lpk")
        nonzeros = sum(int(torch.count_nonzero(p)) for p in self.params.values())
        return PreviewResult(sparsity, bits, sum(metrics.values()) / len(metrics), stats.bytes, self.dense_bytes,
                             nonzeros, time.perf_counter() - t0)

    def close(self) -> None:
        self._dir.cleanup()


def preview(model: nn.Module, data: MultiTaskData, sparsity: float, bits: int | None = None) -> PreviewResult:
    """One-off preview (builds a ``Preview``; keep the object for repeated calls)."""
    pv = Preview(model, data)
    try:
        return pv(sparsity, bits)
    finally:
        pv.close()
