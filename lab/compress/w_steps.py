"""The W-guided recipe steps: how ``edges``, ``modules``, ``budget`` and ``student`` read their step text.

Each function takes ``(model, spec, data, options)`` like every step of :mod:`lab.compress.recipe`
(``spec``: the parsed step with ``name``, ``value``, ``options``; ``options``: the recipe's
``RecipeOptions``) and returns ``(model, Report)``; the work is done by the technique modules:

    edges:0.5[:grad|random][:threshold=T][:count=K][:epochs=N][:lr=X]   lab.compress.edges
    modules:1[:grad|magnitude|random][:epochs=N][:lr=X]                  lab.compress.modules
    budget:0.8[:bits=B][:uniform|magnitude|random][:spread=X][:epochs=N]  lab.compress.budgets
    student:64[x32][:T=4][:alpha=0.7][:epochs=N][:lr=X]                   lab.compress.distill_system
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from ..cost import Report
from ..data.base import MultiTaskData
from .budgets import BudgetConfig, budget_compress
from .distill_system import SystemDistillConfig, distill_system
from .edges import EdgePruneConfig, prune_edges
from .fit import FitConfig
from .modules import ModulePruneConfig, remove_modules


def _allowed(spec: Any, allowed: set[str]) -> None:
    unknown = sorted(set(spec.options) - allowed)
    if unknown:
        raise ValueError(f"step {spec.name!r} does not take option(s) {unknown}; it takes {sorted(allowed)}")


def _number(spec: Any, text: Any, what: str, cast=float):
    try:
        value = cast(float(text)) if cast is int else cast(text)
    except (TypeError, ValueError):
        raise ValueError(f"step {spec.name!r}: {what} must be a number, got {text!r}") from None
    if cast is int and float(text) != value:
        raise ValueError(f"step {spec.name!r}: {what} must be an integer, got {text!r}")
    return value


def _flag(spec: Any, choices: dict[str, str], default: str) -> str:
    picked = [value for key, value in choices.items() if spec.options.get(key)]
    if len(set(picked)) > 1:
        raise ValueError(f"step {spec.name!r}: choose one of {sorted(choices)}, got several")
    return picked[0] if picked else default


def _finetune(spec: Any, options: Any, data: MultiTaskData | None) -> FitConfig | None:
    if data is None:
        return None
    ft = options.finetune
    if "epochs" in spec.options:
        ft = replace(ft, epochs=_number(spec, spec.options["epochs"], "epochs", int))
    if "lr" in spec.options:
        ft = replace(ft, lr=_number(spec, spec.options["lr"], "lr"))
    return replace(ft, seed=options.seed)


def edges_step(model: nn.Module, spec: Any, data: MultiTaskData | None, options: Any) -> tuple[nn.Module, Report]:
    _allowed(spec, {"grad", "gradient", "random", "threshold", "count", "epochs", "lr"})
    score = _flag(spec, {"grad": "gradient", "gradient": "gradient", "random": "random"}, "magnitude")
    threshold = _number(spec, spec.options["threshold"], "threshold") if "threshold" in spec.options else None
    count = _number(spec, spec.options["count"], "count", int) if "count" in spec.options else None
    if spec.value is None and threshold is None and count is None:
        raise ValueError("step 'edges' needs the fraction of coupling edges to keep per stage (e.g. edges:0.5), "
                         "or threshold=T (keep |W| >= T) or count=K")
    keep = _number(spec, spec.value, "the fraction of edges kept") if spec.value is not None else None
    if score == "gradient" and data is None:
        raise ValueError("step 'edges:grad' scores edges on the validation split, so the recipe needs data")
    cfg = EdgePruneConfig(keep=keep, threshold=threshold, count=count, score=score,
                          finetune=_finetune(spec, options, data), seed=options.seed)
    return prune_edges(model, cfg, data=data, measure_config=options.measure)


def modules_step(model: nn.Module, spec: Any, data: MultiTaskData | None, options: Any) -> tuple[nn.Module, Report]:
    _allowed(spec, {"grad", "gradient", "magnitude", "random", "epochs", "lr"})
    score = _flag(spec, {"grad": "gradient", "gradient": "gradient", "magnitude": "magnitude", "random": "random"}, "w")
    remove = _number(spec, spec.value, "the number of modules to remove", int) if spec.value is not None else 1
    if score == "gradient" and data is None:
        raise ValueError("step 'modules:grad' scores modules on the validation split, so the recipe needs data")
    cfg = ModulePruneConfig(remove=remove, score=score, finetune=_finetune(spec, options, data), seed=options.seed)
    return remove_modules(model, cfg, data=data, measure_config=options.measure)


def budget_step(model: nn.Module, spec: Any, data: MultiTaskData | None, options: Any) -> tuple[nn.Module, Report]:
    _allowed(spec, {"bits", "uniform", "magnitude", "random", "spread", "epochs", "lr"})
    if spec.value is None:
        raise ValueError("step 'budget' needs the mean sparsity of the modules, e.g. budget:0.8 or budget:0.8:bits=4")
    allocation = _flag(spec, {"uniform": "uniform", "magnitude": "magnitude", "random": "random"}, "w")
    bits = _number(spec, spec.options["bits"], "bits", int) if "bits" in spec.options else None
    spread = _number(spec, spec.options["spread"], "spread") if "spread" in spec.options else 1.0
    cfg = BudgetConfig(_number(spec, spec.value, "the mean sparsity"), bits, allocation, spread,
                       _finetune(spec, options, data), options.seed)
    return budget_compress(model, cfg, data=data, measure_config=options.measure)


def student_step(model: nn.Module, spec: Any, data: MultiTaskData | None, options: Any) -> tuple[nn.Module, Report]:
    _allowed(spec, {"T", "alpha", "epochs", "lr"})
    if spec.value is None:
        raise ValueError("step 'student' needs the student's hidden widths, e.g. student:64 or student:64x32")
    try:
        hidden = tuple(int(h) for h in str(spec.value).split("x"))
    except ValueError:
        raise ValueError(f"step 'student': hidden widths look like 64 or 64x32, got {spec.value!r}") from None
    train = replace(options.finetune, epochs=_number(spec, spec.options.get("epochs", 30), "epochs", int),
                    lr=_number(spec, spec.options.get("lr", 1e-3), "lr"), seed=options.seed)
    cfg = SystemDistillConfig(hidden, _number(spec, spec.options.get("T", 4.0), "T"),
                              _number(spec, spec.options.get("alpha", 0.7), "alpha"), train, options.seed)
    return distill_system(model, cfg, data=data, measure_config=options.measure)
