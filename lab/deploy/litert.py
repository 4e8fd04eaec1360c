"""LiteRT (TensorFlow Lite): ``.tflite`` files converted by ``litert-torch`` in its own environment, run by
``ai-edge-litert``'s interpreter.

    rt = LiteRtRuntime()
    art = rt.export(model, "out/mlp.tflite", example)                  # fp32, batch of ``example[:1]``: 1
    arts = rt.export_batches(model, "out/mlp.int8.tflite", example, "int8", calib, batches=(1, 256))
    rt.load(arts[256]).run(x)                                          # {"logits": ...} (float in, float out)

Conversion runs in the converter environment (:mod:`lab.deploy.litert_env`, made on first use) as a
subprocess (:mod:`lab.deploy.litert_convert`) that receives the model as a ``torch.export``-ed program.
The batch axis is **fixed per file** (litert-torch 0.10 cannot convert a dynamic batch through
reshape/flatten): ``run`` takes any batch by running the file's batch in chunks (the last one padded),
``bind`` (timing) refuses a batch the file was not made for; ``export_batches`` writes one file per
batch size (``mlp.tflite``, ``mlp.b256.tflite``). int8 files take and return int8: ``run`` quantizes the
float input and dequantizes every output with the file's own scales; ``bind`` (timing) quantizes once,
before the timed calls, so the file is timed with int8 I/O as a device would feed it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..timing import eval_mode
from . import litert_env
from .base import (MAX_BATCH, Artifact, Runtime, RuntimeNotInstalled, check_batch, check_precision, conversion_error,
                   export_program,
                   exported_ops, named_outputs)

CONVERT_TIMEOUT_S = 1800


def _output_order(name: str) -> int:
    m = re.search(r"output_(\d+)", name)
    return int(m.group(1)) if m else 0


class LiteRtRunner:
    """A loaded ``.tflite``: one interpreter with ``threads`` threads; float in, float out."""

    def __init__(self, artifact: Artifact, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.artifact = artifact
        self.output_names = artifact.output_names
        self.interpreter = Interpreter(model_path=str(artifact.path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = sorted(self.interpreter.get_output_details(), key=lambda d: _output_order(d["name"]))
        self.batch = int(self.input["shape"][0])

    def _feed(self, x: np.ndarray) -> np.ndarray:
        dtype = self.input["dtype"]
        if dtype == np.float32:
            return np.ascontiguousarray(x, dtype=np.float32)
        scale, zero = self.input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)

    def _fetch(self) -> list[np.ndarray]:
        out = []
        for d in self.outputs:
            y = self.interpreter.get_tensor(d["index"])
            if d["dtype"] != np.float32:
                scale, zero = d["quantization"]
                y = (y.astype(np.float32) - zero) * scale
            out.append(y)
        return out

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        parts = []
        for i in range(0, len(x), self.batch):
            chunk = x[i:i + self.batch]
            n = len(chunk)
            if n < self.batch:
                chunk = np.concatenate([chunk, np.zeros((self.batch - n, *chunk.shape[1:]), chunk.dtype)])
            self.interpreter.set_tensor(self.input["index"], self._feed(chunk))
            self.interpreter.invoke()
            parts.append([y[:n].copy() for y in self._fetch()])
        return {k: np.concatenate([p[j] for p in parts]) for j, k in enumerate(self.output_names)}

    def bind(self, x: np.ndarray):
        """The timed call: set the input, invoke, read the outputs. An int8 file gets its int8 input made
        here, once, and returns raw int8 outputs: the file is timed as it runs on a device fed int8, not
        with numpy's float/int8 conversion (several µs of Python glue, more than the model at batch 1)."""
        check_batch(self.artifact, x)
        feed = self._feed(np.ascontiguousarray(x, dtype=np.float32))
        index, outputs = self.input["index"], [d["index"] for d in self.outputs]

        def call():
            self.interpreter.set_tensor(index, feed)
            self.interpreter.invoke()
            return [self.interpreter.get_tensor(i) for i in outputs]
        return call


