"""Deployment: export to ONNX, check, run with ONNX Runtime, prove parity, quantize the file.

    result = export_onnx(model, "out/mlp.onnx", example)     # torch.export-based exporter (dynamo=True)
    check_onnx(result.path)                                   # onnx.checker, full check
    assert_parity(model, result.path, data.test.x)            # max |torch - ORT| <= atol per output
    quantize_onnx(result.path, "out/mlp.int8.onnx", "dynamic")  # or "static" with calibration inputs
    reports = deploy(model, "out/mlp.onnx", data)             # all of it, with a Report per file

The exporter writes weights to a separate ``<name>.onnx.data`` file for large models unless told
otherwise; ``export_onnx`` saves one self-contained file by default (``single_file=True``) and
every size here counts the ``.onnx`` file plus its ``.onnx.data`` when there is one. The batch
axis is dynamic. A ``CoupledSystem`` exports every task output as a named output (its task name);
a single network's output is named ``logits``.
"""
from __future__ import annotations

import os
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..atomic import publish_file, staging_dir
from ..cost import MeasureConfig, Report, count_flops, count_parameters, eval_mode, evaluate_model, example_input
from ..data.base import MultiTaskData

DEFAULT_ATOL = 1e-4   # max |torch - ORT| allowed for float models (measured ~1e-7 for the MLP)


class OnnxParityError(ValueError):
    """ONNX Runtime's outputs differ from torch's by more than the tolerance."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    files: tuple[Path, ...]       # the .onnx file and, if written, its .onnx.data
    input_name: str
    output_names: tuple[str, ...]

    @property
    def bytes(self) -> int:
        return onnx_bytes(self.path)


def onnx_files(path: str | os.PathLike) -> tuple[Path, ...]:
    """The model file and its external-data file when one exists."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    return (path, data) if data.exists() else (path,)


def onnx_bytes(path: str | os.PathLike) -> int:
    """Bytes on disk of an ONNX model: the .onnx file plus its .onnx.data (if any)."""
    return sum(p.stat().st_size for p in onnx_files(path))


def output_names_of(model: nn.Module, example: Tensor) -> tuple[str, ...]:
    with torch.no_grad(), eval_mode(model):
        out = model(example)
    if isinstance(out, dict):
        return tuple(out)
    if isinstance(out, (tuple, list)):
        return tuple(f"output_{i}" for i in range(len(out)))
    return ("logits",)


def export_onnx(model: nn.Module, path: str | os.PathLike, example: Tensor | None = None, *,
                single_file: bool = True, input_name: str = "x", opset: int | None = None) -> ExportResult:
    """Export with ``torch.onnx.export(..., dynamo=True)``, batch axis dynamic; returns the files written."""
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"ONNX files end in .onnx, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    example = example if example is not None else example_input(model, None, 2)
    names = output_names_of(model, example)
    kwargs = {"opset_version": opset} if opset else {}
    with staging_dir(path.parent, path.name) as tmp:      # the old file stays until the new one is complete
        staged = tmp / path.name
        with warnings.catch_warnings(), eval_mode(model):
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
            warnings.filterwarnings("ignore", message=r".*assigned during export")   # attention's recorded W
            program = torch.onnx.export(model, (example,), dynamo=True, input_names=[input_name],
                                        output_names=list(names),
                                        dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                                        verbose=False, **kwargs)
        program.save(str(staged), external_data=not single_file)
        _publish_onnx(staged, path)
    return ExportResult(path, onnx_files(path), input_name, names)


def _publish_onnx(staged: Path, path: Path) -> None:
    """Move a finished model (and its ``.onnx.data``, if any) from a staging folder over ``path``.

    Each file is replaced atomically, the weights file first and then the model that names it, so a
    failing export never deletes the previous model; a previous ``.onnx.data`` the new model does not
    use is removed last.
    """
    data, old_data = staged.with_name(staged.name + ".data"), path.with_name(path.name + ".data")
    has_data = data.exists()
    if has_data:
        publish_file(data, old_data)
    publish_file(staged, path)
    if not has_data:
        old_data.unlink(missing_ok=True)


