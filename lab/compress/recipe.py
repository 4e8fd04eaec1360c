"""Recipes: compression steps composed in any order, one Report per step.

A recipe is a comma-separated string, ``name[:value][:key=value|flag ...]`` per step::

    prune:0.9,kmeans:16,int8              # prune 90% (global), share 16 values per layer, int8 dynamic
    channels:0.5,prune:0.8:layer,fakequant:4:tensor:affine
    gradual:0.95:steps=4,kmeans:8,int8:static

or a YAML/JSON file with a list of such strings, or of mappings ``{name: {value: ..., key: ...}}``.
Every step returns (model, Report); ``run_recipe`` measures the input model first ("fp32"), so the
table reads step by step from the reference. int8 steps turn the model into an integer graph, so
they must come last.

Steps (``STEPS``): prune, channels, gradual, kmeans, fakequant, int8, distill, ensemble, and the
per-layer prune_layers and kmeans_layers (``lab.compress.layerwise``).
Fine-tuning after prune/channels/kmeans uses ``RecipeOptions.finetune`` unless a step sets
``epochs=``/``lr=``. Fine-tuning retrains every free weight, so a step that fine-tunes after
``kmeans`` or ``fakequant`` undoes their sharing/grid: put sharing and quantization after pruning
(Deep Compression's order) or give the later step ``epochs=0``. (kmeans fine-tunes only centroids.)
"""
from __future__ import annotations

import json
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
from .fit import FitConfig
from .gradual import GradualConfig, gradual_prune
from .int8 import Int8Config, quantize_int8
from .layerwise import apply_kmeans_layers, apply_prune_layers
from .prune import PruneConfig, prune
from .share import KMeansConfig, share_weights
from .structured import ChannelPruneConfig, prune_channels


@dataclass(frozen=True)
class RecipeOptions:
    """Defaults shared by the steps: fine-tuning after each step, measurement, seed."""

    finetune: FitConfig = field(default_factory=lambda: FitConfig(epochs=8, lr=1e-3))
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    seed: int = 0


@dataclass(frozen=True)
class StepSpec:
    """One parsed step: ``name``, its positional ``value`` (or None) and ``options``."""

    name: str
    value: str | None = None
    options: dict = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [self.name] + ([self.value] if self.value is not None else [])
        parts += [k if v is True else f"{k}={v}" for k, v in self.options.items()]
        return ":".join(parts)


@dataclass(frozen=True)
class Step:
    """A recipe step: how to build its config from a StepSpec and how to apply it."""

    name: str
    help: str
    apply: Callable[[nn.Module, StepSpec, MultiTaskData | None, RecipeOptions], tuple[nn.Module, Report]]
    terminal: bool = False
    needs_data: bool = False


# --- option helpers ------------------------------------------------------------------------
def _num(spec: StepSpec, default: float | None, what: str) -> float:
    if spec.value is None:
        if default is None:
            raise ValueError(f"step {spec.name!r} needs a value ({what}), e.g. {spec.name}:{'0.9' if 'sparsity' in what else '16'}")
        return default
    try:
        return float(spec.value)
    except ValueError:
        raise ValueError(f"step {spec.name!r}: {what} must be a number, got {spec.value!r}") from None


def _finetune(spec: StepSpec, options: RecipeOptions) -> FitConfig:
    ft = options.finetune
    if "epochs" in spec.options:
        ft = replace(ft, epochs=int(spec.options["epochs"]))
    if "lr" in spec.options:
        ft = replace(ft, lr=float(spec.options["lr"]))
    return replace(ft, seed=options.seed)


def _check_options(spec: StepSpec, allowed: set[str]) -> None:
    unknown = sorted(set(spec.options) - allowed)
    if unknown:
        raise ValueError(f"step {spec.name!r} does not take option(s) {unknown}; it takes {sorted(allowed)}")


# --- the steps -----------------------------------------------------------------------------
def _prune(model, spec, data, options):
    _check_options(spec, {"layer", "global", "epochs", "lr", "coupling"})
    ft = _finetune(spec, options) if data is not None else None
    cfg = PruneConfig(_num(spec, None, "sparsity in [0, 1)"), "layer" if spec.options.get("layer") else "global",
                      include_coupling=bool(spec.options.get("coupling")), finetune=ft)
    return prune(model, cfg, data=data, measure_config=options.measure)


