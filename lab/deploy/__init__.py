"""Deployment to edge runtimes: ONNX Runtime, LiteRT (TensorFlow Lite) and ExecuTorch, one module each
behind one interface (:mod:`lab.deploy.base`), and the arena that runs them side by side.

    from lab.deploy import RUNTIMES, deploy, export_onnx      # the ONNX path as before (lab.deploy.onnx)
    art = RUNTIMES["executorch"].export(model, "out/mlp.pte", example)
    arena = run_arena(model, "out/", data, runtimes=("onnx", "litert", "executorch"))   # lab.deploy.arena

Modules: ``onnx`` (export, checker, parity, ORT quantization, the ``deploy`` of one ONNX file),
``onnx_runtime``, ``executorch``, ``litert`` (+ ``litert_env``: the converter's own environment,
``litert_convert``: the script run there), ``registry`` (name → runtime), ``arena``.
"""
from .base import (MAX_BATCH, PRECISIONS, Artifact, BatchSizeError, ConversionError, ParityError, Runtime,
                   RuntimeNotInstalled)
from .onnx import (DEFAULT_ATOL, ExportResult, OnnxParityError, OrtModel, assert_parity, check_onnx, deploy,
                   export_onnx, onnx_bytes, onnx_files, onnx_report, ort_session, output_names_of, quantize_onnx,
                   run_onnx, time_onnx)
from .registry import RUNTIMES, get_runtime, parse_runtimes
from .arena import Arena, ArenaConfig, run_arena, save_arena

__all__ = ["MAX_BATCH", "PRECISIONS", "Artifact", "BatchSizeError", "ConversionError", "ParityError", "Runtime",
           "RuntimeNotInstalled", "DEFAULT_ATOL", "ExportResult", "OnnxParityError", "OrtModel", "assert_parity",
           "check_onnx", "deploy", "export_onnx", "onnx_bytes", "onnx_files", "onnx_report", "ort_session",
           "output_names_of", "quantize_onnx", "run_onnx", "time_onnx", "RUNTIMES", "get_runtime", "parse_runtimes",
           "Arena", "ArenaConfig", "run_arena", "save_arena"]
