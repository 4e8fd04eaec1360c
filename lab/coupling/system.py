"""``CoupledSystem``: n sub-modules, each a stack of S stages, task heads, and a coupling.

    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(64, 64)))
    outputs = system(x)              # {task name: (B, num_outputs)}
    system.coupling_matrices()       # [W^1, ..., W^S], each (n, n)
    system.coupling_matrices(data.val)   # the same; attention: mean W(x) over the split
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ..data.base import MultiTaskData, Split, Task
from ..seeding import seeded
from .attention import Attention
from .base import Coupling
from .blocks import BLOCKS, CNN_DEFAULTS, build_stack, head
from .cross_stitch import CrossStitch
from .ensemble import Ensemble
from .independent import Independent
from .limits import (MAX_ATTENTION_DIM, MAX_KERNEL, MAX_MODULES, MAX_STRIDE, check_input_shape, check_size,
                     check_state_dict, check_widths, parameter_bound)
from .pipeline import Pipeline
from .shared import Shared
from ..validation import (as_float_tensor, check_bool, check_choice, check_float, check_floats, check_int, check_optional_int,
                          check_seed, normalise_fields, show)

COUPLINGS: dict[str, type[Coupling]] = {
    "independent": Independent,
    "pipeline": Pipeline,
    "ensemble": Ensemble,
    "shared": Shared,
    "cross_stitch": CrossStitch,
    "attention": Attention,
}

# Systems of another class rebuilt from their architecture: key in the architecture dict -> builder
# (``lab.coupling.pruned`` registers "pruned"); ``CoupledSystem.from_architecture`` dispatches on it.
ARCHITECTURES: dict[str, Callable[[dict[str, Any]], "CoupledSystem"]] = {}


@dataclass(frozen=True)
class SystemConfig:
    """Architecture of a coupled system.

    ``widths``: channels/features of every stage, the same for all modules
    (e.g. (64, 64)), or one tuple per module. ``num_modules`` defaults to the
    number of tasks (strategies with one module per task require exactly that).
    ``w_init`` = (self, other): initial W_ii and total off-diagonal weight of a row,
    both in [0, 1]. ``seed`` fixes the initial weights.

    ``block``: mlp, cnn, gru or logistic (``lab.coupling.blocks``). ``kernel_size``, ``stride`` and
    ``batch_norm`` shape cnn stages only (the defaults 3, 1, False are the original CNN stage); other
    blocks refuse other values.

    Allowed (ValueError naming the field otherwise): widths 1..16384 per stage, 1..64 stages,
    num_modules None or 1..64, dropout in [0, 1), attention_dim 1..4096, seed 0..2**31-1,
    kernel_size 1..63, stride 1..16; the whole system at most 10^8 parameters (checked when it is
    built; see ``lab.coupling.limits``).
    """

    strategy: str = "cross_stitch"
    block: str = "mlp"
    widths: tuple = (64, 64)
    num_modules: int | None = None
    dropout: float = 0.0
    w_init: tuple[float, float] = (0.9, 0.1)
    per_channel: bool = False
    attention_dim: int = 16
    seed: int = 0
    kernel_size: int = 3
    stride: int = 1
    batch_norm: bool = False

    def __post_init__(self) -> None:
        check_choice("strategy", self.strategy, COUPLINGS, unknown="coupling strategy")
        check_choice("block", self.block, BLOCKS, unknown="block")
        try:
            w_init = check_floats("w_init", self.w_init, min=0.0, max=1.0, length=2)
        except ValueError:
            raise ValueError(f"w_init must be (self, other) with both values finite numbers in [0, 1], "
                             f"got {show(self.w_init)}") from None
        if w_init[0] + w_init[1] <= 0:
            raise ValueError("w_init must not be all zeros: nothing would pass between stages")
        normalise_fields(self, {
            "widths": check_widths(self.widths),
            "num_modules": check_optional_int("num_modules", self.num_modules, min=1, max=MAX_MODULES),
            "dropout": check_float("dropout", self.dropout, min=0.0, max=1.0, max_open=True),
            "w_init": w_init,
            "per_channel": check_bool("per_channel", self.per_channel),
            "attention_dim": check_int("attention_dim", self.attention_dim, min=1, max=MAX_ATTENTION_DIM),
            "seed": check_seed(self.seed),
            "kernel_size": check_int("kernel_size", self.kernel_size, min=1, max=MAX_KERNEL),
            "stride": check_int("stride", self.stride, min=1, max=MAX_STRIDE),
            "batch_norm": check_bool("batch_norm", self.batch_norm)})
        changed = [f"{k}={getattr(self, k)!r}" for k, v in CNN_DEFAULTS.items() if getattr(self, k) != v]
        if changed and self.block != "cnn":
            raise ValueError(f"{', '.join(changed)} shape cnn blocks only; block {self.block!r} takes the defaults "
                             f"({', '.join(f'{k}={v!r}' for k, v in CNN_DEFAULTS.items())})")

    def stage_options(self) -> dict[str, Any]:
        """The keyword options ``build_stack`` takes from this config (cnn kernel, stride, batch norm)."""
        return {"kernel_size": self.kernel_size, "stride": self.stride, "batch_norm": self.batch_norm}

    def module_widths(self, num_modules: int) -> list[tuple[int, ...]]:
        if all(isinstance(w, int) for w in self.widths):
            return [tuple(self.widths)] * num_modules
        if not all(isinstance(w, tuple) for w in self.widths):
            raise ValueError(f"widths must be all integers or one tuple per module, got {self.widths}")
        if len(self.widths) != num_modules:
            raise ValueError(f"widths gives {len(self.widths)} per-module tuples for {num_modules} modules")
        if len({len(w) for w in self.widths}) != 1:
            raise ValueError(f"every module needs the same number of stages, got widths {self.widths}")
        return list(self.widths)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["widths"] = [list(w) if isinstance(w, tuple) else w for w in self.widths]
        d["w_init"] = list(self.w_init)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SystemConfig":
        """The config saved by ``to_dict``; ValueError for a non-dict or unknown keys."""
        if not isinstance(d, dict):
            raise ValueError(f"system_config must be a dict of SystemConfig fields, got {show(d)}")
        unknown = sorted(map(str, set(d) - set(cls.__dataclass_fields__)))
        if unknown:
            raise ValueError(f"system_config has unknown field(s) {unknown}; allowed: {list(cls.__dataclass_fields__)}")
        return cls(**d)


class CoupledSystem(nn.Module):
    """n sub-modules (``stacks``), their task heads and a coupling strategy.

    Inputs: (B, *input_shape) shared by all modules, or (B, num_inputs,
    *input_shape) when every module has its own input (``num_inputs`` set).
    Output: a dict task name -> (B, num_outputs) logits or regression values.
    """

    def __init__(self, config: SystemConfig, tasks: tuple[Task, ...], input_shape: tuple[int, ...],
                 num_inputs: int | None = None):
        super().__init__()
        if not isinstance(config, SystemConfig):
            raise ValueError(f"config must be a SystemConfig, got {show(config)}")
        self.config = config
        self.tasks = check_tasks(tasks)
        self.input_shape = check_input_shape(input_shape)
        self.num_inputs = check_optional_int("num_inputs", num_inputs, min=1, max=MAX_MODULES)
        num_inputs = self.num_inputs
        cls = COUPLINGS[config.strategy]
        n = config.num_modules or (num_inputs or len(tasks))
        if n < cls.min_modules:
            raise ValueError(f"{config.strategy} coupling needs at least {cls.min_modules} modules, got {n}")
        if cls.one_module_per_task and n != len(tasks):
            raise ValueError(f"{config.strategy} puts task i on module i, so it needs one module per task: "
                             f"got {n} modules for {len(tasks)} tasks {[t.name for t in tasks]}")
        if num_inputs is not None and n != num_inputs:
            raise ValueError(f"the data gives {num_inputs} per-module inputs but the system has {n} modules")
        self.num_modules = n
        widths = config.module_widths(n)
        check_size(parameter_bound(config.block, widths, self.input_shape, sum(t.num_outputs for t in self.tasks),
                                   config.per_channel, config.attention_dim, config.kernel_size, config.stride))
        with seeded(config.seed):     # never the global RNG: same seed, same weights in any thread
            self._build(cls, widths)

    def _build(self, cls: type[Coupling], widths: list[tuple[int, ...]]) -> None:
        probe = cls(self.num_modules, len(widths[0]), [])       # structure questions only
        stacks, shapes, prev = nn.ModuleList(), [], None
        for i in range(probe.num_stacks()):
            in_shape = probe.stack_input_shape(i, self.input_shape, self.num_inputs, prev)
            stack, stage_shapes = build_stack(self.config.block, in_shape, widths[i], self.config.dropout,
                                              **self.config.stage_options())
            stacks.append(stack)
            shapes.append(stage_shapes)
            prev = stage_shapes[-1]
        if cls.mixes_stages and any(s != shapes[0] for s in shapes):
            raise ValueError(f"{self.config.strategy} mixes stage s of every module, so stage widths must match "
                             f"across modules; got stage output shapes {shapes}")
        self.stacks = stacks
        self.coupling = cls(self.num_modules, len(widths[0]), shapes[0], w_init=self.config.w_init,
                            per_channel=self.config.per_channel, attention_dim=self.config.attention_dim)
        task_by_name = {t.name: t for t in self.tasks}
        self.assignment = self.coupling.assign_tasks(tuple(task_by_name))
        self.heads = nn.ModuleList(
            nn.ModuleDict({name: head(shapes[i][-1], task_by_name[name].num_outputs) for name in names})
            for i, names in enumerate(self.assignment))

    # --- forward -----------------------------------------------------------------
    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Outputs per task. ``x`` of another real dtype (float64, integers, bool) or a NumPy array is
        converted to the system's float dtype (float32 unless converted with ``.double()``/``.half()``)."""
        if not isinstance(x, Tensor) or x.dtype != self._input_dtype():
            x = as_float_tensor("input x", x, self._input_dtype())
        expected = ((self.num_inputs,) if self.num_inputs is not None else ()) + self.input_shape
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"input of shape {tuple(x.shape)} does not fit this system: expected (B, "
                             f"{', '.join(map(str, expected))})")
        return self.coupling.run(self.stacks, self.heads, x, self.num_inputs is not None)

    def _input_dtype(self) -> torch.dtype:
        return next((p.dtype for p in self.parameters() if p.is_floating_point()), torch.float32)

    # --- W and parameter groups ----------------------------------------------------
    @property
    def strategy(self) -> str:
        return self.config.strategy

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def num_stages(self) -> int:
        return len(self.stacks[0])

    def coupling_matrices(self, split: Split | Tensor | None = None, batch_size: int = 1024) -> list[Tensor]:
        """One (num_modules, num_modules) W per stage, fixed strategies included.

        Without ``split``: the coupling's W as it stands (attention: the batch mean of the last forward
        pass). With ``split`` (a data split, or inputs shaped like a batch): an input-dependent coupling
        (attention) is run over every example in eval mode without gradients, ``batch_size`` at a time,
        and the mean W(x) over the examples is returned; nothing the system reports afterwards changes.
        Couplings whose W does not depend on the input return their matrices unchanged.
        """
        if split is None or not self.coupling.input_dependent:
            return self.coupling.matrices()
        x = split.x if isinstance(split, Split) else split
        if len(x) == 0:
            raise ValueError("cannot measure W over an empty split")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad(), self.coupling.averaging() as mean:
                for i in range(0, len(x), batch_size):
                    self(x[i:i + batch_size].to(device))
                return mean()
        finally:
            self.train(was_training)

    def coupling_parameters(self) -> list[nn.Parameter]:
        """Parameters of the coupling itself (W, attention projections); empty for fixed strategies."""
        return list(self.coupling.parameters())

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.heads.parameters())

    def module_parameters(self) -> list[nn.Parameter]:
        """Parameters of the sub-modules' stages."""
        return list(self.stacks.parameters())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def architecture(self) -> dict[str, Any]:
        """Everything needed to rebuild this system (JSON-able)."""
        return {"system_config": self.config.to_dict(), "tasks": [t.as_dict() for t in self.tasks],
                "input_shape": list(self.input_shape), "num_inputs": self.num_inputs}

    @classmethod
    def from_architecture(cls, arch: dict[str, Any], state_dict: dict[str, Tensor] | None = None) -> "CoupledSystem":
        """Rebuild a system from ``architecture()`` (e.g. read from a checkpoint), and load ``state_dict``.

        Everything is checked before allocating: the dict's keys and types, the limits of
        ``lab.coupling.limits``, and - when ``state_dict`` is given - that its keys, shapes and
        dtypes are exactly those the architecture builds (compared on the meta device).
        One ValueError says what is wrong. Architectures of derived systems (e.g. a pruned system's
        ``"pruned"`` record) are rebuilt by the builder registered in ``ARCHITECTURES``, after the
        base record passed the same checks."""
        build = next((b for key, b in ARCHITECTURES.items() if isinstance(arch, dict) and key in arch), None)
        if build is not None:
            parse_architecture({k: v for k, v in arch.items() if k not in ARCHITECTURES})
            try:
                with torch.device("meta"):
                    expected = build(arch).state_dict() if state_dict is not None else None
            except (KeyError, TypeError) as err:
                raise ValueError(f"invalid architecture record: {type(err).__name__}: {err}") from None
            if expected is not None:
                check_state_dict(expected, state_dict)
            system = build(arch)
        else:
            config, tasks, input_shape, num_inputs = parse_architecture(arch)
            if state_dict is not None:
                with torch.device("meta"):
                    expected = cls(config, tasks, input_shape, num_inputs).state_dict()
                check_state_dict(expected, state_dict)
            system = cls(config, tasks, input_shape, num_inputs)
        if state_dict is not None:
            system.load_state_dict(state_dict)
        return system

    def extra_repr(self) -> str:
        return (f"strategy={self.strategy}, modules={self.num_modules}, stages={self.num_stages}, "
                f"tasks={list(self.task_names)}")


