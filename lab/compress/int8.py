"""Post-training int8 quantization (dynamic, static with calibration) and quantization-aware training.

Three modes, each on the library that is maintained for it in this stack (torch 2.14, torchao 0.18):

* ``static``: torchao PT2E — ``torch.export`` the model, ``prepare_pt2e`` with ``X86InductorQuantizer``
  (int8 per-channel weights, uint8 per-tensor activations), run calibration batches through the
  observers, ``convert_pt2e``. In eager mode the converted graph computes in float between
  quantize/dequantize pairs (it is *slower* than fp32); ``compile=True`` lowers it with
  ``torch.compile`` to fused x86 int8 kernels (~16 s to compile a small model).
* ``qat``: torchao PT2E ``prepare_qat_pt2e`` (fake quantization in the forward pass, straight-through
  gradients), ``finetune`` epochs of training, then ``convert_pt2e``.
* ``dynamic``: weights int8, activations quantized on the fly per batch. ``engine="torch"`` uses
  ``torch.ao.quantization.quantize_dynamic`` — deprecated, but on this CPU it is the fastest int8
  Linear there is (bench/compress_latency.py measures it against torchao's maintained
  ``Int8DynamicActivationInt8WeightConfig``, ``engine="torchao"``); Linear layers only.
  Its DeprecationWarning is caught here and explained once per process (see ``DEPRECATION_NOTE``).

int8 models are end points of a recipe: later steps (pruning, k-means) cannot edit their weights.

    model, report = quantize_int8(model, Int8Config(mode="static"), data=data)
"""
from __future__ import annotations

import copy
import logging
import types
from contextlib import contextmanager
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Literal

import torch
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, count_flops, example_input, measure
from ..data.base import MultiTaskData
from ..seeding import seeded
from ..validation import check_bool, check_int, normalise_fields
from .fit import FitConfig, check_finetune, fit

log = logging.getLogger(__name__)

DEPRECATION_NOTE = (
    "int8 dynamic quantization uses torch.ao.quantization.quantize_dynamic, which torch marks deprecated "
    "(its replacement is torchao's quantize_). It is kept for this one step because on x86 CPUs it is still "
    "the fastest int8 Linear kernel (fbgemm); torchao's Int8DynamicActivationInt8WeightConfig is available "
    "as engine='torchao'. The DeprecationWarning is silenced here on purpose.")
_explained = False


@dataclass(frozen=True)
class Int8Config:
    """``mode``: dynamic | static | qat. ``calibration_size``: training examples run through the
    observers (static). ``finetune``: QAT training. ``compile``: torch.compile the static/QAT result."""

    mode: Literal["dynamic", "static", "qat"] = "dynamic"
    engine: Literal["torch", "torchao"] = "torch"
    calibration_size: int = 256
    finetune: FitConfig = field(default_factory=lambda: FitConfig(epochs=3, lr=1e-4))
    compile: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("dynamic", "static", "qat"):
            raise ValueError(f"int8 mode must be 'dynamic', 'static' or 'qat', got {self.mode!r}")
        if self.engine not in ("torch", "torchao"):
            raise ValueError(f"engine must be 'torch' or 'torchao', got {self.engine!r}")
        normalise_fields(self, {"calibration_size": check_int("calibration_size", self.calibration_size, min=1,
                                                               max=1_000_000),
                                "compile": check_bool("compile", self.compile)})
        check_finetune(self.finetune, optional=False)


@contextmanager
def _quiet_torchao_import() -> Iterator[None]:
    """torchao's first import makes torch log a deprecation line about Enum registration
    (torch/utils/_pytree.py, "register_constant() on Enum subclasses"); it is not ours to fix."""
    logger = logging.getLogger("torch.utils._pytree")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _explain_once() -> None:
    global _explained
    if not _explained:
        log.info(DEPRECATION_NOTE)
        _explained = True


def torch_dynamic_int8(model: nn.Module) -> nn.Module:
    """``torch.ao.quantization.quantize_dynamic`` on every nn.Linear (a copy), deprecation handled."""
    _explain_once()
    with warnings.catch_warnings(), _quiet_torchao_import():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions.*deprecated")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def torchao_dynamic_int8(model: nn.Module) -> nn.Module:
    """torchao ``quantize_(model, Int8DynamicActivationInt8WeightConfig())`` on a copy."""
    with _quiet_torchao_import():
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    out = copy.deepcopy(model).eval()
    quantize_(out, Int8DynamicActivationInt8WeightConfig())
    return out


def check_calibration(x: Tensor, example: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != example.dim() or tuple(x.shape[1:]) != tuple(example.shape[1:]):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"calibration data has shape {got}; the model takes (N, "
                         f"{', '.join(map(str, example.shape[1:]))})")


