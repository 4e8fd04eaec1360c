"""ONNX Runtime behind the runtime interface (``lab.deploy.base.Runtime``), using :mod:`lab.deploy.onnx`.

fp32: ``export_onnx`` (one self-contained file, batch axis unbounded). int8: that file quantized by
ONNX Runtime, ``dynamic`` (weights int8, activations quantized per call; the default) or ``static``
(QDQ, activations calibrated on the calibration inputs) — ``OnnxRuntime(int8_mode="static")``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from torch import Tensor, nn

from .base import Artifact, Runtime, check_precision, conversion_error, export_program, exported_ops
from .onnx import export_onnx, onnx_files, ort_session, quantize_onnx

INT8_MODES = ("dynamic", "static")


class OnnxRunner:
    """A loaded ONNX file: one ONNX Runtime CPU session."""

    def __init__(self, artifact: Artifact, threads: int = 1):
        self.session = ort_session(artifact.path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = self.session.run(list(self.output_names), {self.input_name: np.asarray(x, dtype=np.float32)})
        return dict(zip(self.output_names, out))

    def bind(self, x: np.ndarray):
        feed = {self.input_name: np.ascontiguousarray(x, dtype=np.float32)}
        return lambda: self.session.run(None, feed)


class OnnxRuntime(Runtime):
    name = "onnx"
    label = "ONNX Runtime"
    suffix = ".onnx"
    module = "onnxruntime"
    install = "pip install onnx onnxscript onnxruntime (the lab's dependencies: `make install` installs them)"
    batch = "dynamic, any size"

    def __init__(self, int8_mode: str = "dynamic"):
        if int8_mode not in INT8_MODES:
            raise ValueError(f"ONNX int8 mode must be one of {INT8_MODES}, got {int8_mode!r}")
        self.int8_mode = int8_mode

    def export(self, model: nn.Module, path: str | os.PathLike, example: Tensor, precision: str = "fp32",
               calibration: Tensor | None = None) -> Artifact:
        self.check_installed()
        check_precision(self, precision, calibration, example)
        path = Path(path)
        if path.suffix != self.suffix:
            raise ValueError(f"ONNX files end in .onnx, got {path}")
        example = example[:2]
        if precision == "fp32":
            result = self._export(model, path, example)
            return Artifact(self.name, precision, path, result.files, result.output_names)
        with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as tmp:
            result = self._export(model, Path(tmp) / "float.onnx", example)
            quantize_onnx(result.path, path, self.int8_mode,
                          calibration if self.int8_mode == "static" else None)
        return Artifact(self.name, precision, path, onnx_files(path), result.output_names,
                        notes=(f"ONNX Runtime int8: {self.int8_mode} quantization of the file" + (
                               " (weights int8, activations quantized at run time)" if self.int8_mode == "dynamic"
                               else " (QDQ, activations calibrated)"),))

    def _export(self, model: nn.Module, path: Path, example: Tensor):
        try:
            return export_onnx(model, path, example)
        except Exception as err:           # the exporter raises many types; all mean "cannot convert"
            ops: list[str] = []
            try:
                ops = exported_ops(export_program(model, example, None))
            except ValueError:
                pass
            raise conversion_error(self, err, ops) from err

    def load(self, artifact: Artifact, threads: int = 1) -> OnnxRunner:
        self.check_installed()
        return OnnxRunner(artifact, threads)
