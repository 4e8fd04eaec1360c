"""Recipes: compression steps composed in any order, one Report per step.

A recipe is a comma-separated string, ``name[:value][:key=value|flag ...]`` per step::

    prune:0.9,kmeans:16,int8              # prune 90% (global), share 16 values per layer, int8 dynamic
    channels:0.5,prune:0.8:layer,fakequant:4:tensor:affine
    gradual:0.95:steps=4,kmeans:8,int8:static

or a YAML/JSON file with a list of such strings, or of mappings ``{name: {value: ..., key: ...}}``.
Every step returns (model, Report); ``run_recipe`` measures the input model first ("fp32"), so the
table reads step by step from the reference. int8 steps turn the model into an integer graph, so
they must come last.

Steps (``STEPS``): prune, channels, gradual, kmeans, fakequant, int8, distill, ensemble, the per-layer
prune_layers and kmeans_layers (``lab.compress.layerwise``), and the W-guided steps for cross-stitch
systems (:mod:`lab.compress.w_steps`): edges, modules, budget, student.
Fine-tuning after prune/channels/kmeans uses ``RecipeOptions.finetune`` unless a step sets
``epochs=``/``lr=``. Fine-tuning retrains every free weight, so a step that fine-tunes after
``kmeans`` or ``fakequant`` undoes their sharing/grid: put sharing and quantization after pruning
(Deep Compression's order) or give the later step ``epochs=0``. (kmeans fine-tunes only centroids.)

Parsing is strict and table-driven (:mod:`lab.compress.recipe_grammar`): every value, flag and
option is typed and range-checked before any step runs; unknown or misspelt ones are refused.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from torch import nn

from ..cost import MeasureConfig, Report, measure
from ..data.base import MultiTaskData
from ..models import build_model
from .distill import DistillConfig, distill
from .ensemble import EnsembleConfig, ensemble
from .fakequant import FakeQuantConfig, fake_quantize
from ..validation import check_seed, show
from .fit import FitConfig, check_finetune
from .gradual import GradualConfig, gradual_prune
from .int8 import Int8Config, quantize_int8
from .layerwise import apply_kmeans_layers, apply_prune_layers
from .recipe_grammar import GRAMMAR, StepSpec, parse_recipe, parse_step, step_args
from .prune import PruneConfig, prune
from .share import KMeansConfig, share_weights, shareable_layers
from .structured import ChannelPruneConfig, prune_channels
from .w_steps import budget_step, edges_step, modules_step, student_step


@dataclass(frozen=True)
class RecipeOptions:
    """Defaults shared by the steps: fine-tuning after each step, measurement, seed."""

    finetune: FitConfig = field(default_factory=lambda: FitConfig(epochs=8, lr=1e-3))
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        check_finetune(self.finetune, optional=False)
        if not isinstance(self.measure, MeasureConfig):
            raise ValueError(f"measure must be a MeasureConfig, got {show(self.measure)}")
        object.__setattr__(self, "seed", check_seed(self.seed))


@dataclass(frozen=True)
class Step:
    """A recipe step: how to apply it (its grammar: ``recipe_grammar.GRAMMAR[name]``)."""

    name: str
    help: str
    apply: Callable[[nn.Module, StepSpec, MultiTaskData | None, RecipeOptions], tuple[nn.Module, Report]]
    terminal: bool = False
    needs_data: bool = False


# --- option helpers ------------------------------------------------------------------------
def _finetune(args: dict, options: RecipeOptions, epochs: int | None = None, lr: float | None = None) -> FitConfig:
    """The shared fine-tuning settings, with the step's ``epochs=``/``lr=`` (else these defaults) on top."""
    ft = options.finetune
    epochs = args.get("epochs", epochs)
    lr = args.get("lr", lr)
    return replace(ft, epochs=ft.epochs if epochs is None else int(epochs), lr=ft.lr if lr is None else float(lr),
                   seed=options.seed)


# --- the steps -----------------------------------------------------------------------------
def _prune(model, spec, data, options):
    args = step_args(spec)
    ft = _finetune(args, options) if data is not None else None
    cfg = PruneConfig(args["value"], args["scope"] or "global", include_coupling=args["coupling"], finetune=ft)
    return prune(model, cfg, data=data, measure_config=options.measure)