def drop_unused_attributes(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Delete parameters/buffers the graph no longer reads (convert_pt2e leaves the fp32 weights)."""
    used = {n.target for n in gm.graph.nodes if n.op == "get_attr"}
    for name in list(gm.state_dict()):
        if name in used:
            continue
        owner_name, _, attr = name.rpartition(".")
        owner = gm.get_submodule(owner_name) if owner_name else gm
        if hasattr(owner, attr):
            delattr(owner, attr)
    return gm


def _quantizer(is_qat: bool):
    with _quiet_torchao_import():
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
            X86InductorQuantizer, get_default_x86_inductor_quantization_config)

    return X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config(is_qat=is_qat))


def _allow_train_eval(graph: torch.fx.GraphModule) -> None:
    """torchao's ``allow_exported_model_train_eval``. Its train()/eval() re-run pattern matching on example
    inputs drawn with ``torch.randn``; here they come from a fixed seed, never the global RNG (lab.seeding)."""
    with _quiet_torchao_import():
        from torchao.quantization.pt2e import allow_exported_model_train_eval

    allow_exported_model_train_eval(graph)
    for name in ("train", "eval"):
        setattr(graph, name, types.MethodType(_seeded_method(getattr(graph, name).__func__), graph))


def _seeded_method(func):
    def call(self, *args, **kwargs):
        with seeded(0):
            return func(self, *args, **kwargs)
    return call


def pt2e_int8(model: nn.Module, calibration: Tensor, *, qat_data: MultiTaskData | None = None,
              finetune: FitConfig | None = None, batch_size: int = 64) -> torch.fx.GraphModule:
    """Static int8 (or QAT when ``qat_data`` is given) through torchao PT2E and X86InductorQuantizer."""
    with _quiet_torchao_import():
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e, prepare_qat_pt2e

    example = calibration[:2]
    source = copy.deepcopy(model)
    batch = ({0: torch.export.Dim("batch", min=1)},)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*assigned during export")   # attention's recorded W
        graph = torch.export.export(source.train(qat_data is not None), (example,), dynamic_shapes=batch).module()
    with seeded(0):     # torchao's pattern matching draws example inputs: from a seed, not the global RNG
        prepare = prepare_pt2e if qat_data is None else prepare_qat_pt2e
        prepared = prepare(graph, _quantizer(is_qat=qat_data is not None))
    _allow_train_eval(prepared)
    with torch.no_grad():
        prepared.eval()
        for i in range(0, len(calibration), batch_size):
            prepared(calibration[i:i + batch_size])
    if qat_data is not None and finetune is not None and finetune.epochs > 0:
        fit(prepared, qat_data, finetune)
    prepared.eval()
    with seeded(0):
        converted = convert_pt2e(prepared)
    _allow_train_eval(converted)
    converted.eval()           # the patched eval() of an exported graph returns None
    return drop_unused_attributes(converted)


class FrozenCompiled(nn.Module):
    """``torch.compile`` with Inductor freezing on every call (compiles per input shape on first use):
    freezing constant-folds and prepacks the weights, and X86InductorQuantizer's int8 fusions are
    freezing passes, so without it the compiled graph keeps float math."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.__dict__["compiled"] = torch.compile(model, dynamic=False)   # not a submodule: no second state

    def forward(self, x: Tensor):
        import torch._inductor.config as inductor_config

        with inductor_config.patch(freezing=True):
            return self.compiled(x)


def quantize_int8(model: nn.Module, config: Int8Config, *, data: MultiTaskData | None = None,
                  calibration: Tensor | None = None,
                  measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """An int8 copy of ``model`` and its Report. ``calibration``: inputs for static mode
    (default: the first ``calibration_size`` training inputs of ``data``)."""
    example = example_input(model, data, 2)
    float_flops = count_flops(model, example[:1])
    notes: list[str] = []
    if config.mode == "dynamic":
        if config.engine == "torch":
            quantized = torch_dynamic_int8(model)
            runtime = "torch-int8-dynamic"
            notes.append("torch.ao quantize_dynamic: deprecated by torch but still the fastest int8 Linear on this "
                         "x86 CPU (bench/compress_latency.py), so its DeprecationWarning is silenced; Linear "
                         "layers only")
        else:
            quantized = torchao_dynamic_int8(model)
            runtime = "torchao-int8-dynamic"
    else:
        if calibration is None:
            if data is None:
                raise ValueError(f"int8 {config.mode} quantization needs calibration data (pass data or calibration)")
            calibration = data.train.x[:config.calibration_size]
        check_calibration(calibration, example)
        if config.mode == "qat" and data is None:
            raise ValueError("quantization-aware training needs data to train on")
        quantized = pt2e_int8(model, calibration, qat_data=data if config.mode == "qat" else None,
                              finetune=config.finetune)
        runtime = "pt2e-int8"
        if config.compile:
            quantized = FrozenCompiled(quantized)
            runtime = "pt2e-int8-compiled"
        else:
            notes.append("eager PT2E graph: float math between quant/dequant pairs (compile for int8 kernels)")
    for attr in ("input_shape", "num_inputs"):          # what cost functions need to build an input
        if hasattr(model, attr) and not hasattr(quantized, attr):
            setattr(quantized, attr, getattr(model, attr))
    step = f"int8:{config.mode}" if config.mode != "dynamic" or config.engine == "torch" else "int8:dynamic:torchao"
    return quantized, measure(quantized, data, step, measure_config, runtime=runtime, notes=notes,
                              flops_fallback=float_flops)
