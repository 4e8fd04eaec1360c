"""A cross-stitch system with coupling edges or whole sub-modules removed: ``PrunedSystem``.

The structure (:class:`PrunedStructure`) is part of the architecture, so a checkpoint rebuilds it
(``CoupledSystem.from_architecture`` dispatches on the ``"pruned"`` key):

* ``modules``: original indices of the sub-modules kept (module m reads input m when every module
  has its own input);
* ``edges[s]``: the off-diagonal edges (i, j) kept after stage s, original indices (i: receiver,
  j: sender); the diagonal (a module's own state) is always kept;
* ``routes``: for a removed module's task, the kept modules its head reads: the head sees
  ``sum_j W^S_mj h_j`` over those modules, the removed module's row of the last stage's W.

The mix is computed only over kept edges (one multiply-add per edge; an absent edge has no
parameter and no operation), so a pruned edge is exactly zero through fine-tuning, checkpoints and
ONNX export, and the exported graph holds fewer weights. ``restructure``
(:mod:`lab.coupling.restructure`) builds a smaller system from a trained one, copying every weight it keeps::

    small = restructure(system, modules=[0, 1, 2], edges=[[(1, 0), (2, 1)], [(1, 0)]])
    small.num_modules          # 3;  small(x) -> {task: logits} for every task, task3 read via its route
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..data.base import Task
from .blocks import build_stack, head
from .edge_mix import EdgeMix
from .structure import Edge, PrunedStructure
from .system import ARCHITECTURES, CoupledSystem, SystemConfig

__all__ = ["Edge", "EdgeMix", "PrunedStructure", "PrunedSystem"]


class PrunedSystem(CoupledSystem):
    """A ``CoupledSystem`` of the kept modules of a cross-stitch system (see the module docstring).

    Inputs and outputs as the original: every task is still predicted (routed tasks through their
    route); ``num_modules`` counts the kept modules.
    """

    def __init__(self, config: SystemConfig, tasks: tuple[Task, ...], input_shape: tuple[int, ...],
                 num_inputs: int | None, structure: PrunedStructure):
        nn.Module.__init__(self)
        if config.strategy != "cross_stitch":
            raise ValueError(f"pruned systems are cross-stitch systems, got strategy {config.strategy!r}")
        if structure.num_original != len(tasks):
            raise ValueError(f"the structure is of {structure.num_original} modules but there are {len(tasks)} tasks "
                             "(cross-stitch puts task i on module i)")
        removed = [tasks[m].name for m in range(len(tasks)) if m not in structure.modules]
        if sorted(removed) != sorted(structure.routes):
            raise ValueError(f"the tasks of removed modules {removed} need a route each; routes: {list(structure.routes)}")
        if num_inputs is not None and num_inputs != structure.num_original:
            raise ValueError(f"the data gives {num_inputs} per-module inputs for {structure.num_original} modules")
        self.config, self.tasks, self.input_shape = config, tuple(tasks), tuple(input_shape)
        self.num_inputs, self.structure = num_inputs, structure
        self.num_modules = len(structure.modules)
        widths = config.module_widths(structure.num_original)
        if len(structure.edges) != len(widths[0]):
            raise ValueError(f"the structure has {len(structure.edges)} stages of edges, the modules {len(widths[0])}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.stacks, shapes = nn.ModuleList(), []
            for m in structure.modules:
                stack, stage_shapes = build_stack(config.block, self.input_shape, widths[m], config.dropout,
                                                  **config.stage_options())
                self.stacks.append(stack)
                shapes.append(stage_shapes)
            if any(s != shapes[0] for s in shapes):
                raise ValueError(f"cross-stitch mixes stage s of every module, so stage shapes must match; got {shapes}")
            self.coupling = EdgeMix(structure, shapes[0], config.per_channel)
            self.assignment = [(self.tasks[m].name,) for m in structure.modules]
            self.heads = nn.ModuleList(nn.ModuleDict({name: head(shapes[0][-1], self.tasks[m].num_outputs)})
                                       for m, (name,) in zip(structure.modules, self.assignment))
            self.route_heads = nn.ModuleDict({t.name: head(shapes[0][-1], t.num_outputs) for t in self.tasks
                                              if t.name in structure.routes})

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        expected = ((self.num_inputs,) if self.num_inputs is not None else ()) + self.input_shape
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"input of shape {tuple(x.shape)} does not fit this system: expected (B, "
                             f"{', '.join(map(str, expected))})")
        h = [x[:, m] for m in self.structure.modules] if self.num_inputs is not None else [x] * self.num_modules
        for s in range(self.num_stages):
            h = self.coupling.mix(s, [self.stacks[k][s](h[k]) for k in range(self.num_modules)])
        out = {}
        for m, task in enumerate(self.tasks):
            if m in self.coupling.index:
                out[task.name] = self.heads[self.coupling.index[m]][task.name](h[self.coupling.index[m]])
            else:
                out[task.name] = self.route_heads[task.name](self.coupling.route(task.name, h))
        return out

    def coupling_matrices(self, split=None, batch_size: int = 1024) -> list[Tensor]:
        """W per stage over the kept modules, zeros at pruned edges (W does not depend on the input)."""
        return self.coupling.matrices()

    def original_matrices(self) -> list[Tensor]:
        """W per stage in the original module numbering, zeros where edges or modules were removed."""
        return self.coupling.original_matrices()

    @torch.no_grad()
    def uncounted_flops(self) -> int:
        """FLOPs per example of the mix (elementwise multiply-adds, which the FLOP counter does not see), for
        the stage sizes the modules have now (channel pruning shrinks them)."""
        h, sizes = torch.zeros(1, *self.input_shape), []
        for stage in self.stacks[0]:
            h = stage(h)
            sizes.append(h[0].numel())
        return self.coupling.flops(sizes)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.heads.parameters()) + list(self.route_heads.parameters())

    def architecture(self) -> dict[str, Any]:
        return {**super().architecture(), "pruned": self.structure.to_dict()}

    @classmethod
    def from_architecture(cls, arch: dict[str, Any]) -> "PrunedSystem":
        return cls(SystemConfig.from_dict(arch["system_config"]), tuple(Task(**t) for t in arch["tasks"]),
                   tuple(arch["input_shape"]), arch["num_inputs"], PrunedStructure.from_dict(arch["pruned"]))

    def extra_repr(self) -> str:
        removed = [m for m in range(self.structure.num_original) if m not in self.structure.modules]
        return f"{super().extra_repr()}, removed modules={removed}, edges kept={self.structure.num_edges}"


ARCHITECTURES["pruned"] = PrunedSystem.from_architecture
