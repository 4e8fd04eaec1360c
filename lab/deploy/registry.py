"""The runtimes by name: the table the CLI's ``--runtimes``, the Export tab's checkboxes and the tests loop over."""
from __future__ import annotations

from .base import MAX_BATCH, Runtime
from .executorch import ExecuTorchRuntime
from .litert import LiteRtRuntime
from .onnx_runtime import OnnxRuntime

RUNTIMES: dict[str, Runtime] = {
    "onnx": OnnxRuntime(),
    "litert": LiteRtRuntime(),
    "executorch": ExecuTorchRuntime(),
}


def get_runtime(name: str, int8_mode: str = "dynamic", max_batch: int = MAX_BATCH) -> Runtime:
    """The runtime called ``name``; ``int8_mode`` picks ONNX Runtime's int8 kind (dynamic or static),
    ``max_batch`` ExecuTorch's batch bound (its memory is planned for it)."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; choose from {', '.join(RUNTIMES)}")
    if name == "onnx" and int8_mode != "dynamic":
        return OnnxRuntime(int8_mode)
    if name == "executorch" and max_batch != MAX_BATCH:
        runtime = ExecuTorchRuntime(max_batch)
        runtime.module = RUNTIMES[name].module
        return runtime
    return RUNTIMES[name]


def parse_runtimes(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"onnx,litert"`` → ("onnx", "litert"): known names, no repeats, at least one."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ValueError(f"name at least one runtime: {', '.join(RUNTIMES)}")
    unknown = [n for n in names if n not in RUNTIMES]
    if unknown:
        raise ValueError(f"unknown runtime(s) {', '.join(unknown)}; choose from {', '.join(RUNTIMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a runtime is named twice in {text!r}")
    return tuple(names)