class LiteRtRuntime(Runtime):
    name = "litert"
    label = "LiteRT"
    suffix = ".tflite"
    module = "ai_edge_litert"
    install = ("pip install ai-edge-litert==2.3.0 (the runtime; one of the lab's dependencies: `make install`). "
               "The converter litert-torch lives in its own environment, made on first use or by `make converter`.")
    batch = "fixed per file (one file per batch size; run() chunks other batches)"

    def installed(self) -> bool:
        """The runtime is importable, and the converter environment is there or may be made on first use
        (``LAB_SKIP_CONVERTER=1`` forbids making it)."""
        return super().installed() and (litert_env.ready() or os.environ.get("LAB_SKIP_CONVERTER") != "1")

    def check_installed(self) -> None:
        super().check_installed()
        if not self.installed():
            raise RuntimeNotInstalled(f"the LiteRT converter environment {litert_env.env_dir()} is missing and "
                                      f"LAB_SKIP_CONVERTER=1 forbids making it: run `make converter` (or "
                                      f"python lab/deploy/litert_env.py), or unset LAB_SKIP_CONVERTER")

    def export(self, model: nn.Module, path: str | os.PathLike, example: Tensor, precision: str = "fp32",
               calibration: Tensor | None = None) -> Artifact:
        """One file for the batch size of ``example``."""
        return self.export_batches(model, path, example, precision, calibration, (len(example),))[len(example)]

    def export_batches(self, model: nn.Module, path: str | os.PathLike, example: Tensor, precision: str = "fp32",
                       calibration: Tensor | None = None, batches: Sequence[int] = (1,)) -> dict[int, Artifact]:
        """One file per batch size: ``path`` for the first, ``<stem>.b<batch>.tflite`` for the others."""
        self.check_installed()
        check_precision(self, precision, calibration, example)
        path = Path(path)
        if path.suffix != self.suffix:
            raise ValueError(f"LiteRT files end in {self.suffix}, got {path}")
        if not batches or any(not isinstance(b, int) or not 1 <= b <= MAX_BATCH for b in batches):
            raise ValueError(f"LiteRT batch sizes must be integers from 1 to {MAX_BATCH}, got {batches}")
        batches = tuple(dict.fromkeys(batches))
        python = litert_env.ensure()
        example = example[:2] if len(example) > 1 else example
        with torch.no_grad(), eval_mode(model):
            names = tuple(named_outputs(model(example)))
        program = export_program(model, example, MAX_BATCH)
        ops = exported_ops(program)
        paths = {b: path if i == 0 else path.with_name(f"{path.stem}.b{b}{self.suffix}") for i, b in enumerate(batches)}
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            torch.export.save(program, os.path.join(tmp, "program.pt2"))
            torch.save({"calibration": (calibration if precision == "int8" else example).detach().float().contiguous()},
                       os.path.join(tmp, "inputs.pt"))
            request = {"program": os.path.join(tmp, "program.pt2"), "inputs": os.path.join(tmp, "inputs.pt"),
                       "jobs": [{"out": str(p.resolve()), "precision": precision, "batch": b}
                                for b, p in paths.items()]}
            Path(tmp, "request.json").write_text(json.dumps(request))
            self._convert(python, Path(tmp, "request.json"), ops)
        note = ("LiteRT int8 files take and return int8; timed with int8 I/O (the float input quantized before "
                "the timed calls, outputs left int8)") if precision == "int8" else ""
        return {b: Artifact(self.name, precision, p, (p,), names, fixed_batch=b, notes=(note,) if note else ())
                for b, p in paths.items()}

    def _convert(self, python: Path, request: Path, ops: list[str]) -> None:
        script = Path(__file__).with_name("litert_convert.py")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(TF_CPP_MIN_LOG_LEVEL="2", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
        done = subprocess.run([str(python), "-I", str(script), str(request)], capture_output=True, text=True,
                              timeout=CONVERT_TIMEOUT_S, env=env)
        lines = done.stdout.strip().splitlines()
        try:
            result = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            result = {}
        if done.returncode == 0 and result.get("ok"):
            return
        message = result.get("error") or "\n".join(done.stderr.strip().splitlines()[-20:]) or "no output"
        raise conversion_error(self, LiteRtConverterError(message + "\n" + done.stderr[-4000:]), ops)

    def load(self, artifact: Artifact, threads: int = 1) -> LiteRtRunner:
        self.check_installed()
        return LiteRtRunner(artifact, threads)


class LiteRtConverterError(RuntimeError):
    """What the converter subprocess reported."""