def _channels(model, spec, data, options):
    args = step_args(spec)
    cfg = ChannelPruneConfig(args["value"], args["importance"] or "l2", global_pruning=args["global"],
                             finetune=_finetune(args, options) if data is not None else None, seed=options.seed)
    return prune_channels(model, cfg, data=data, measure_config=options.measure)


def _gradual(model, spec, data, options):
    args = step_args(spec)
    ft = _finetune(args, options)          # epochs of fine-tuning after every pruning step
    cfg = GradualConfig(args["value"], steps=args.get("steps", 4), scope=args["scope"] or "global", finetune=ft)
    return gradual_prune(model, cfg, data=data, measure_config=options.measure)


def _kmeans(model, spec, data, options):
    args = step_args(spec)
    ft = _finetune(args, options, lr=1e-4) if data is not None else None
    cfg = KMeansConfig(args["value"], args["init"] or "linear", finetune=ft, seed=options.seed)
    return share_weights(model, cfg, data=data, measure_config=options.measure)


def _fakequant(model, spec, data, options):
    args = step_args(spec)
    cfg = FakeQuantConfig(args["value"], args["granularity"] or "channel", args["scheme"] or "symmetric",
                          args["rounding"] or "nearest")
    return fake_quantize(model, cfg, data=data, measure_config=options.measure)


def _int8(model, spec, data, options):
    args = step_args(spec)
    mode = args["value"]
    if mode == "dynamic" and not any(isinstance(m, nn.Linear) for m in model.modules()):
        raise ValueError("step 'int8:dynamic' does not apply to this model: dynamic int8 quantizes Linear "
                         "layers and it has none (use int8:static)")
    cfg = Int8Config(mode, "torchao" if args["torchao"] else "torch", finetune=_finetune(args, options, 3, 1e-4),
                     compile=args["compile"])
    return quantize_int8(model, cfg, data=data, measure_config=options.measure)


def _distill(model, spec, data, options):
    args = step_args(spec)
    task_name = args.get("task") or data.tasks[0].name
    task = next((t for t in data.tasks if t.name == task_name), None)
    if task is None:
        raise ValueError(f"step 'distill': unknown task {task_name!r}; the data has {list(data.task_names)}")
    student = build_model("mlp", data.input_shape, task.num_outputs, seed=options.seed, hidden=args["value"])
    cfg = DistillConfig(args.get("T", 4.0), args.get("alpha", 0.7), task.name, _finetune(args, options, 30, 1e-3))
    return distill(student, cfg, teacher=model, data=data, measure_config=options.measure)


def _ensemble(model, spec, data, options):
    args = step_args(spec)
    return ensemble(model, EnsembleConfig(args["value"], _finetune(args, options, 30, 1e-3), options.seed),
                    data=data, measure_config=options.measure)


STEPS: dict[str, Step] = {
    "prune": Step("prune", "prune:S[:layer][:coupling][:epochs=N][:lr=R] unstructured magnitude pruning to "
                  "sparsity S", _prune),
    "channels": Step("channels", "channels:R[:l1|l2|random][:global] remove a fraction R of channels "
                     "(Torch-Pruning)", _channels),
    "gradual": Step("gradual", "gradual:S[:layer][:steps=N] Zhu & Gupta schedule to sparsity S with fine-tuning",
                    _gradual, needs_data=True),
    "kmeans": Step("kmeans", "kmeans:K[:k-means++][:epochs=N] share K values per layer (k-means), centroids "
                   "fine-tuned", _kmeans),
    "fakequant": Step("fakequant", "fakequant:B[:tensor][:affine][:truncate] B-bit weight grid (2-16)", _fakequant),
    "int8": Step("int8", "int8[:dynamic[:torchao]|static|qat][:compile] int8 model (must be last)", _int8,
                 terminal=True),
    "distill": Step("distill", "distill:H[xH2][:T=4][:alpha=0.7][:task=NAME] train an MLP student from the "
                    "current model", _distill, needs_data=True),
    "ensemble": Step("ensemble", "ensemble:M retrain M copies of the architecture and average them",
                     _ensemble, needs_data=True),
    "edges": Step("edges", "edges:F[:grad|random][:threshold=T][:count=K] keep a fraction F of the coupling edges "
                  "per stage, by |W| (cross-stitch)", edges_step),
    "modules": Step("modules", "modules:K[:grad|magnitude|random] remove the K sub-modules W needs least, "
                    "re-routing their tasks (cross-stitch)", modules_step),
    "budget": Step("budget", "budget:S[:bits=B][:uniform|magnitude|random] per-module sparsity/bits from W and "
                   "sensitivity, mean sparsity S", budget_step, needs_data=True),
    "student": Step("student", "student:H[xH2][:T=4][:alpha=0.7] distil every task into one multi-head MLP student",
                    student_step, needs_data=True),
    # per-layer budgets (lab.compress.layerwise): one value per layer, '/'-separated
    "prune_layers": Step("prune_layers", "prune_layers:S1/S2/..[:steps=N] sparsity S_l for layer l", apply_prune_layers),
    "kmeans_layers": Step("kmeans_layers", "kmeans_layers:K1/K2/..[:bias=K] K_l shared values in layer l "
                          "(bias=K: biases too)", apply_kmeans_layers),
}
assert set(STEPS) == set(GRAMMAR)