def _channels(model, spec, data, options):
    _check_options(spec, {"l1", "l2", "random", "global", "epochs", "lr"})
    importance = next((k for k in ("l1", "l2", "random") if spec.options.get(k)), "l2")
    cfg = ChannelPruneConfig(_num(spec, None, "ratio of channels in [0, 1)"), importance,
                             global_pruning=bool(spec.options.get("global")),
                             finetune=_finetune(spec, options) if data is not None else None, seed=options.seed)
    return prune_channels(model, cfg, data=data, measure_config=options.measure)


def _gradual(model, spec, data, options):
    _check_options(spec, {"steps", "layer", "epochs", "lr"})
    ft = _finetune(spec, options)          # epochs of fine-tuning after every pruning step
    cfg = GradualConfig(_num(spec, None, "final sparsity in [0, 1)"), steps=int(spec.options.get("steps", 4)),
                        scope="layer" if spec.options.get("layer") else "global", finetune=ft)
    return gradual_prune(model, cfg, data=data, measure_config=options.measure)


def _kmeans(model, spec, data, options):
    _check_options(spec, {"epochs", "lr", "k-means++"})
    ft = _finetune(spec, options) if data is not None else None
    if ft is not None and "lr" not in spec.options:
        ft = replace(ft, lr=1e-4)
    k = _num(spec, None, "number of clusters")
    if k != int(k):
        raise ValueError(f"step 'kmeans': clusters must be an integer, got {spec.value!r}")
    cfg = KMeansConfig(int(k), "k-means++" if spec.options.get("k-means++") else "linear", finetune=ft,
                       seed=options.seed)
    return share_weights(model, cfg, data=data, measure_config=options.measure)


def _fakequant(model, spec, data, options):
    _check_options(spec, {"tensor", "channel", "affine", "symmetric", "truncate", "nearest"})
    bits = _num(spec, 8, "bits")
    if bits != int(bits):
        raise ValueError(f"step 'fakequant': bits must be an integer from 2 to 16, got {spec.value!r}")
    cfg = FakeQuantConfig(int(bits), "tensor" if spec.options.get("tensor") else "channel",
                          "affine" if spec.options.get("affine") else "symmetric",
                          "truncate" if spec.options.get("truncate") else "nearest")
    return fake_quantize(model, cfg, data=data, measure_config=options.measure)


def _int8(model, spec, data, options):
    _check_options(spec, {"torchao", "compile", "epochs", "lr"})
    mode = spec.value or "dynamic"
    if mode == "dynamic" and not any(isinstance(m, nn.Linear) for m in model.modules()):
        raise ValueError("step 'int8:dynamic' does not apply to this model: dynamic int8 quantizes Linear "
                         "layers and it has none (use int8:static)")
    ft = _finetune(spec, options)
    if "epochs" not in spec.options:
        ft = replace(ft, epochs=3)
    if "lr" not in spec.options:
        ft = replace(ft, lr=1e-4)
    cfg = Int8Config(mode, "torchao" if spec.options.get("torchao") else "torch", finetune=ft,
                     compile=bool(spec.options.get("compile")))
    return quantize_int8(model, cfg, data=data, measure_config=options.measure)


def _distill(model, spec, data, options):
    _check_options(spec, {"T", "alpha", "epochs", "lr", "task"})
    if spec.value is None:
        raise ValueError("step 'distill' needs the student's hidden widths, e.g. distill:32 or distill:64x32")
    try:
        hidden = tuple(int(h) for h in spec.value.split("x"))
    except ValueError:
        raise ValueError(f"step 'distill': hidden widths look like 32 or 64x32, got {spec.value!r}") from None
    task_name = spec.options.get("task") or data.tasks[0].name
    task = next((t for t in data.tasks if t.name == task_name), None)
    if task is None:
        raise ValueError(f"step 'distill': unknown task {task_name!r}; the data has {list(data.task_names)}")
    student = build_model("mlp", data.input_shape, task.num_outputs, seed=options.seed, hidden=hidden)
    train = replace(options.finetune, epochs=int(spec.options.get("epochs", 30)),
                    lr=float(spec.options.get("lr", 1e-3)), seed=options.seed)
    cfg = DistillConfig(float(spec.options.get("T", 4.0)), float(spec.options.get("alpha", 0.7)), task.name, train)
    return distill(student, cfg, teacher=model, data=data, measure_config=options.measure)


def _ensemble(model, spec, data, options):
    _check_options(spec, {"epochs", "lr"})
    members = _num(spec, 3, "number of members")
    train = replace(options.finetune, epochs=int(spec.options.get("epochs", 30)),
                    lr=float(spec.options.get("lr", 1e-3)), seed=options.seed)
    return ensemble(model, EnsembleConfig(int(members), train, options.seed), data=data,
                    measure_config=options.measure)