ARCHITECTURE_KEYS: tuple[str, ...] = ("system_config", "tasks", "input_shape", "num_inputs")


def check_tasks(tasks: Any) -> tuple[Task, ...]:
    """A non-empty tuple of ``Task`` with unique names (at most ``MAX_MODULES``)."""
    if isinstance(tasks, (str, bytes, dict)) or not isinstance(tasks, (list, tuple)) or not tasks \
            or len(tasks) > MAX_MODULES or not all(isinstance(t, Task) for t in tasks):
        raise ValueError(f"tasks must be a list of 1 to {MAX_MODULES} Task objects, got {show(tasks)}")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    return tuple(tasks)


def parse_architecture(arch: Any) -> tuple[SystemConfig, tuple[Task, ...], tuple[int, ...], int | None]:
    """(config, tasks, input_shape, num_inputs) from an ``architecture()`` dict; ValueError naming what is wrong."""
    if not isinstance(arch, dict):
        raise ValueError(f"an architecture must be a dict with keys {list(ARCHITECTURE_KEYS)}, got {show(arch)}")
    missing = [k for k in ARCHITECTURE_KEYS if k not in arch]
    unknown = sorted(map(str, set(arch) - set(ARCHITECTURE_KEYS)))
    if missing or unknown:
        raise ValueError(f"an architecture has exactly the keys {list(ARCHITECTURE_KEYS)}; "
                         + (f"missing {missing}" if missing else "") + ("; " if missing and unknown else "")
                         + (f"unknown {unknown}" if unknown else ""))
    config = SystemConfig.from_dict(arch["system_config"])
    raw_tasks = arch["tasks"]
    if not isinstance(raw_tasks, list) or not all(isinstance(t, dict) for t in raw_tasks):
        raise ValueError(f"architecture tasks must be a list of dicts (name, kind, num_outputs, metric), "
                         f"got {show(raw_tasks)}")
    tasks = []
    for t in raw_tasks:
        unknown = sorted(map(str, set(t) - set(Task.__dataclass_fields__)))
        if unknown or "name" not in t or "kind" not in t or "num_outputs" not in t:
            raise ValueError(f"an architecture task has the keys name, kind, num_outputs (and metric); got {show(t)}")
        tasks.append(Task(**t))
    return config, check_tasks(tasks), check_input_shape(arch["input_shape"]), \
        check_optional_int("num_inputs", arch["num_inputs"], min=1, max=MAX_MODULES)


def build_system(data: MultiTaskData, config: SystemConfig | None = None, **overrides) -> CoupledSystem:
    """A system shaped for ``data``: its tasks, input shape and per-module inputs."""
    config = config or SystemConfig()
    if overrides:
        config = SystemConfig(**{**config.to_dict(), **overrides})
    return CoupledSystem(config, data.tasks, data.input_shape, data.num_inputs)


