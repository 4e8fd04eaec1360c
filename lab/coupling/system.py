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
from .attention import Attention
from .base import Coupling
from .blocks import BLOCKS, build_stack, head
from .cross_stitch import CrossStitch
from .ensemble import Ensemble
from .independent import Independent
from .pipeline import Pipeline
from .shared import Shared

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

    def __post_init__(self) -> None:
        if self.strategy not in COUPLINGS:
            raise ValueError(f"unknown coupling strategy {self.strategy!r}; choose from {list(COUPLINGS)}")
        if self.block not in BLOCKS:
            raise ValueError(f"unknown block {self.block!r}; choose from {list(BLOCKS)}")
        widths = tuple(tuple(int(v) for v in w) if isinstance(w, (list, tuple)) else int(w) for w in self.widths)
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "w_init", tuple(float(v) for v in self.w_init))
        if not widths:
            raise ValueError("widths must name at least one stage, e.g. (64, 64)")
        if len(self.w_init) != 2 or not all(0.0 <= v <= 1.0 for v in self.w_init):
            raise ValueError(f"w_init must be (self, other) with both values in [0, 1], got {self.w_init}")
        if self.w_init[0] + self.w_init[1] <= 0:
            raise ValueError("w_init must not be all zeros: nothing would pass between stages")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.attention_dim < 1:
            raise ValueError(f"attention_dim must be >= 1, got {self.attention_dim}")

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
        self.config = config
        self.tasks = tuple(tasks)
        self.input_shape = tuple(input_shape)
        self.num_inputs = num_inputs
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
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self._build(cls, widths)

    def _build(self, cls: type[Coupling], widths: list[tuple[int, ...]]) -> None:
        probe = cls(self.num_modules, len(widths[0]), [])       # structure questions only
        stacks, shapes, prev = nn.ModuleList(), [], None
        for i in range(probe.num_stacks()):
            in_shape = probe.stack_input_shape(i, self.input_shape, self.num_inputs, prev)
            stack, stage_shapes = build_stack(self.config.block, in_shape, widths[i], self.config.dropout)
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
        expected = ((self.num_inputs,) if self.num_inputs is not None else ()) + self.input_shape
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"input of shape {tuple(x.shape)} does not fit this system: expected (B, "
                             f"{', '.join(map(str, expected))})")
        return self.coupling.run(self.stacks, self.heads, x, self.num_inputs is not None)

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
    def from_architecture(cls, arch: dict[str, Any]) -> "CoupledSystem":
        for key, build in ARCHITECTURES.items():
            if key in arch:
                return build(arch)
        return cls(SystemConfig.from_dict(arch["system_config"]), tuple(Task(**t) for t in arch["tasks"]),
                   tuple(arch["input_shape"]), arch["num_inputs"])

    def extra_repr(self) -> str:
        return (f"strategy={self.strategy}, modules={self.num_modules}, stages={self.num_stages}, "
                f"tasks={list(self.task_names)}")


def build_system(data: MultiTaskData, config: SystemConfig | None = None, **overrides) -> CoupledSystem:
    """A system shaped for ``data``: its tasks, input shape and per-module inputs."""
    config = config or SystemConfig()
    if overrides:
        config = SystemConfig(**{**config.to_dict(), **overrides})
    return CoupledSystem(config, data.tasks, data.input_shape, data.num_inputs)