def check_onnx(path: str | os.PathLike) -> None:
    """``onnx.checker.check_model`` with full shape-inference check; ValueError naming the file."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as err:
        raise ValueError(f"{path} is not a valid ONNX model: {err}") from err


def ort_session(path: str | os.PathLike, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (1 inter-op thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, x: Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """All outputs by name for one input batch."""
    x = x.detach().cpu().numpy() if isinstance(x, Tensor) else x
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: x.astype(np.float32)})))


def assert_parity(model: nn.Module, onnx_model, x: Tensor, atol: float = DEFAULT_ATOL) -> dict[str, float]:
    """Max |torch - ORT| per output on ``x``; raises OnnxParityError naming the worst output."""
    session = ort_session(onnx_model) if isinstance(onnx_model, (str, os.PathLike)) else onnx_model
    with torch.no_grad(), eval_mode(model):
        ref = model(x)
    ort_out = run_onnx(session, x)
    names = list(ort_out)
    if isinstance(ref, dict):
        ref_out = {k: v for k, v in ref.items()}
    elif isinstance(ref, (tuple, list)):
        ref_out = dict(zip(names, ref))
    else:
        ref_out = {names[0]: ref}
    missing = [k for k in ref_out if k not in ort_out]
    if missing:
        raise OnnxParityError(f"the ONNX model lacks output(s) {missing}; it has {names}")
    diffs = {k: float(np.abs(ort_out[k] - ref_out[k].detach().numpy()).max()) for k in ref_out}
    worst = max(diffs, key=diffs.get)
    if not diffs[worst] <= atol:
        raise OnnxParityError(f"ONNX Runtime output {worst!r} differs from torch by max abs {diffs[worst]:.3g} "
                              f"(tolerance {atol:g}); all outputs: " +
                              ", ".join(f"{k}={v:.3g}" for k, v in diffs.items()))
    return diffs


class _Calibration:
    """onnxruntime.quantization CalibrationDataReader over batches of a tensor."""

    def __init__(self, input_name: str, x: Tensor, batch_size: int = 32):
        self.batches = [{input_name: x[i:i + batch_size].numpy().astype(np.float32)}
                        for i in range(0, len(x), batch_size)]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return self.batches[self.i - 1]

    def rewind(self):
        self.i = 0


def quantize_onnx(path: str | os.PathLike, out_path: str | os.PathLike,
                  mode: Literal["dynamic", "static"] = "dynamic", calibration: Tensor | None = None,
                  per_channel: bool = True) -> Path:
    """ONNX Runtime int8 quantization of an exported file: dynamic, or static QDQ calibrated on
    ``calibration`` inputs (N, *input_shape). Writes one file; returns its path."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path, out_path = Path(path), Path(out_path)
    if mode not in ("dynamic", "static"):
        raise ValueError(f"ONNX quantization mode must be 'dynamic' or 'static', got {mode!r}")
    with staging_dir(out_path.parent, out_path.name) as tmp:   # the old file stays until the new one is complete
        pre, staged = tmp / (out_path.stem + ".pre.onnx"), tmp / out_path.name
        quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)
        if mode == "dynamic":
            quantize_dynamic(str(pre), str(staged), weight_type=QuantType.QInt8, per_channel=per_channel)
        else:
            session = ort_session(path)
            inp = session.get_inputs()[0]
            expected = tuple(inp.shape[1:])
            if calibration is None or not isinstance(calibration, Tensor) or tuple(calibration.shape[1:]) != expected:
                got = None if calibration is None else tuple(getattr(calibration, "shape", ()))
                raise ValueError(f"static ONNX quantization needs calibration inputs of shape (N, "
                                 f"{', '.join(map(str, expected))}); got {got}")
            reader = _Calibration(inp.name, calibration)
            CalibrationDataReader.register(type(reader))
            quantize_static(str(pre), str(staged), reader, quant_format=QuantFormat.QDQ, per_channel=per_channel,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        _publish_onnx(staged, out_path)
    return out_path


def time_onnx(session, x: Tensor, repeats: int = 50, warmup: int = 10) -> float:
    """Median milliseconds of ``session.run`` on ``x`` after ``warmup`` runs."""
    feed = {session.get_inputs()[0].name: x.detach().numpy().astype(np.float32)}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


class OrtModel:
    """Call an ONNX session like the torch model (tensor, or dict for several outputs)."""

    def __init__(self, session):
        self.session = session

    def __call__(self, x: Tensor):
        out = run_onnx(self.session, x)
        if len(out) == 1:
            return torch.from_numpy(next(iter(out.values())))
        return {k: torch.from_numpy(v) for k, v in out.items()}


def onnx_report(path: str | os.PathLike, model: nn.Module, data: MultiTaskData | None, step: str,
                config: MeasureConfig = MeasureConfig(), runtime: str = "onnxruntime") -> Report:
    """Report of an ONNX file run by ONNX Runtime: accuracy, file bytes, latency (FLOPs: the torch model's)."""
    session = ort_session(path, config.threads)
    metrics = evaluate_model(OrtModel(session), data.test, data.tasks) if data is not None else {}
    params, nonzeros = count_parameters(model)
    flops, effective = count_flops(model, example_input(model, data, 1))
    latency = None
    if config.latency:
        latency = time_onnx(session, example_input(model, data, config.batch_size), config.repeats, config.warmup)
    return Report(step=step, metric=sum(metrics.values()) / len(metrics) if metrics else None, metrics=metrics,
                  params=params, nonzeros=nonzeros, flops=flops, effective_flops=effective,
                  file_bytes=onnx_bytes(path), latency_ms=latency, latency_batch=config.batch_size,
                  threads=config.threads, runtime=runtime,
                  notes=("FLOPs and params of the torch model that was exported",),
                  extra={"files": [str(p) for p in onnx_files(path)]})


def deploy(model: nn.Module, path: str | os.PathLike, data: MultiTaskData | None = None, *,
           quantize: Sequence[str] = ("dynamic",), atol: float = DEFAULT_ATOL,
           config: MeasureConfig = MeasureConfig(), single_file: bool = True) -> list[Report]:
    """Export, check, assert parity on test inputs, quantize the file; one Report per ONNX file.

    ``quantize``: ONNX Runtime modes to apply to the exported file ("dynamic", "static").
    Quantized files are checked for accuracy, not parity (int8 rounding changes outputs).
    """
    path = Path(path)
    x = data.test.x if data is not None else example_input(model, None, 8)
    result = export_onnx(model, path, x[:2], single_file=single_file)
    check_onnx(path)
    diffs = assert_parity(model, path, x, atol)
    reports = [onnx_report(path, model, data, "onnx", config).with_(extra={
        "files": [str(p) for p in result.files], "max_abs_diff": diffs, "atol": atol})]
    for mode in quantize:
        qpath = path.with_name(f"{path.stem}.int8-{mode}.onnx")
        calibration = data.train.x[:256] if (data is not None and mode == "static") else None
        quantize_onnx(path, qpath, mode, calibration)
        check_onnx(qpath)
        reports.append(onnx_report(qpath, model, data, f"onnx-int8:{mode}", config, "onnxruntime-int8"))
    return reports
