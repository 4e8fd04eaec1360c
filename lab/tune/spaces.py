"""Search spaces declared as data: a ``SearchSpace`` is a kind, a tuple of ``Param``s and fixed
``base`` settings, saved with its study (``to_dict``) and shown in the panel (``rows``).

    space = SPACES["mlp_compression"]                           # per-layer sparsity, clusters, bias sharing
    space = space.with_ranges({"sparsity.1": "0.9:0.99", "prune_steps": "4"})   # narrower; a fixed value
    space.sample(trial)                                         # {name: value}, through Optuna's suggest_*

Kinds (what a trial runs, ``lab.tune.trials``): ``compression`` (a recipe of per-layer steps on a
trained reference network), ``coupling`` (train a ``CoupledSystem``), ``couple_then_compress``
(train, then a recipe on the trained system). A param with ``when=(other, values)`` is only
sampled when ``other`` took one of ``values`` (task weights apply to the fixed weighting only).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:     # only named in type hints: the space is plain data (python -m lab --help reads it)
    import optuna

ParamKind = Literal["float", "int", "categorical"]
SpaceKind = Literal["compression", "coupling", "couple_then_compress"]
SPACE_KINDS: tuple[str, ...] = ("compression", "coupling", "couple_then_compress")


@dataclass(frozen=True)
class Param:
    """One searched setting: a float or int range [low, high] (``log``: sampled on a log scale) or
    ``choices`` (categorical; numbers, strings, booleans). low == high fixes the value."""

    name: str
    kind: ParamKind
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    when: tuple[str, tuple] | None = None
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "categorical"):
            raise ValueError(f"param {self.name!r}: kind must be float, int or categorical, got {self.kind!r}")
        if self.kind == "categorical":
            object.__setattr__(self, "choices", tuple(self.choices))
            if not self.choices:
                raise ValueError(f"param {self.name!r}: empty list of choices")
            if len(set(map(repr, self.choices))) != len(self.choices):
                raise ValueError(f"param {self.name!r}: repeated choices {list(self.choices)}")
            return
        for bound in ("low", "high"):
            v = getattr(self, bound)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"param {self.name!r}: {bound} must be a finite number, got {v!r}")
            if self.kind == "int" and int(v) != v:
                raise ValueError(f"param {self.name!r} is an integer: {bound} must be whole, got {v!r}")
        if self.low > self.high:
            raise ValueError(f"param {self.name!r}: empty range {self.low:g}..{self.high:g} (low > high)")
        if self.log and self.low <= 0:
            raise ValueError(f"param {self.name!r}: a log-scale range must be > 0, got {self.low:g}..{self.high:g}")

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)

    def applies(self, values: dict[str, Any]) -> bool:
        return self.when is None or values.get(self.when[0]) in self.when[1]

    def describe(self) -> str:
        if self.kind == "categorical":
            return " | ".join(str(c) for c in self.choices)
        text = f"{self.low:g}" if self.low == self.high else f"{self.low:g} .. {self.high:g}"
        return text + (" (log)" if self.log and self.low != self.high else "")

    def narrowed(self, text: str) -> "Param":
        """This param with the range or choices written as ``low:high``, ``a|b|c`` or one value."""
        text = str(text).strip()
        if not text:
            raise ValueError(f"param {self.name!r}: empty range")
        if self.kind == "categorical":
            by_text = {str(c): c for c in self.choices}
            picked = [p.strip() for p in text.split("|")]
            unknown = [p for p in picked if p not in by_text]
            if unknown:
                raise ValueError(f"param {self.name!r}: {unknown} not among its choices {list(by_text)}")
            return replace(self, choices=tuple(by_text[p] for p in picked))
        lo_text, _, hi_text = text.partition(":")
        try:
            lo = float(lo_text)
            hi = float(hi_text) if hi_text.strip() else lo
        except ValueError:
            raise ValueError(f"param {self.name!r}: a range looks like 0.5:0.9 (or one number), got {text!r}") from None
        if self.kind == "int":
            if lo != int(lo) or hi != int(hi):
                raise ValueError(f"param {self.name!r} is an integer: range {text!r} must be whole numbers")
            lo, hi = int(lo), int(hi)
        return replace(self, low=lo, high=hi)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "categorical":
            d["choices"] = list(self.choices)
        else:
            d.update(low=self.low, high=self.high, log=self.log)
        if self.when is not None:
            d["when"] = [self.when[0], list(self.when[1])]
        if self.help:
            d["help"] = self.help
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Param":
        when = d.get("when")
        return cls(d["name"], d["kind"], d.get("low"), d.get("high"), bool(d.get("log", False)),
                   tuple(d.get("choices", ())), (when[0], tuple(when[1])) if when else None, d.get("help", ""))


@dataclass(frozen=True)
class SearchSpace:
    """A named search space: its ``kind``, ``params`` and ``base`` (fixed settings, JSON values)."""

    name: str
    kind: SpaceKind
    params: tuple[Param, ...]
    base: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SPACE_KINDS:
            raise ValueError(f"space {self.name!r}: kind must be one of {list(SPACE_KINDS)}, got {self.kind!r}")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"space {self.name!r} names a param twice: {names}")
        if not names:
            raise ValueError(f"space {self.name!r} has no params to search")
        for p in self.params:
            if p.when is not None and p.when[0] not in names:
                raise ValueError(f"param {p.name!r} depends on {p.when[0]!r}, which is not in the space")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"unknown key {name!r} in space {self.name!r}; its keys are {self.names}")

    def with_ranges(self, ranges: dict[str, str]) -> "SearchSpace":
        """A copy with some ranges narrowed or fixed (``{"sparsity.0": "0.8:0.95", "prune_steps": "4"}``);
        ValueError for an unknown key or an empty range, before any trial runs."""
        changed = {name: self.param(name).narrowed(text) for name, text in ranges.items()}
        return replace(self, params=tuple(changed.get(p.name, p) for p in self.params))

    def with_base(self, **changes: Any) -> "SearchSpace":
        unknown = sorted(set(changes) - set(self.base))
        if unknown:
            raise ValueError(f"unknown base setting(s) {unknown} of space {self.name!r}; it has {sorted(self.base)}")
        return replace(self, base={**self.base, **changes})

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """{name: value} for this trial (params whose ``when`` does not hold are left out)."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.applies(values):
                values[p.name] = p.suggest(trial)
        return values

    def rows(self) -> list[dict[str, str]]:
        """One row per param for tables: key, range or choices, condition, help."""
        return [{"key": p.name, "range": p.describe(),
                 "when": f"{p.when[0]} in {list(p.when[1])}" if p.when else "", "help": p.help} for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "params": [p.to_dict() for p in self.params],
                "base": dict(self.base), "description": self.description}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchSpace":
        try:
            return cls(d["name"], d["kind"], tuple(Param.from_dict(p) for p in d["params"]), dict(d.get("base", {})),
                       d.get("description", ""))
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a search space record: {err}") from None

    def fingerprint(self) -> str:
        """A short hash of what is searched (kind, params' ranges and conditions, base settings; not the
        help texts): two studies search the same space iff their fingerprints match."""
        d = self.to_dict()
        d.pop("description")
        for p in d["params"]:
            p.pop("help", None)
        text = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]
