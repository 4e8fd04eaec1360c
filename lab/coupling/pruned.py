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
ONNX export, and the exported graph holds fewer weights. ``restructure`` builds a smaller system
from a trained one, copying every weight it keeps::

    small = restructure(system, modules=[0, 1, 2], edges=[[(1, 0), (2, 1)], [(1, 0)]])
    small.num_modules          # 3;  small(x) -> {task: logits} for every task, task3 read via its route
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from ..data.base import Task
from .blocks import build_stack, head
from .system import ARCHITECTURES, CoupledSystem, SystemConfig

Edge = tuple[int, int]



@dataclass(frozen=True)
class PrunedStructure:
    """What is left of an ``num_original``-module cross-stitch system (see the module docstring)."""

    num_original: int
    modules: tuple[int, ...]
    edges: tuple[tuple[Edge, ...], ...]
    routes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = int(self.num_original)
        modules = tuple(int(m) for m in self.modules)
        edges = tuple(tuple(sorted({(int(i), int(j)) for i, j in stage})) for stage in self.edges)
        routes = {str(t): tuple(int(j) for j in src) for t, src in dict(self.routes).items()}
        object.__setattr__(self, "modules", modules)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "routes", routes)
        if not modules:
            raise ValueError("a pruned system needs at least one sub-module; removing every module leaves nothing "
                             "to compute the tasks")
        if len(set(modules)) != len(modules) or any(not 0 <= m < n for m in modules) or list(modules) != sorted(modules):
            raise ValueError(f"modules must be distinct original indices in 0..{n - 1}, in order; got {list(modules)}")
        kept = set(modules)
        for s, stage in enumerate(edges):
            bad = [e for e in stage if e[0] == e[1] or e[0] not in kept or e[1] not in kept]
            if bad:
                raise ValueError(f"stage {s}: edges {bad} are not off-diagonal edges between kept modules {list(modules)}")
        for task, src in routes.items():
            if not src or any(j not in kept for j in src):
                raise ValueError(f"the route of task {task!r} must read at least one kept module, got {list(src)}")

    @classmethod
    def full(cls, num_modules: int, num_stages: int) -> "PrunedStructure":
        """Every module and every edge: the structure of an unpruned cross-stitch system."""
        every = tuple((i, j) for i in range(num_modules) for j in range(num_modules) if i != j)
        return cls(num_modules, tuple(range(num_modules)), (every,) * num_stages)

    def sources(self, stage: int, i: int) -> tuple[int, ...]:
        """Modules (original indices) that module ``i`` reads after ``stage``: itself first, then its edges."""
        return (i,) + tuple(j for (r, j) in self.edges[stage] if r == i)

    @property
    def num_edges(self) -> int:
        """Kept off-diagonal edges over all stages."""
        return sum(len(stage) for stage in self.edges)

    def to_dict(self) -> dict[str, Any]:
        return {"num_original": self.num_original, "modules": list(self.modules),
                "edges": [[list(e) for e in stage] for stage in self.edges],
                "routes": {t: list(src) for t, src in self.routes.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PrunedStructure":
        return cls(d["num_original"], tuple(d["modules"]), tuple(tuple(tuple(e) for e in s) for s in d["edges"]),
                   {t: tuple(src) for t, src in d.get("routes", {}).items()})


class EdgeMix(nn.Module):
    """The cross-stitch mix over kept edges only: after stage s, x~_i = sum_{j in sources(s, i)} w_ij x_j.

    Stage s holds one vector ``w[s]`` with an entry per kept edge (diagonal included), in the order of
    ``edge_order[s]``: (E_s,), or (E_s, C) per channel; a routed task's weights are ``routes[task]``,
    one entry per module it reads. Each edge is one multiply-add in the graph; an absent edge has no
    entry and no operation.
    """

    def __init__(self, structure: PrunedStructure, stage_shapes: list[tuple[int, ...]], per_channel: bool = False):
        super().__init__()
        self.structure = structure
        self.per_channel = per_channel
        self.stage_shapes = stage_shapes
        self.index = {m: k for k, m in enumerate(structure.modules)}     # original index -> position
        self.edge_order = [[(i, j) for i in structure.modules for j in structure.sources(s, i)]
                           for s in range(len(stage_shapes))]
        self.position = [{e: k for k, e in enumerate(order)} for order in self.edge_order]

        def param(count: int, shape: tuple[int, ...]) -> nn.Parameter:
            return nn.Parameter(torch.zeros(count, shape[0]) if per_channel else torch.zeros(count))

        self.w = nn.ParameterList([param(len(order), shape) for order, shape in zip(self.edge_order, stage_shapes)])
        self.routes = nn.ParameterDict({task: param(len(src), stage_shapes[-1])
                                        for task, src in structure.routes.items()})

    def _scaled(self, w: Tensor, h: Tensor) -> Tensor:
        if self.per_channel:
            w = w.reshape(w.shape[0], *([1] * (h.dim() - 2)))
        return w * h

    def _sum(self, weights: tuple[Tensor, ...], sources, states: list[Tensor]) -> Tensor:
        acc = None
        for w, j in zip(weights, sources):
            term = self._scaled(w, states[self.index[j]])
            acc = term if acc is None else acc + term
        return acc

    def mix(self, stage: int, states: list[Tensor]) -> list[Tensor]:
        weights = self.w[stage].unbind(0)
        out, k = [], 0
        for i in self.structure.modules:
            sources = self.structure.sources(stage, i)
            out.append(self._sum(weights[k:k + len(sources)], sources, states))
            k += len(sources)
        return out

    def route(self, task: str, states: list[Tensor]) -> Tensor:
        return self._sum(self.routes[task].unbind(0), self.structure.routes[task], states)

    def value(self, stage: int, i: int, j: int) -> Tensor | None:
        """The weight of edge (i, j) after ``stage`` (original indices; a view), None when it was pruned."""
        k = self.position[stage].get((i, j))
        return None if k is None else self.w[stage][k]

    def original_matrices(self) -> list[Tensor]:
        """(num_original, num_original) per stage, zeros where an edge or a module was removed (per-channel:
        mean over channels)."""
        n = self.structure.num_original
        mats = []
        for order, w in zip(self.edge_order, self.w):
            W = torch.zeros(n, n)
            values = w.detach().float()
            values = values.mean(-1) if self.per_channel else values
            for (i, j), v in zip(order, values):
                W[i, j] = v
            mats.append(W)
        return mats

    def matrices(self) -> list[Tensor]:
        """(num_modules, num_modules) per stage over the kept modules, zeros at pruned edges."""
        idx = torch.tensor(self.structure.modules)
        return [W[idx][:, idx].clone() for W in self.original_matrices()]

    def flops(self) -> int:
        """Multiply-adds of the mix and the routes per example, as FLOPs (2 per edge and state value)."""
        size = [math.prod(shape) for shape in self.stage_shapes]
        total = sum(2 * len(order) * size[s] for s, order in enumerate(self.edge_order))
        return total + sum(2 * len(src) * size[-1] for src in self.structure.routes.values())


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
                stack, stage_shapes = build_stack(config.block, self.input_shape, widths[m], config.dropout)
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

    def uncounted_flops(self) -> int:
        """FLOPs per example of the mix (elementwise multiply-adds, which the FLOP counter does not see)."""
        return self.coupling.flops()

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


# --- building a pruned system from a trained one ---------------------------------------------------
def check_prunable(system: nn.Module, what: str = "W-guided pruning") -> None:
    """ValueError unless ``system`` is a CoupledSystem with a learned, input-independent W (cross-stitch)."""
    if not isinstance(system, CoupledSystem):
        raise ValueError(f"{what} acts on the coupling W of a CoupledSystem; this model is a "
                         f"{type(system).__name__} without a coupling (use prune/channels/kmeans for it)")
    if system.strategy != "cross_stitch":
        why = ("its W(x) depends on the input, so no edge is absent for every input"
               if system.strategy == "attention" else "its W is fixed, not learned, so W says nothing about what matters")
        raise ValueError(f"{what} needs a learned cross-stitch W; this system's coupling is {system.strategy!r}: "
                         f"{why}. Train with strategy 'cross_stitch'")


def structure_of(system: CoupledSystem) -> PrunedStructure:
    """The structure of a (pruned or full) cross-stitch system."""
    check_prunable(system)
    if isinstance(system, PrunedSystem):
        return system.structure
    return PrunedStructure.full(system.num_modules, system.num_stages)


def coupling_value(system: CoupledSystem, stage: int, i: int, j: int) -> Tensor:
    """W^stage_ij of a cross-stitch system (original indices): a scalar, or (C,) per channel."""
    if isinstance(system, PrunedSystem):
        value = system.coupling.value(stage, i, j)
        if value is None:
            raise ValueError(f"edge ({i}, {j}) of stage {stage} was pruned")
        return value.detach()
    return system.coupling.W[stage][i, j].detach()


def _route_weights(system: CoupledSystem, task: str, m: int, sources: Sequence[int]) -> dict[int, Tensor]:
    if isinstance(system, PrunedSystem) and task in system.structure.routes:
        old = system.structure.routes[task]
        return {j: system.coupling.routes[task][old.index(j)].detach() for j in sources}
    last = system.num_stages - 1
    return {j: coupling_value(system, last, m, j) for j in sources}


def _head(system: CoupledSystem, task: str) -> nn.Module:
    if isinstance(system, PrunedSystem) and task in system.route_heads:
        return system.route_heads[task]
    m = system.task_names.index(task)
    k = system.coupling.index[m] if isinstance(system, PrunedSystem) else m
    return system.heads[k][task]


def restructure(system: CoupledSystem, modules: Sequence[int] | None = None,
                edges: Sequence[Sequence[Edge]] | None = None) -> PrunedSystem:
    """A ``PrunedSystem`` keeping ``modules`` (original indices; default: all kept now) and ``edges`` per
    stage (default: every edge kept now between them), with the trained weights copied; ``system`` is
    not changed. A removed module's task reads the kept modules its last-stage row of W reads."""
    old = structure_of(system)
    modules = tuple(sorted(old.modules if modules is None else {int(m) for m in modules}))
    if not modules:
        raise ValueError(f"cannot remove every module: keep at least one of {list(old.modules)}")
    lost = [m for m in modules if m not in old.modules]
    if lost:
        raise ValueError(f"modules {lost} were removed already; this system keeps {list(old.modules)}")
    kept = set(modules)
    if edges is None:
        edges = [[e for e in stage if e[0] in kept and e[1] in kept] for stage in old.edges]
    if len(edges) != len(old.edges):
        raise ValueError(f"give the kept edges of each of the {len(old.edges)} stages, got {len(edges)}")
    edges = tuple(tuple((int(i), int(j)) for i, j in stage) for stage in edges)
    for s, stage in enumerate(edges):
        missing = sorted(set(stage) - set(old.edges[s]))
        if missing:
            raise ValueError(f"stage {s}: edges {missing} are not in this system (pruned already, or between "
                             "removed modules)")
    last = len(old.edges) - 1
    routes = {}
    for m, task in enumerate(system.task_names):
        if m in kept:
            continue
        was = old.routes[task] if task in old.routes else tuple(j for j in old.sources(last, m) if j != m)
        routes[task] = tuple(j for j in was if j in kept)
        if not routes[task]:
            raise ValueError(f"removing module {m} leaves task {task!r} with nothing to read: its row of the last "
                             f"stage's W takes nothing from the kept modules {list(modules)}")
    structure = PrunedStructure(old.num_original, modules, edges, routes)
    new = PrunedSystem(system.config, system.tasks, system.input_shape, system.num_inputs, structure)
    _copy_weights(system, new)
    return new.train(system.training)


@torch.no_grad()
def _copy_weights(source: CoupledSystem, new: PrunedSystem) -> None:
    src_index = source.coupling.index if isinstance(source, PrunedSystem) else {m: m for m in range(source.num_modules)}
    for k, m in enumerate(new.structure.modules):
        new.stacks[k].load_state_dict(source.stacks[src_index[m]].state_dict())
        task = new.tasks[m].name
        new.heads[k][task].load_state_dict(_head(source, task).state_dict())
    for s, order in enumerate(new.coupling.edge_order):
        for k, (i, j) in enumerate(order):
            new.coupling.w[s][k] = coupling_value(source, s, i, j)
    for task, src in new.structure.routes.items():
        m = new.task_names.index(task)
        for k, value in enumerate(_route_weights(source, task, m, src).values()):
            new.coupling.routes[task][k] = value
        new.route_heads[task].load_state_dict(_head(source, task).state_dict())