def check_recipe(specs: list[StepSpec], data: MultiTaskData | None, model: nn.Module | None = None) -> None:
    """What a recipe needs from the data and the model, checked before any step runs (or, with an
    untrained model of the same architecture, before training): data for training steps, the task
    ``distill:task=`` names, Linear layers for int8:dynamic, enough weights per layer for kmeans."""
    for spec in specs:
        args = step_args(spec)
        if STEPS[spec.name].needs_data and data is None:
            raise ValueError(f"step {spec.name!r} trains, so the recipe needs data")
        task = args.get("task")
        if task is not None and data is not None and task not in data.task_names:
            raise ValueError(f"step {str(spec)!r}: unknown task {task!r}; the data has {list(data.task_names)}")
        if model is None:
            continue
        if spec.name == "int8" and args["value"] == "dynamic" and not any(isinstance(m, nn.Linear)
                                                                          for m in model.modules()):
            raise ValueError("step 'int8:dynamic' does not apply to this model: dynamic int8 quantizes Linear "
                             "layers and it has none (use int8:static)")
        if spec.name == "kmeans":
            sizes = {name: layer.weight.numel() for name, layer in shareable_layers(model).items()}
            small = {n: k for n, k in sizes.items() if k < args["value"]}
            if small:
                raise ValueError(f"step {str(spec)!r}: {args['value']} clusters are more than the weights of layer(s) "
                                 f"{small}; use fewer clusters")


@dataclass
class RecipeResult:
    """The final model and one Report per step (the first: the input model).

    ``stopped``: the stop flag ended the recipe early; ``reports`` then cover the steps done."""

    model: nn.Module
    reports: list[Report]
    models: list[nn.Module] = field(default_factory=list)
    stopped: bool = False

    def table(self, weights=None) -> str:
        from ..cost import CostWeights, format_reports

        return format_reports(self.reports, weights or CostWeights())


def run_recipe(model: nn.Module, recipe: str | list | Path, data: MultiTaskData | None = None,
               options: RecipeOptions = RecipeOptions(), *, reference_step: str = "fp32",
               keep_models: bool = False, stop: threading.Event | None = None,
               on_step: Callable[[Report, int, int], None] | None = None) -> RecipeResult:
    """Apply the recipe's steps in order to a copy of ``model``; the caller's model is unchanged.

    ``stop``: checked before every step; once set, the recipe ends with the steps done so far
    (``RecipeResult.stopped``). ``on_step(report, done, total)`` is called after the reference
    measurement (done 0) and after every step (done 1..total = number of steps).
    """
    specs = parse_recipe(recipe)
    check_recipe(specs, data, model)
    reports = [measure(model, data, reference_step, options.measure)]
    if on_step is not None:
        on_step(reports[0], 0, len(specs))
    models = [model] if keep_models else []
    current = model
    for k, spec in enumerate(specs, start=1):
        if stop is not None and stop.is_set():
            return RecipeResult(current, reports, models, stopped=True)
        current, report = STEPS[spec.name].apply(current, spec, data, options)
        reports.append(report.with_(step=str(spec)))
        if keep_models:
            models.append(current)
        if on_step is not None:
            on_step(reports[-1], k, len(specs))
    return RecipeResult(current, reports, models)


def describe_steps() -> str:
    return "\n".join(f"  {s.help}" for s in STEPS.values())
