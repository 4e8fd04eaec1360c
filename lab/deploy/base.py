"""One interface for every edge runtime: export a torch model to the runtime's file, load it, run it.

    rt = RUNTIMES["executorch"]                       # lab.deploy.registry
    rt.check_installed()                              # RuntimeNotInstalled says how to install it
    art = rt.export(model, "out/mlp.pte", example, precision="int8", calibration=data.train.x[:256])
    runner = rt.load(art, threads=1)
    runner.run(x_numpy)                               # {"logits": (B, 10) float32}, one entry per output
    call = runner.bind(x_numpy); call()               # the input set once: what latency timing calls

A runtime's outputs are named like the torch model's: ``logits`` for a single network, the task
names for a ``CoupledSystem`` (whose forward returns a dict). Inputs are float32 numpy arrays
(B, *input_shape); an int8 file still takes and returns float32 (it quantizes inside).
"""
from __future__ import annotations

import importlib.util
import os
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..atomic import publish_file, staging_dir
from ..timing import eval_mode

PRECISIONS = ("fp32", "int8")
MAX_BATCH = 1024      # the batch bound of runtimes whose files need one (ExecuTorch plans memory for it)


class RuntimeNotInstalled(ValueError):
    """The runtime's Python package is missing; the message says how to install it."""


class ConversionError(ValueError):
    """A runtime cannot convert the model; the message names the runtime and the operator."""


class BatchSizeError(ValueError):
    """The file cannot run this batch size (a runtime whose batch axis is bounded or fixed)."""


class ParityError(ValueError):
    """A float file's outputs differ from torch's by more than the tolerance."""


@dataclass(frozen=True)
class Artifact:
    """A file written for one runtime: where, its files on disk (sidecars included), its outputs."""

    runtime: str                       # registry name: onnx, litert, executorch
    precision: str                     # fp32 or int8
    path: Path
    files: tuple[Path, ...]            # the file and any sidecar (.onnx.data)
    output_names: tuple[str, ...]
    max_batch: int | None = None       # largest batch the file runs (None: any)
    fixed_batch: int | None = None     # the one batch size the file was converted for (None: dynamic)
    planned_bytes: int | None = None   # activation memory the runtime plans ahead (None: not exposed)
    notes: tuple[str, ...] = ()

    @property
    def bytes(self) -> int:
        """Bytes on disk of every file of the artifact."""
        return sum(p.stat().st_size for p in self.files)


class Runner(Protocol):
    """A loaded file: ``run`` one float32 batch to named outputs; ``bind`` a batch for timing."""

    output_names: tuple[str, ...]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]: ...

    def bind(self, x: np.ndarray) -> Callable[[], object]: ...


class Runtime(ABC):
    """An edge runtime: its name, file suffix, how to install it, export and load."""

    name: str = ""            # registry key
    label: str = ""           # shown in tables
    suffix: str = ""          # file suffix, e.g. ".pte"
    module: str = ""          # the Python package that runs the files
    install: str = ""         # how to install it
    batch: str = ""           # what the batch axis does in this runtime's files

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def check_installed(self) -> None:
        """RuntimeNotInstalled, saying how to install it, when the runtime's package is missing."""
        if importlib.util.find_spec(self.module) is None:
            raise RuntimeNotInstalled(f"{self.label} is not installed (no Python package {self.module!r}): "
                                      f"{self.install}")

    def default_path(self, folder: str | os.PathLike, stem: str, precision: str) -> Path:
        """``folder/stem.suffix`` for fp32, ``folder/stem.int8.suffix`` for int8."""
        return Path(folder) / (f"{stem}{'' if precision == 'fp32' else '.' + precision}{self.suffix}")

    @abstractmethod
    def export(self, model: nn.Module, path: str | os.PathLike, example: Tensor, precision: str = "fp32",
               calibration: Tensor | None = None) -> Artifact:
        """Write ``model`` as this runtime's file at ``path``; int8 uses ``calibration`` inputs (N, *shape)."""

    def export_batches(self, model: nn.Module, path: str | os.PathLike, example: Tensor, precision: str = "fp32",
                       calibration: Tensor | None = None, batches: Sequence[int] = (1,)) -> dict[int, Artifact]:
        """A file to run each batch size in ``batches``: one file for all when the batch axis is dynamic."""
        art = self.export(model, path, example, precision, calibration)
        return {b: art for b in batches}

    @abstractmethod
    def load(self, artifact: Artifact, threads: int = 1) -> Runner:
        """The file loaded into the runtime, with ``threads`` compute threads."""


