"""What one trial runs: its params turned into ordinary lab calls (no second code path).

    plan = plan_trial(space, params)      # TrialPlan: SystemConfig + TrainConfig + weighting, and/or a recipe
    context = TrialContext.build(space)   # per worker: the data, the trained reference network
    outcome = run_plan(plan, context)     # lab.compare.run_strategy (train), lab.compress.run_recipe

A compression trial runs ``run_recipe(reference, "prune_layers:...,kmeans_layers:...", data, options)``
(the steps of ``lab.compress.layerwise``); a coupling trial ``run_strategy(data, system, train,
weighting)``; couple-then-compress both, the recipe on the trained system. The same plan rebuilds
the same model (seeded), which is how the panel and ``tune show --rebuild`` reopen a trial.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..compress.fit import FitConfig
from ..compress.recipe import RecipeOptions, run_recipe
from ..compress.reference import REFERENCE_FIT, digit_data, train_reference
from ..cost import FAST_MEASURE, Report, measure
from ..coupling.system import SystemConfig
from ..data import MultiTaskData, load_digits_tasks
from ..history import History
from ..train import TrainConfig
from .spaces import SearchSpace


class TrialStopped(Exception):
    """The worker was asked to stop while this trial ran; the trial is re-queued, not counted."""


@dataclass(frozen=True)
class TrialPlan:
    """The lab calls of one trial: train ``system`` with ``train`` and ``weighting`` (coupling kinds),
    then ``recipe`` with fine-tuning ``finetune`` (compression kinds); ``seed`` for the recipe."""

    system: SystemConfig | None = None
    train: TrainConfig | None = None
    weighting: str | None = None
    recipe: str | None = None
    finetune: FitConfig | None = None
    seed: int = 0

    def describe(self) -> str:
        parts = []
        if self.system is not None:
            widths = "x".join(str(w) for w in self.system.widths)
            parts.append(f"{self.system.strategy} {widths}, w_init {self.system.w_init[0]:.2f}, {self.train.optimizer} "
                         f"lr {self.train.lr:.2g}, {self.train.epochs} epochs, {self.weighting}"
                         + (f" {list(self.train.task_weights)}" if self.train.task_weights else ""))
        if self.recipe is not None:
            parts.append(f"{compact_recipe(self.recipe)} (fine-tune {self.finetune.epochs} epochs, lr {self.finetune.lr:.2g})")
        return "; then ".join(parts)


def compact_recipe(recipe: str) -> str:
    """``prune_layers:0.9/0.9/0.9`` -> ``prune_layers:0.9 (x3 layers)`` for display; mixed values stay."""
    def one(step: str) -> str:
        name, _, rest = step.partition(":")
        value, sep, options = rest.partition(":")
        parts = value.split("/")
        if len(parts) > 2 and len(set(parts)) == 1:
            value = f"{parts[0]} (x{len(parts)} layers)"
        return f"{name}:{value}{sep}{options}" if rest else step
    return ",".join(one(s) for s in recipe.split(","))


def _layer_recipe(sparsity: list[float], clusters: list[int], bias: int, steps: int, kmeans_lr: float) -> str:
    prune = "prune_layers:" + "/".join(f"{s:.4f}" for s in sparsity) + f":steps={steps}"
    share = "kmeans_layers:" + "/".join(str(int(k)) for k in clusters) + (f":bias={bias}" if bias else "")
    return f"{prune},{share}:lr={kmeans_lr:.3g}"


def _system_plan(space: SearchSpace, p: dict[str, Any]) -> tuple[SystemConfig, TrainConfig, str]:
    seed = int(space.base.get("seed", 0))
    w_self = float(p["w_self"])
    system = SystemConfig(strategy=p["strategy"], widths=(int(p["width"]),) * int(p["stages"]),
                          w_init=(w_self, 1.0 - w_self), seed=seed)
    weighting = p.get("weighting", "fixed")
    tasks = space.base.get("tasks", [])
    weights = tuple(float(p[f"task_weight.{t}"]) for t in tasks) if weighting == "fixed" and \
        all(f"task_weight.{t}" in p for t in tasks) else None
    train = TrainConfig(epochs=int(p["epochs"]), lr=float(p["lr"]), optimizer=p["optimizer"], task_weights=weights,
                        seed=seed)
    return system, train, weighting


def plan_trial(space: SearchSpace, params: dict[str, Any], layers: int | None = None) -> TrialPlan:
    """The plan of a trial with ``params`` (values of ``space.params``). ``layers``: layer count of the
    trained system (couple_then_compress; known only after training)."""
    seed = int(space.base.get("seed", 0))
    p = dict(params)
    if space.kind == "compression":
        n = int(space.base["layers"])
        recipe = _layer_recipe([p[f"sparsity.{i}"] for i in range(n)], [p[f"clusters.{i}"] for i in range(n)],
                               int(p["bias_clusters"]), int(p["prune_steps"]), float(p["kmeans_lr"]))
        return TrialPlan(recipe=recipe, finetune=FitConfig(epochs=int(p["finetune_epochs"]), lr=float(p["finetune_lr"])),
                         seed=seed)
    system, train, weighting = _system_plan(space, p)
    if space.kind == "coupling":
        return TrialPlan(system, train, weighting, seed=seed)
    recipe = None
    if layers is not None:
        recipe = _layer_recipe([p["sparsity"]] * layers, [p["clusters"]] * layers, int(p["bias_clusters"]), 1, 1e-4)
    return TrialPlan(system, train, "fixed", recipe, FitConfig(epochs=int(p["finetune_epochs"]), lr=1e-3), seed)


@dataclass
class TrialContext:
    """What a worker builds once for a space and reuses in every trial: the ``data`` and, for
    compression spaces, the trained ``reference`` model (seeded: the same on every worker)."""

    space: SearchSpace
    data: MultiTaskData
    reference: nn.Module | None = None
    reference_report: Report | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, space: SearchSpace) -> "TrialContext":
        b = space.base
        if space.kind != "compression":
            data = load_digits_tasks(tasks=tuple(b["tasks"]), seed=int(b["data_seed"]), limit=b["limit"])
            return cls(space, data)
        if b.get("run"):
            from ..runs import load_run, run_data_kwargs

            system, history = load_run(b["run"])
            if system is None:
                raise ValueError(f"{b['run']} holds no checkpoint.pt to compress")
            data = load_digits_tasks(**run_data_kwargs(b["run"], history))
            reference = system.eval()
        else:
            from dataclasses import replace

            data = digit_data(int(b["data_seed"]), b["limit"])
            fit = replace(REFERENCE_FIT, epochs=int(b["reference_epochs"]))
            reference = train_reference(b["model"], data, fit, int(b["seed"]))
        return cls(space, data, reference, measure(reference, data, "reference", FAST_MEASURE))


@dataclass
class TrialOutcome:
    """What a trial made: the final ``model``, the training ``history`` (coupling kinds), the Reports
    of the recipe step by step (first: the model before compression) and the wall time."""

    model: nn.Module
    reports: list[Report]
    history: History | None = None
    plan: TrialPlan | None = None
    seconds: float = 0.0


def run_plan(plan: TrialPlan, context: TrialContext, stop: threading.Event | None = None,
             params: dict[str, Any] | None = None) -> TrialOutcome:
    """Run the plan's lab calls; ``TrialStopped`` when ``stop`` is set before they finish.
    ``params``: the trial's params (couple_then_compress builds its recipe after training)."""
    from ..compare import run_strategy, weighting_for

    t0 = time.perf_counter()
    data, model, history = context.data, context.reference, None
    if plan.system is not None:
        result = run_strategy(data, plan.system, plan.train, weighting=weighting_for(plan.weighting, plan.train),
                              stop=stop)
        if result.history.stopped:
            raise TrialStopped("stopped while training")
        model, history = result.system, result.history
        if context.space.kind == "couple_then_compress" and plan.recipe is None:
            from ..compress.share import shareable_layers

            plan = plan_trial(context.space, params or {}, layers=len(shareable_layers(model)))
    if plan.recipe is None:
        return TrialOutcome(model, [measure(model, data, "trained", FAST_MEASURE)], history, plan,
                            time.perf_counter() - t0)
    options = RecipeOptions(finetune=plan.finetune, measure=FAST_MEASURE, seed=plan.seed)
    result = run_recipe(model, plan.recipe, data, options, reference_step="reference", stop=stop)
    if result.stopped:
        raise TrialStopped("stopped between recipe steps")
    return TrialOutcome(result.model, result.reports, history, plan, time.perf_counter() - t0)
