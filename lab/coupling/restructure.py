"""Build a ``PrunedSystem`` from a trained cross-stitch system (full or pruned already), copying every weight
it keeps: ``restructure(system, modules=..., edges=...)``; and the checks and readers W-guided compression
shares (``check_prunable``, ``structure_of``, ``coupling_value``)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .pruned import PrunedSystem
from .structure import Edge, PrunedStructure
from .system import CoupledSystem


def check_prunable(system: nn.Module, what: str = "W-guided pruning") -> None:
    """ValueError unless ``system`` is a CoupledSystem with a learned, input-independent W (cross-stitch)."""
    if not isinstance(system, CoupledSystem):
        raise ValueError(f"{what} acts on the coupling W of a CoupledSystem; this model is a "
                         f"{type(system).__name__} without a coupling (use prune/channels/kmeans for it)")
    if not isinstance(getattr(system, "coupling", None), nn.Module):      # e.g. lab.detection's DetectionSystem
        raise ValueError(f"{what} acts on the stage-wise coupling of the lab's coupled systems; a "
                         f"{type(system).__name__} mixes its modules its own way (use prune/channels/kmeans/int8)")
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