# --- helpers shared by the runtimes ----------------------------------------------------------------
def check_precision(runtime: Runtime, precision: str, calibration: Tensor | None, example: Tensor) -> None:
    """ValueError unless ``precision`` is known and int8 has calibration inputs shaped like ``example``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8":
        if not isinstance(calibration, Tensor) or calibration.dim() != example.dim() or \
                tuple(calibration.shape[1:]) != tuple(example.shape[1:]) or len(calibration) < 1:
            got = None if calibration is None else tuple(getattr(calibration, "shape", ()))
            raise ValueError(f"{runtime.label} int8 needs calibration inputs of shape (N, "
                             f"{', '.join(map(str, example.shape[1:]))}); got {got}")


def named_outputs(out: Tensor | dict | tuple | list) -> dict[str, Tensor]:
    """A model's output by name: a dict as it is, a tuple as output_0.., a tensor as ``logits``."""
    if isinstance(out, dict):
        return dict(out)
    if isinstance(out, (tuple, list)):
        return {f"output_{i}": o for i, o in enumerate(out)}
    return {"logits": out}


def torch_outputs(model: nn.Module, x: Tensor) -> dict[str, np.ndarray]:
    """Eager torch outputs by name (float32 numpy), in eval mode, without gradients."""
    with torch.no_grad(), eval_mode(model):
        return {k: v.detach().float().numpy() for k, v in named_outputs(model(x)).items()}


def exported_ops(program: torch.export.ExportedProgram) -> list[str]:
    """The operators an exported program calls, e.g. ``aten.linear.default``, in graph order."""
    seen: dict[str, None] = {}
    for node in program.graph.nodes:
        if node.op == "call_function":
            seen[str(node.target)] = None
    return list(seen)


_OPERATOR = re.compile(r"\b((?:aten|prims|quantized_decomposed|tfl)\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)")
_OVERLOAD = re.compile(r"op='([A-Za-z0-9_]+\.[A-Za-z0-9_]+)', overload='([A-Za-z0-9_]+)'")


def blame_operator(message: str) -> str | None:
    """The operator an error message names (``prims.erf_inv.default``, ``aten.linalg_inv_ex.default``), if any."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", message)
    m = _OVERLOAD.search(text)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    m = _OPERATOR.search(text.replace("torch._ops.", "").replace("torch.ops.", ""))
    return m.group(1) if m else None


def conversion_error(runtime: Runtime, err: BaseException, ops: Sequence[str]) -> ConversionError:
    """A ConversionError naming the runtime and the operator its error names (else the model's operators)."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    op = blame_operator(message)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    detail = next((line for line in lines if op and op.split(".")[1] in line), lines[0] if lines else "")
    where = f"operator {op}" if op else "an operator of this model (it calls " + ", ".join(ops[:12]) + ")"
    return ConversionError(f"{runtime.label} cannot convert this model: {where} is not supported "
                           f"({type(err).__name__}: {detail[:300]})")


def export_program(model: nn.Module, example: Tensor, max_batch: int | None = MAX_BATCH
                   ) -> torch.export.ExportedProgram:
    """``torch.export`` in eval mode with the batch axis dynamic (1..max_batch; None: unbounded);
    a model torch.export cannot trace raises ConversionError."""
    batch = torch.export.Dim("batch", min=1, max=max_batch) if max_batch else torch.export.Dim("batch", min=1)
    with eval_mode(model):
        try:
            return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        except Exception as err:       # torch.export's errors have many types; all mean "cannot trace"
            raise ConversionError(f"torch.export cannot trace this model (needed by every runtime): "
                                  f"{type(err).__name__}: {str(err).strip().splitlines()[0][:300]}") from err


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to (in a ``lab.atomic`` staging folder); it replaces
    ``path`` atomically when the block succeeds, and nothing is left behind when it fails."""
    with staging_dir(path.parent, path.name) as folder:
        tmp = folder / path.name
        yield tmp
        publish_file(tmp, path)


def check_batch(artifact: Artifact, x: np.ndarray) -> None:
    """BatchSizeError when ``x``'s batch is outside what the file runs."""
    if artifact.fixed_batch is not None and len(x) != artifact.fixed_batch:
        raise BatchSizeError(f"this {artifact.runtime} file was converted for batch {artifact.fixed_batch} only; "
                             f"got {len(x)}. Export one file per batch size (export_batches) for timing.")
    if artifact.max_batch is not None and not 1 <= len(x) <= artifact.max_batch:
        raise BatchSizeError(f"this {artifact.runtime} file runs batches of 1 to {artifact.max_batch} "
                             f"(bounded when exported); got {len(x)}. Export again with a larger max_batch.")
