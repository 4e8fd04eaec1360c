"""What is left of a cross-stitch system after W-guided pruning: ``PrunedStructure`` (kept modules, kept
coupling edges per stage, the routes of removed modules' tasks), JSON-able, so a checkpoint rebuilds it.
See :mod:`lab.coupling.pruned`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        routes = {str(t): tuple(sorted(int(j) for j in src)) for t, src in dict(self.routes).items()}
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
