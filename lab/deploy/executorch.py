"""ExecuTorch: ``.pte`` files lowered to the XNNPACK backend, run by ``executorch.runtime``.

    rt = ExecuTorchRuntime()
    art = rt.export(model, "out/mlp.pte", example)                          # fp32
    art8 = rt.export(model, "out/mlp.int8.pte", example, "int8", calib)    # PT2E + XNNPACKQuantizer
    rt.load(art8).run(x)                                                    # {"logits": ...}

Path: ``torch.export`` (batch axis dynamic, 1..``max_batch``, default ``MAX_BATCH``) → for int8,
``prepare_pt2e`` with the XNNPACK quantizer (symmetric, per-channel weights, static activations),
calibration, ``convert_pt2e`` and export again → ``to_edge_transform_and_lower(..., partitioner=[XnnpackPartitioner()])`` →
``to_executorch()``. Operators XNNPACK does not take run on ExecuTorch's portable kernels. Memory is
planned ahead for the largest batch: ``Artifact.planned_bytes`` is that plan (activations and I/O).
Threads: XNNPACK's thread pool is process-wide (``_unsafe_reset_threadpool``).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..timing import eval_mode
from .base import (MAX_BATCH, Artifact, Runtime, atomic_path, check_batch, check_precision, conversion_error,
                   export_program, exported_ops, named_outputs)


def _quantize(program: torch.export.ExportedProgram, example: Tensor, calibration: Tensor, max_batch: int,
              batch: int = 64) -> torch.export.ExportedProgram:
    """PT2E int8 with the XNNPACK quantizer, calibrated on ``calibration``; exported again, batch dynamic."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                         get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(program.module(), quantizer)
    with torch.no_grad():
        for i in range(0, len(calibration), batch):
            prepared(calibration[i:i + batch])
    converted = convert_pt2e(prepared)
    dim = torch.export.Dim("batch", min=1, max=max_batch)
    return torch.export.export(converted, (example,), dynamic_shapes=({0: dim},))


class ExecuTorchRunner:
    """A loaded ``.pte``: its ``forward`` method; outputs named in the order the model returned them."""

    def __init__(self, artifact: Artifact, threads: int = 1):
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime as EtRuntime

        portable_lib._unsafe_reset_threadpool(threads)
        self.artifact = artifact
        self.output_names = artifact.output_names
        self.method = EtRuntime.get().load_program(str(artifact.path)).load_method("forward")

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        check_batch(self.artifact, x)
        out = self.method.execute([torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))])
        return {k: v.numpy().copy() for k, v in zip(self.output_names, out)}

    def bind(self, x: np.ndarray):
        check_batch(self.artifact, x)
        inputs = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))]
        return lambda: self.method.execute(inputs)


class ExecuTorchRuntime(Runtime):
    name = "executorch"
    label = "ExecuTorch"
    suffix = ".pte"
    module = "executorch"
    install = ("pip install executorch==1.5.1 (pin it with torch==2.14.1: its library links libtorch; it needs "
               "torchao>=0.18,<0.19). It is one of the lab's dependencies: `make install` installs it.")
    batch = f"dynamic, 1 to max_batch (default {MAX_BATCH}; memory is planned for the largest batch)"

    def __init__(self, max_batch: int = MAX_BATCH):
        if not isinstance(max_batch, int) or not 2 <= max_batch <= 65536:
            raise ValueError(f"ExecuTorch max_batch must be an integer from 2 to 65536, got {max_batch!r}")
        self.max_batch = max_batch

    def export(self, model: nn.Module, path: str | os.PathLike, example: Tensor, precision: str = "fp32",
               calibration: Tensor | None = None) -> Artifact:
        self.check_installed()
        check_precision(self, precision, calibration, example)
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        path = Path(path)
        if path.suffix != self.suffix:
            raise ValueError(f"ExecuTorch files end in {self.suffix}, got {path}")
        example = example[:2] if len(example) > 1 else example
        with torch.no_grad(), eval_mode(model):
            names = tuple(named_outputs(model(example)))
        program = export_program(model, example, self.max_batch)
        ops = exported_ops(program)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            try:
                if precision == "int8":
                    program = _quantize(program, example, calibration, self.max_batch)
                manager = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
            except Exception as err:        # exir raises many types; all mean "this op cannot be lowered"
                raise conversion_error(self, err, ops) from err
        planned = sum(manager.executorch_program.execution_plan[0].non_const_buffer_sizes)
        with atomic_path(path) as tmp:
            tmp.write_bytes(manager.buffer)
        return Artifact(self.name, precision, path, (path,), names, max_batch=self.max_batch, planned_bytes=planned,
                        notes=(f"ExecuTorch mem_KB: the activation memory it plans ahead for batch {self.max_batch}",))

    def load(self, artifact: Artifact, threads: int = 1) -> ExecuTorchRunner:
        self.check_installed()
        return ExecuTorchRunner(artifact, threads)