STEPS: dict[str, Step] = {
    "prune": Step("prune", "prune:S[:layer][:epochs=N] unstructured magnitude pruning to sparsity S", _prune),
    "channels": Step("channels", "channels:R[:l1|random] remove a fraction R of channels (Torch-Pruning)", _channels),
    "gradual": Step("gradual", "gradual:S[:steps=N] Zhu & Gupta schedule to sparsity S with fine-tuning",
                    _gradual, needs_data=True),
    "kmeans": Step("kmeans", "kmeans:K[:epochs=N] share K values per layer (k-means), centroids fine-tuned", _kmeans),
    "fakequant": Step("fakequant", "fakequant:B[:tensor][:affine][:truncate] B-bit weight grid (2-16)", _fakequant),
    "int8": Step("int8", "int8[:dynamic|static|qat][:compile] int8 model (must be last)", _int8, terminal=True),
    "distill": Step("distill", "distill:H[xH2][:T=4][:alpha=0.7] train an MLP student from the current model",
                    _distill, needs_data=True),
    "ensemble": Step("ensemble", "ensemble:M retrain M copies of the architecture and average them",
                     _ensemble, needs_data=True),
    # per-layer budgets (lab.compress.layerwise): one value per layer, '/'-separated
    "prune_layers": Step("prune_layers", "prune_layers:S1/S2/..[:steps=N] sparsity S_l for layer l", apply_prune_layers),
    "kmeans_layers": Step("kmeans_layers", "kmeans_layers:K1/K2/..[:bias=K] K_l shared values in layer l "
                          "(bias=K: biases too)", apply_kmeans_layers),
}


# --- parsing -------------------------------------------------------------------------------
def parse_step(text: str) -> StepSpec:
    tokens = [t.strip() for t in text.strip().split(":")]
    name = tokens[0].lower()
    if name not in STEPS:
        raise ValueError(f"unknown recipe step {name!r}; choose from {list(STEPS)}")
    value, opts = None, {}
    for i, tok in enumerate(tokens[1:]):
        if not tok:
            continue
        if "=" in tok:
            k, v = tok.split("=", 1)
            opts[k.strip()] = v.strip()
        elif i == 0 and (tok[0].isdigit() or tok[0] == "." or name == "int8"):
            value = tok
        else:
            opts[tok] = True
    return StepSpec(name, value, opts)


def _from_mapping(item: dict) -> StepSpec:
    if len(item) != 1:
        raise ValueError(f"a recipe file step is one mapping {{name: options}}, got {item}")
    (name, opts), = item.items()
    opts = dict(opts or {}) if isinstance(opts, dict) else {"value": opts}
    value = opts.pop("value", None)
    spec = parse_step(str(name))
    return StepSpec(spec.name, None if value is None else str(value), opts)


def parse_recipe(recipe: str | list | Path) -> list[StepSpec]:
    """Steps of a recipe string (``"prune:0.9,kmeans:16"``), a list, or a .yaml/.json file."""
    if isinstance(recipe, Path) or (isinstance(recipe, str) and recipe.endswith((".yaml", ".yml", ".json"))):
        path = Path(recipe)
        if not path.is_file():
            raise ValueError(f"recipe file {path} does not exist")
        text = path.read_text()
        if path.suffix == ".json":
            loaded = json.loads(text)
        else:
            import yaml

            loaded = yaml.safe_load(text)
        items = loaded.get("steps") if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise ValueError(f"recipe file {path} must hold a list of steps (or {{steps: [...]}})")
        return parse_recipe(items)
    if isinstance(recipe, str):
        items = [s for s in recipe.split(",") if s.strip()]
    else:
        items = list(recipe)
    specs = [it if isinstance(it, StepSpec) else _from_mapping(it) if isinstance(it, dict) else parse_step(str(it))
             for it in items]
    if not specs:
        raise ValueError("the recipe is empty; e.g. prune:0.9,kmeans:16,int8")
    for i, spec in enumerate(specs[:-1]):
        if STEPS[spec.name].terminal:
            raise ValueError(f"step {str(spec)!r} turns the model into an integer graph, so it must be the last "
                             f"step; it is followed by {[str(s) for s in specs[i + 1:]]}")
    return specs


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
    for spec in specs:
        if STEPS[spec.name].needs_data and data is None:
            raise ValueError(f"step {spec.name!r} trains, so the recipe needs data")
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
