"""Robust test metrics of trained systems over attack radii, measured once and cached.

    curves = RobustCurves()
    curves.reset(data.test, clamp=input_range(data), seed=0)
    settings = AttackSettings.of("pgd", steps=10, modules="all")
    curves.measure("cross_stitch", system, eps_grid(0.2, 5), settings)   # {eps: {task: metric}}
    curves.curves(settings)                                              # {strategy: {eps: {task: metric}}}

Radii are rounded (:func:`eps_key`) so values that differ only in float noise share a cache
entry; eps 0 is measured like any radius (it must equal the clean metric). ``evaluations``
counts attacked evaluations of one system at one radius (cached radii do not count). Not
thread-safe: a caller that measures from several threads holds a lock around ``measure``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from torch import nn

from .adversarial import Attack, robust_accuracy
from .data.base import Split

Curve = dict[float, dict[str, float]]       # eps -> task -> robust test metric


def eps_key(eps: float) -> float:
    """Radii that differ only in float noise share a cache entry (rounded to 6 decimals)."""
    return round(float(eps), 6)


def eps_grid(eps_max: float, points: int) -> list[float]:
    """``points`` radii from 0 to ``eps_max`` in equal steps."""
    return [eps_key(eps_max * i / (points - 1)) for i in range(points)]


@dataclass(frozen=True)
class AttackSettings:
    """Everything of an attack but its radius: the cache key of a robust-metric curve."""

    kind: str
    steps: int
    modules: str | tuple[int, ...] = "all"

    @classmethod
    def of(cls, kind: str, steps: int, modules: str | tuple[int, ...] = "all") -> "AttackSettings":
        """Settings with ``steps`` 1 for FGSM (it takes one step whatever ``steps`` says)."""
        return cls(kind, steps if kind == "pgd" else 1, modules)

    def attack(self, eps: float, clamp: tuple[float, float] | None = None) -> Attack:
        return Attack(self.kind, eps=eps, steps=self.steps, modules=self.modules, clamp=clamp)

    @property
    def name(self) -> str:
        """E.g. "PGD (10 steps, modules [0])"."""
        parts = ([f"{self.steps} steps"] if self.kind == "pgd" else []) + (
            [f"modules {list(self.modules)}"] if self.modules != "all" else [])
        return self.kind.upper() + (f" ({', '.join(parts)})" if parts else "")


class RobustCurves:
    """Robust test metrics per attack settings, strategy and radius (see the module docstring)."""

    def __init__(self) -> None:
        self.evaluations = 0
        self.reset(None)

    def reset(self, split: Split | None, clamp: tuple[float, float] | None = None, seed: int = 0) -> None:
        """Forget every measured curve; measure on ``split`` from now on (inputs clamped to ``clamp``,
        random starts seeded with ``seed``). ``evaluations`` keeps counting."""
        self.split, self.clamp, self.seed = split, clamp, seed
        self._cache: dict[AttackSettings, dict[str, Curve]] = {}

    def measure(self, strategy: str, system: nn.Module, radii: Iterable[float], settings: AttackSettings) -> Curve:
        """The curve of ``strategy``'s ``system`` with every radius of ``radii`` measured (cached ones reused)."""
        if self.split is None:
            raise ValueError("no split to attack: call reset(split, ...) first")
        curve = self._cache.setdefault(settings, {}).setdefault(strategy, {})
        for eps in sorted(map(eps_key, radii)):
            if eps not in curve:
                curve[eps] = robust_accuracy(system, self.split, settings.attack(eps, self.clamp), seed=self.seed)
                self.evaluations += 1
        return dict(curve)

    def curves(self, settings: AttackSettings, strategies: Iterable[str] | None = None) -> dict[str, Curve]:
        """{strategy: {eps: {task: metric}}} measured so far with ``settings`` (only ``strategies``, if given)."""
        measured = self._cache.get(settings, {})
        keep = set(measured) if strategies is None else set(strategies)
        return {s: dict(c) for s, c in measured.items() if s in keep}
