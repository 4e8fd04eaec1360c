"""The bad-input probe: ~300 hostile or mistaken inputs through the API, the CLI, the panels and files.

Every case is classified:

* **clear**   - refused with the expected error (ValueError; exit code 2 and one line for the CLI;
  "Cannot ...: <reason>" for a panel), before any work, naming the field/option/value;
* **unclear** - refused the right way, but the message misses what it should name;
* **crash**   - any other exception, a traceback, another exit code, a TypeError shown in a panel;
* **silent**  - accepted: no error at all (a wrong result);
* **lost**    - refused only after work started, or finished work that should have been kept is gone.

    python -m tests.bad_inputs          # prints the counts table (and every case that is not clear)
    python -m tests.bad_inputs api cli  # only these surfaces

``tests/test_bad_input.py`` runs the same table and asserts 0 crash, 0 silent, 0 lost, 0 unclear.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

os.environ.setdefault("LAB_FAST", "1")

NAN, INF = float("nan"), float("inf")
VERDICTS = ("clear", "unclear", "crash", "silent", "lost")


@dataclass
class Case:
    surface: str                    # api | recipe | file | data | training | cli | panel
    name: str
    run: Callable[[Path], Any]
    expect: tuple[str, ...] = ()    # words the message must contain (case-insensitive)
    kind: str = "raise"             # raise | cli | panel | keep
    keep: int = 0                   # kind "keep": finished epochs the error's history must still hold
    extra: dict = field(default_factory=dict)


CASES: list[Case] = []


def case(surface: str, name: str, run: Callable[[Path], Any], *expect: str, kind: str = "raise", keep: int = 0,
         **extra) -> None:
    CASES.append(Case(surface, name, run, tuple(expect), kind, keep, extra))


def _words(value: Any) -> tuple[str, ...]:
    """How a bad value should appear in a message (numbers as Python prints them)."""
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, (bool, type(None))):
        return (repr(value),)
    if isinstance(value, (int, float)):
        return (repr(value) if not isinstance(value, float) or abs(value) < 1e16 else f"{value:g}",)
    return ()


# --- API: config fields ------------------------------------------------------------------------------
def _config_cases() -> None:
    from lab.adversarial import AdversarialTraining, Attack
    from lab.compress import (ChannelPruneConfig, DistillConfig, EnsembleConfig, FakeQuantConfig, FitConfig,
                              GradualConfig, Int8Config, KMeansConfig, PruneConfig, RecipeOptions, SensitivityConfig)
    from lab.coupling import SystemConfig
    from lab.cost import CostWeights, MeasureConfig
    from lab.data import DomainShift, Task
    from lab.train import TrainConfig
    from lab.transfer import TransferConfig
    from lab.ui import ModelSource, PlaygroundConfig, RecipeConfig
    from lab.ui.robustness import RobustnessConfig
    from lab.ui.transfer import TransferPanelConfig

    table: list[tuple[type, str, list, str | None]] = [
        (TrainConfig, "epochs", [2.5, True, 0, -1, 10 ** 6, "3", None, NAN], None),
        (TrainConfig, "batch_size", [NAN, 0, 2.5, "64", -4], None),
        (TrainConfig, "lr", [NAN, INF, 0.0, -1e-3, 1e38, "0.1", True], None),
        (TrainConfig, "optimizer", ["adamw", 1, None], None),
        (TrainConfig, "momentum", [NAN, 1.0, -0.1, "0.9"], None),
        (TrainConfig, "weight_decay", [NAN, -1.0, 2.0, "0"], None),
        (TrainConfig, "task_weights", [(NAN, 1.0), (-1.0,), "1,2", (True,), (INF,)], "task_weights"),
        (TrainConfig, "coupling_lr_scale", [0.0, NAN, INF, -1.0], None),
        (TrainConfig, "seed", [2 ** 70, -1, 2.5, "0", True, 2 ** 31], None),
        (TrainConfig, "device", ["gpu", 3, "cuda:99"], None),
        (TrainConfig, "lr_schedule", ["warmup", None, 1], "schedule"),
        (TrainConfig, "lr_gamma", [NAN, 0.0, 1.5, "0.5"], "lr_gamma"),
        (TrainConfig, "lr_step_epochs", [3, 0], "lr_step_epochs"),
        (TrainConfig, "restore_best", ["yes", 1, None], None),
        (SystemConfig, "strategy", ["glue", 3], "strategy"),
        (SystemConfig, "block", ["transformer", None], "block"),
        (SystemConfig, "widths", ["64", (0,), (200000, 200000), 64, (64.0,), (True,), ((64,), 32), (), None,
                                  (16,) * 65], None),
        (SystemConfig, "num_modules", [0, -1, 2.5, 100, "2"], None),
        (SystemConfig, "dropout", [NAN, 1.0, -0.1, "0"], None),
        (SystemConfig, "w_init", [(NAN, 0.1), (0.9,), (1.5, 0.1), (0.0, 0.0), "0.9,0.1", (INF, 0.0)], None),
        (SystemConfig, "per_channel", ["yes", 1], None),
        (SystemConfig, "attention_dim", [0, 2.5, 10 ** 6], None),
        (SystemConfig, "seed", [2 ** 70, -5], None),
        (SystemConfig, "kernel_size", [0, 2.5, 64, "3", NAN], "kernel_size"),
        (SystemConfig, "stride", [0, -1, 17, 1.5], "stride"),
        (SystemConfig, "batch_norm", ["yes", 1], "batch_norm"),
        (FitConfig, "epochs", [-1, 2.5, True], None),
        (FitConfig, "lr", [0.0, NAN, 1e38], None),
        (FitConfig, "batch_size", [0, NAN], None),
        (FitConfig, "seed", [2 ** 64], None),
        (FitConfig, "optimizer", ["rmsprop"], None),
        (PruneConfig, "sparsity", [1.0, -0.5, NAN, "0.5", True], "sparsity"),
        (PruneConfig, "scope", ["local"], None),
        (PruneConfig, "include_coupling", ["no"], None),
        (PruneConfig, "finetune", ["x", 3], None),
        (ChannelPruneConfig, "ratio", [1.0, NAN, "0.5"], None),
        (ChannelPruneConfig, "importance", ["l3"], None),
        (ChannelPruneConfig, "round_to", [0, 2.5], None),
        (ChannelPruneConfig, "seed", [-1], None),
        (GradualConfig, "final_sparsity", [1.0, NAN], None),
        (GradualConfig, "steps", [0, 2.5, 10 ** 6], None),
        (GradualConfig, "scope", ["all"], None),
        (SensitivityConfig, "sparsities", [(), (1.5,), "0.5", (NAN,)], None),
        (SensitivityConfig, "layers", ["0.weight", (3,)], None),
        (FakeQuantConfig, "bits", [1, 17, 4.0, "4", True], None),
        (FakeQuantConfig, "granularity", ["row"], None),
        (FakeQuantConfig, "rounding", ["stochastic"], None),
        (Int8Config, "mode", ["int4"], None),
        (Int8Config, "engine", ["onnx"], None),
        (Int8Config, "calibration_size", [0, 2.5, 10 ** 9], None),
        (Int8Config, "compile", ["yes"], None),
        (KMeansConfig, "clusters", [1, 2.5, 10 ** 6, "16"], None),
        (KMeansConfig, "init", ["random"], None),
        (KMeansConfig, "max_fit_samples", [0], None),
        (DistillConfig, "temperature", [0.0, NAN, -1.0, 1e9], None),
        (DistillConfig, "alpha", [NAN, 2.0], None),
        (EnsembleConfig, "members", [1, 2.5, 1000], "members"),
        (MeasureConfig, "batch_size", [0, 2.5], None),
        (MeasureConfig, "threads", [0, NAN], None),
        (MeasureConfig, "repeats", [0], None),
        (MeasureConfig, "warmup", [-1], None),
        (MeasureConfig, "latency", ["no"], None),
        (CostWeights, "flops", [NAN, -1.0, INF, "1"], None),
        (RecipeOptions, "seed", [-1, 2.5], None),
        (RecipeOptions, "finetune", [None], None),
        (TransferConfig, "epochs", [0, 2.5], None),
        (TransferConfig, "max_steps", [0, 2.5], None),
        (TransferConfig, "limit", [0, -5], None),
        (TransferConfig, "lr", [NAN], None),
        (DomainShift, "amount", [NAN, INF, 1e9], "amount"),
        (ModelSource, "epochs", [0, 2.5, 10 ** 6], None),
        (ModelSource, "seed", [-1, 2 ** 40], None),
        (ModelSource, "limit", [10, 10 ** 6, 2.5], None),
        (RecipeConfig, "threads", [0], None),
        (RecipeConfig, "finetune_lr", [NAN, 1e38], "learning rate"),
        (RecipeConfig, "finetune_epochs", [-1, 2.5], "fine-tuning epochs"),
        (RecipeConfig, "weights", [(NAN, 1.0), (1.0,), "1,1"], "weight"),
        (RecipeConfig, "recipe", [None, 3], None),
        (PlaygroundConfig, "width", [0, 2.5, 10 ** 6], None),
        (PlaygroundConfig, "stages", [0, 100], None),
        (PlaygroundConfig, "num_modules", [1, "2"], "modules"),
        (PlaygroundConfig, "lr", [NAN, 1e38], "learning rate"),
        (PlaygroundConfig, "seed", [-1], None),
        (PlaygroundConfig, "weighting_options", [(("alpha", NAN),), (("1x", 1.0),)], "weighting options"),
        (RobustnessConfig, "eps_max", [NAN, 0.0, 1e9], "eps"),
        (RobustnessConfig, "grid_points", [1, 2.5], None),
        (RobustnessConfig, "width", [0], None),
        (RobustnessConfig, "lr", [INF], "learning rate"),
        (TransferPanelConfig, "amount", [NAN], "amount"),
        (TransferPanelConfig, "max_steps", [-3, 2.5], "step cap"),
        (TransferPanelConfig, "stages", [0], None),
    ]
    extra_args = {DomainShift: {"kind": "rotation"}, DistillConfig: {}, RecipeConfig: {"recipe": "prune:0.5"},
                  RobustnessConfig: {}, PlaygroundConfig: {}}
    for cls, fname, values, label in table:
        for value in values:
            kwargs = {**extra_args.get(cls, {}), fname: value}
            if cls is DomainShift:
                kwargs.setdefault("kind", "rotation")
            words = (label or fname,) + (_words(value) if label is None else ())
            case("api", f"{cls.__name__}({fname}={value!r})", lambda tmp, c=cls, k=kwargs: c(**k), *words)
    # combinations
    case("api", "GradualConfig(initial > final)", lambda t: GradualConfig(0.5, initial_sparsity=0.8), "initial_sparsity")
    case("api", "Task(num_outputs=0)", lambda t: Task("a", "classification", 0), "num_outputs")
    case("api", "Task(num_outputs=2.5)", lambda t: Task("a", "regression", 2.5), "num_outputs")
    case("api", "Task(name='')", lambda t: Task("", "regression", 1), "task name")
    case("api", "Task(kind='ranking')", lambda t: Task("a", "ranking", 2), "kind")
    case("api", "Attack(eps=nan)", lambda t: Attack("fgsm", eps=NAN), "eps")
    case("api", "Attack(eps=-1)", lambda t: Attack("fgsm", eps=-1), "eps")
    case("api", "Attack(steps=2.5)", lambda t: Attack("pgd", steps=2.5), "steps")
    case("api", "Attack(steps=0)", lambda t: Attack("pgd", steps=0), "steps")
    case("api", "Attack(step_size=nan)", lambda t: Attack("pgd", step_size=NAN), "step_size")
    case("api", "Attack(modules=(-1,))", lambda t: Attack(modules=(-1,)), "modules")
    case("api", "Attack(modules=('a',))", lambda t: Attack(modules=("a",)), "modules")
    case("api", "Attack(modules=(0, 0))", lambda t: Attack(modules=(0, 0)), "modules")
    case("api", "Attack(clamp=(1, 0))", lambda t: Attack(clamp=(1.0, 0.0)), "clamp")
    case("api", "Attack(clamp=(nan, 1))", lambda t: Attack(clamp=(NAN, 1.0)), "clamp")
    case("api", "Attack(kind='cw')", lambda t: Attack("cw"), "cw")
    case("api", "Attack(random_start='yes')", lambda t: Attack(random_start="yes"), "random_start")
    case("api", "AdversarialTraining(ratio=nan)", lambda t: AdversarialTraining(Attack(), NAN), "ratio")
    case("api", "AdversarialTraining(ratio=2)", lambda t: AdversarialTraining(Attack(), 2.0), "ratio")
    case("api", "AdversarialTraining(attack='pgd')", lambda t: AdversarialTraining("pgd"), "attack")
    case("api", "DomainShift(noise, -1)", lambda t: DomainShift("noise", -1.0), "noise")
    case("api", "DomainShift(invert, 2)", lambda t: DomainShift("invert", 2.0), "invert")
    case("api", "DomainShift(spin)", lambda t: DomainShift("spin", 1.0), "spin")
    case("api", "DomainShift(seed=-1)", lambda t: DomainShift("noise", 0.1, -1), "seed")


def _weighting_cases() -> None:
    from lab.weighting import make_weighting

    for name, options, word in [("gradnorm", {"alpha": NAN}, "alpha"), ("gradnorm", {"alpha": "x"}, "alpha"),
                                ("gradnorm", {"lr": 0.0}, "lr"), ("gradnorm", {"lr": 1e38}, "lr"),
                                ("dwa", {"temperature": 0.0}, "temperature"),
                                ("dwa", {"temperature": INF}, "temperature"),
                                ("uncertainty", {"init": NAN}, "init"), ("uncertainty", {"init": 1e9}, "init"),
                                ("fixed", {"weights": (1.0, NAN)}, "task weights"),
                                ("fixed", {"weights": "1,2"}, "task weights"),
                                ("pcgrad", {"seed": -1}, "seed"), ("equal", {"x": 1}, "bad options"),
                                ("magic", {}, "unknown weighting")]:
        case("api", f"make_weighting({name!r}, {options})", lambda t, n=name, o=options: make_weighting(n, **o), word)


# --- API: data, tensors, systems ----------------------------------------------------------------------
def _data_cases() -> None:
    from lab.coupling import CoupledSystem, SystemConfig, build_system
    from lab.cost import evaluate_model
    from lab.data import (MultiTaskData, Split, Task, load_data, load_digits_canvas, load_digits_tasks,
                          load_mnist1d, load_synthetic, load_torchvision_set)
    from lab.metrics import evaluate

    for kwargs, word in [({"limit": 10}, "limit"), ({"limit": 2.5}, "limit"), ({"limit": 10 ** 6}, "limit"),
                         ({"seed": -1}, "seed"), ({"seed": 2 ** 40}, "seed"), ({"tasks": "digit"}, "tasks"),
                         ({"tasks": ("colour",)}, "colour"), ({"tasks": ()}, "tasks"),
                         ({"tasks": ("digit", "digit")}, "digit"), ({"fractions": (0.5, 0.5, 0.5)}, "fractions"),
                         ({"fractions": (1.0, 0.0, 0.0)}, "fractions"), ({"fractions": (NAN, 0.5, 0.5)}, "fractions")]:
        case("data", f"load_digits_tasks({kwargs})", lambda t, k=kwargs: load_digits_tasks(**k), word)
    for kwargs, word in [({"canvas": 1}, "canvas"), ({"canvas": 2.5}, "canvas"), ({"min_size": 20}, "min_size"),
                         ({"max_size": 40}, "max_size"), ({"canvas": 10 ** 6}, "canvas")]:
        case("data", f"load_digits_canvas({kwargs})", lambda t, k=kwargs: load_digits_canvas(**k), word)
    for kwargs, word in [({"num_samples": 10}, "num_samples"), ({"num_samples": 2.5}, "num_samples"),
                         ({"num_samples": 10 ** 9}, "num_samples"), ({"tasks": ("loops",)}, "loops"),
                         ({"val_fraction": 0.0}, "val_fraction"), ({"val_fraction": NAN}, "val_fraction"),
                         ({"seed": -1}, "seed")]:
        case("data", f"load_mnist1d({kwargs})", lambda t, k=kwargs: load_mnist1d(**k), word)
    for kwargs, word in [({"num_modules": 1}, "module"), ({"num_modules": 2.5}, "num_modules"),
                         ({"num_modules": 10 ** 4}, "num_modules"), ({"num_samples": 5}, "num_samples"),
                         ({"structure": "ring"}, "ring"), ({"kind": "ranking"}, "kind"),
                         ({"num_classes": 1}, "num_classes"), ({"input_dim": 0}, "input_dim"),
                         ({"latent_dim": 2.5}, "latent_dim"), ({"structure": "random", "density": 0.0}, "density"),
                         ({"structure": "random", "density": NAN}, "density"),
                         ({"W_true": [[NAN, 0.0], [0.0, 1.0]]}, "W_true"), ({"W_true": [[1.0, 0.0]]}, "W_true"),
                         ({"W_true": "eye"}, "W_true"), ({"seed": 2 ** 40}, "seed")]:
        case("data", f"load_synthetic({kwargs})", lambda t, k=kwargs: load_synthetic(**k), word)
    case("data", "load_torchvision_set(limit=-1)", lambda t: load_torchvision_set("mnist", limit=-1), "limit")
    case("data", "load_torchvision_set(download='yes')", lambda t: load_torchvision_set("mnist", download="yes"),
         "download")
    case("data", "load_torchvision_set(root=tmp)", lambda t: load_torchvision_set("mnist", root=t), "files not found")
    case("data", "load_data('imagenet')", lambda t: load_data("imagenet"), "imagenet")
    case("data", "load_data('digits', lim=3)", lambda t: load_data("digits", lim=3), "lim")

    x = torch.rand(40, 3)
    ok_y = {"a": torch.randint(0, 2, (40,))}
    task = (Task("a", "classification", 2),)

    def data_with(x=x, y=ok_y, tasks=task, shape=(3,)):
        split = Split(x, y)
        return MultiTaskData("d", tasks, split, split, split, input_shape=shape)

    case("data", "Split(complex x)", lambda t: Split(torch.zeros(4, 3, dtype=torch.complex64), ok_y), "real")
    case("data", "Split(string array)", lambda t: Split(np.array([["a"]] * 4), ok_y), "x")
    case("data", "Split(y not a dict)", lambda t: Split(x, [1, 2]), "targets")
    case("data", "Split(x of one dim)", lambda t: Split(torch.zeros(4), ok_y), "inputs")
    case("data", "MultiTaskData(NaN inputs)", lambda t: data_with(x=torch.full((40, 3), NAN)), "NaN")
    case("data", "MultiTaskData(float class labels)", lambda t: data_with(y={"a": torch.rand(40)}), "int64")
    case("data", "MultiTaskData(labels out of range)", lambda t: data_with(y={"a": torch.full((40,), 5)}), "labels")
    case("data", "MultiTaskData(wrong input_shape)", lambda t: data_with(shape=(4,)), "shape")
    case("data", "MultiTaskData(input_shape=(0,))", lambda t: data_with(shape=(0,)), "input_shape")
    case("data", "MultiTaskData(tasks='a')", lambda t: data_with(tasks="a"), "tasks")
    case("data", "MultiTaskData(missing targets)", lambda t: data_with(y={"b": ok_y["a"]}), "targets")
    case("data", "MultiTaskData(regression NaN targets)",
         lambda t: data_with(y={"a": torch.full((40, 1), NAN)}, tasks=(Task("a", "regression", 1),)), "NaN")

    digits = load_digits_tasks(limit=100)
    system = build_system(digits, SystemConfig(widths=(8,)))
    case("data", "system(complex x)", lambda t: system(torch.zeros(2, 1, 8, 8, dtype=torch.complex64)), "real")
    case("data", "system(strings)", lambda t: system(np.array([["a"]])), "input x")
    case("data", "system(wrong shape)", lambda t: system(torch.zeros(2, 1, 9, 9)), "does not fit")
    case("data", "system(wrong shape, float64 numpy)", lambda t: system(np.zeros((2, 64))), "does not fit")
    case("data", "evaluate(model, tensor)", lambda t: evaluate(system, digits.test.x, system.tasks), "split")
    case("data", "evaluate(batch_size=0)", lambda t: evaluate(system, digits.test, system.tasks, 0), "batch_size")
    case("data", "evaluate_model(model, (x, y))", lambda t: evaluate_model(system, (digits.test.x, None),
                                                                            system.tasks), "split")
    two = task + (Task("b", "regression", 1),)
    case("data", "CoupledSystem(input_shape=(0,))", lambda t: CoupledSystem(SystemConfig(), two, (0,)), "input_shape")
    case("data", "CoupledSystem(tasks=())", lambda t: CoupledSystem(SystemConfig(), (), (3,)), "tasks")
    case("data", "CoupledSystem(2 tasks named alike)", lambda t: CoupledSystem(SystemConfig(), task * 2, (3,)),
         "unique")
    case("data", "CoupledSystem(10^9 parameters)",
         lambda t: CoupledSystem(SystemConfig(widths=(16384,) * 8), (Task("a", "regression", 1),
                                                                    Task("b", "regression", 1)), (16384,)),
         "parameters")
    case("data", "CoupledSystem(num_inputs=0)",
         lambda t: CoupledSystem(SystemConfig(), task + (Task("b", "regression", 1),), (3,), 0), "num_inputs")

    from lab.compress import Preview, digit_data, train_reference
    from lab.compress.fit import FitConfig
    d1 = digit_data(0, 100)
    model = train_reference("mlp", d1, FitConfig(epochs=1), seed=0)
    pv = Preview(model, d1)
    for args, word in [(("0.5", 4), "sparsity"), ((NAN, 4), "sparsity"), ((1.0, None), "sparsity"),
                       ((0.5, 4.0), "bits"), ((0.5, 1), "bits"), ((0.5, True), "bits"), ((0.5, "4"), "bits")]:
        case("data", f"Preview()({args})", lambda t, a=args: pv(*a), word)
    case("data", "Preview(data=tensor)", lambda t: Preview(model, d1.test.x), "data")
    case("data", "Preview(scope='local')", lambda t: Preview(model, d1, scope="local"), "scope")
    case("data", "Preview(threads=0)", lambda t: Preview(model, d1, threads=0), "threads")


# --- the recipe grammar -------------------------------------------------------------------------------
BAD_RECIPES = [
    ("prune:-0.5", "sparsity"), ("prune:1.0", "sparsity"), ("prune:1", "sparsity"), ("prune:nan", "finite"),
    ("prune:abc", "sparsity"), ("prune", "needs a value"), ("prune:0.5:layer:global", "layer"),
    ("prune:0.5:layr", "layr"), ("prune:0.5:colour=red", "colour"), ("prune:0.5:epochs=2.5", "epochs"),
    ("prune:0.5:epochs=-1", "epochs"), ("prune:0.5:lr=nan", "lr"), ("prune:0.5:lr=0", "lr"),
    ("prune:0.5:lr=1e400", "lr"), ("prune:0.5:lr=", "lr"), ("prune:0.5:epochs", "epochs"),
    ("prune:0.5:epochs=1:epochs=2", "twice"), ("prune:0.5:0.3", "0.3"), ("prune::layer", "empty"),
    ("prune:0.5:=3", "=3"), ("prune:0.5:layer=1", "layer"), ("kmeans:16:lr=", "lr"),
    ("kmeans:16:k-means++=0", "k-means++"), ("kmeans:1e400", "clusters"), ("kmeans:2.5", "clusters"),
    ("kmeans:1", "clusters"), ("kmeans:70000", "clusters"), ("kmeans", "needs a value"),
    ("kmeans:16:kmeans++", "kmeans++"), ("fakequant:1", "bits"), ("fakequant:17", "bits"), ("fakequant:4.5", "bits"),
    ("fakequant:4:tensor:channel", "tensor"), ("fakequant:4:round", "round"), ("int8:int4", "int4"),
    ("int8:static:torchao", "torchao"), ("int8:compile", "compile"), ("int8:dynamic:epochs=x", "epochs"),
    ("int8,prune:0.5", "last step"), ("int8,int8", "last step"), ("channels:1.5", "ratio"),
    ("channels:0.5:l1:l2", "l1"), ("channels:0.5:l0", "l0"), ("gradual:0.9:steps=0", "steps"),
    ("gradual:0.9:steps=1e9", "steps"), ("distill:64x0", "widths"), ("distill:abc", "widths"),
    ("distill:32:T=0", "T"), ("distill:32:alpha=2", "alpha"), ("distill:32:task=1x", "task"),
    ("distill", "needs a value"), ("ensemble:1", "members"), ("ensemble:2.5", "members"),
    ("squash:2", "squash"), ("prune:0.9,,int8", "empty"), ("prune:0.9,", "empty"), (",prune:0.9", "empty"),
    ("", "empty"), ("   ", "empty"), (":0.5", "name"), ("prune:0.5," * 51 + "int8", "at most"),
]


def _recipe_cases() -> None:
    import json

    from lab.compress import parse_recipe, run_recipe
    from lab.compress.fit import FitConfig
    from lab.compress.recipe import RecipeOptions
    from lab.cost import MeasureConfig

    for text, word in BAD_RECIPES:
        case("recipe", f"parse_recipe({text[:40]!r})", lambda t, r=text: parse_recipe(r), word)
    case("recipe", "parse_recipe(3)", lambda t: parse_recipe(3), "recipe")
    case("recipe", "parse_recipe([3])", lambda t: parse_recipe([3]), "step")
    case("recipe", "parse_recipe([{prune: {value: 1.5}}])", lambda t: parse_recipe([{"prune": {"value": 1.5}}]),
         "sparsity")
    case("recipe", "parse_recipe([{prune: 0.5, int8: None}])", lambda t: parse_recipe([{"prune": 0.5, "int8": None}]),
         "one mapping")
    case("recipe", "parse_recipe([{prune: {value: '0.5:layer'}}])",
         lambda t: parse_recipe([{"prune": {"value": "0.5:layer"}}]), "cannot contain")
    case("recipe", "parse_recipe([{kmeans: {value: 16, lr: [1]}}])",
         lambda t: parse_recipe([{"kmeans": {"value": 16, "lr": [1]}}]), "values")

    def write(tmp: Path, name: str, text: str) -> Path:
        path = tmp / name
        path.write_text(text)
        return path

    case("file", "recipe file missing", lambda t: parse_recipe(t / "none.yaml"), "does not exist")
    case("file", "recipe file bad JSON", lambda t: parse_recipe(write(t, "r.json", "[prune")), "not valid JSON")
    case("file", "recipe file bad YAML", lambda t: parse_recipe(write(t, "r.yaml", "steps: [prune: {")), "YAML")
    case("file", "recipe file not a list", lambda t: parse_recipe(write(t, "r.json", json.dumps({"a": 1}))),
         "list of steps")
    case("file", "recipe file inf value", lambda t: parse_recipe(write(t, "r.yaml", "- kmeans: 1e400\n")),
         "clusters")
    case("file", "recipe file huge", lambda t: parse_recipe(write(t, "r.json", "[" + " " * (1 << 21) + "]")),
         "larger than")
    quick = RecipeOptions(finetune=FitConfig(epochs=0), measure=MeasureConfig(latency=False, memory=False))

    def run(recipe: str, data=True, conv=False):
        from lab.compress import digit_data, train_reference

        d = digit_data(0, 100)
        model = train_reference("mlp", d, FitConfig(epochs=1), seed=0)
        if conv:
            model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
            model.input_shape = (1, 8, 8)
        return run_recipe(model, recipe, d if data else None, quick)

    case("recipe", "run_recipe(distill:32:task=colour)", lambda t: run("distill:32:task=colour"), "colour")
    case("recipe", "run_recipe(gradual without data)", lambda t: run("gradual:0.5", data=False), "needs data")
    case("recipe", "run_recipe(int8 on a conv-only model)", lambda t: run("int8", conv=True), "Linear")
    case("recipe", "run_recipe(kmeans:2000 > layer size)", lambda t: run("kmeans:2000"), "clusters")


# --- checkpoint files --------------------------------------------------------------------------------
class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _checkpoint_cases() -> None:
    from lab.checkpoint import FORMAT, load_checkpoint, load_weights, save_checkpoint
    from lab.coupling import SystemConfig, build_system
    from lab.data import load_synthetic

    data = load_synthetic(num_modules=2, num_samples=60)
    system = build_system(data, SystemConfig(widths=(4,)))
    good_arch = system.architecture()
    good_state = {k: v.clone() for k, v in system.state_dict().items()}

    def file(tmp: Path, payload: Any, raw: bytes | None = None) -> Path:
        path = tmp / "ckpt.pt"
        if raw is not None:
            path.write_bytes(raw)
        else:
            torch.save(payload, path)
        return path

    def arch(**changes):
        a = {**good_arch, "system_config": dict(good_arch["system_config"])}
        for k, v in changes.items():
            if k in a["system_config"]:
                a["system_config"][k] = v
            else:
                a[k] = v
        return a

    def ck(architecture=None, state=None, **extra):
        return {"format": FORMAT, "architecture": good_arch if architecture is None else architecture,
                "state_dict": good_state if state is None else state, "extra": {}, **extra}

    bad_state_shape = {**good_state, next(iter(good_state)): torch.zeros(3, 3, 3)}
    nan_state = {k: (v.clone().fill_(NAN) if v.is_floating_point() else v) for k, v in good_state.items()}
    cases = [
        ("malicious pickle (os.system)", {"format": FORMAT, "x": _Exploit()}, None, "unsafe"),
        ("empty file", None, b"", "not a readable checkpoint"),
        ("text file", None, b"hello", "not a readable checkpoint"),
        ("truncated zip", None, b"PK\x03\x04" + b"\0" * 20, "not a readable checkpoint"),
        ("a list", [1, 2], None, "not a lab checkpoint"),
        ("foreign format", {"format": "other/1"}, None, "not a lab checkpoint"),
        ("no architecture", {"format": FORMAT, "state_dict": {}}, None, "architecture"),
        ("state_dict not a dict", ck(state=[1]), None, "state_dict"),
        ("widths 200000x2", ck(arch(widths=[200000, 200000])), None, "widths"),
        ("parameter bomb", ck(arch(widths=[16384] * 8, input_shape=[16384])), None, "parameters"),
        ("input_shape bomb", ck(arch(input_shape=[65536, 65536, 65536])), None, "input_shape"),
        ("num_modules 10^6", ck(arch(num_modules=10 ** 6)), None, "num_modules"),
        ("attention_dim 10^9", ck(arch(attention_dim=10 ** 9)), None, "attention_dim"),
        ("unknown system_config key", ck(arch(gadget=1)), None, "gadget"),
        ("unknown architecture key", ck({**good_arch, "gadget": 1}), None, "gadget"),
        ("missing architecture key", ck({k: v for k, v in good_arch.items() if k != "tasks"}), None, "tasks"),
        ("tasks not a list", ck(arch(tasks="a,b")), None, "tasks"),
        ("task with bad key", ck(arch(tasks=[{"name": "a", "kind": "regression", "num_outputs": 1, "x": 1}])),
         None, "task"),
        ("task num_outputs 10^9", ck(arch(tasks=[{"name": "a", "kind": "regression", "num_outputs": 10 ** 9},
                                                 {"name": "b", "kind": "regression", "num_outputs": 1}])),
         None, "num_outputs"),
        ("widths as text", ck(arch(widths="64")), None, "widths"),
        ("missing state entries", ck(state={}), None, "missing"),
        ("unexpected state entry", ck(state={**good_state, "evil": torch.zeros(1)}), None, "unexpected"),
        ("wrong tensor shape", ck(state=bad_state_shape), None, "wrong shape"),
        ("non-tensor entry", ck(state={**good_state, next(iter(good_state)): 3}), None, "not tensors"),
        ("NaN weights", ck(state=nan_state), None, "NaN"),
        ("wrong dtype", ck(state={k: v.double() for k, v in good_state.items()}), None, "dtype"),
    ]
    for name, payload, raw, word in cases:
        case("file", f"load_checkpoint({name})", lambda t, p=payload, r=raw: load_checkpoint(file(t, p, r)), word)
    case("file", "load_checkpoint(no file)", lambda t: load_checkpoint(t / "nothing.pt"), "no checkpoint file")
    case("file", "load_weights(wrong shapes)", lambda t: load_weights(system, file(t, ck(state=bad_state_shape))),
         "wrong shape")
    case("file", "load_weights(other architecture)",
         lambda t: load_weights(build_system(data, SystemConfig(widths=(8,))), save_checkpoint(system, t / "a.pt")),
         "different architecture")


# --- training that goes wrong: divergence must be named, finished epochs kept -------------------------
def _training_cases() -> None:
    from lab.coupling import SystemConfig, build_system
    from lab.data import load_digits_tasks
    from lab.train import TrainConfig, train

    def diverge(tmp, optimizer, lr, epochs=3):
        data = load_digits_tasks(limit=100)
        system = build_system(data, SystemConfig(widths=(8,)))
        return train(system, data, TrainConfig(epochs=epochs, lr=lr, optimizer=optimizer), progress=False)

    case("training", "Adam at lr=1e6", lambda t: diverge(t, "adam", 1e6), "diverged at epoch 1", kind="keep", keep=0)
    case("training", "SGD at lr=1e6", lambda t: diverge(t, "sgd", 1e6), "epoch", kind="keep", keep=0)
    case("training", "Adam at lr=1e3", lambda t: diverge(t, "adam", 1e3), "epoch", kind="keep", keep=0)

    def late_nan(tmp):       # W turns NaN after the last loss check: reported, never recorded as NaN
        from lab.train import Callback

        class Poison(Callback):
            def on_step_end(self, info):
                if info.epoch == 2 and info.step == info.steps_per_epoch:
                    with torch.no_grad():
                        system.coupling.W[0].fill_(NAN)

        data = load_digits_tasks(limit=100)
        system = build_system(data, SystemConfig(widths=(8,)))
        return train(system, data, TrainConfig(epochs=3), callbacks=[Poison()], progress=False)

    case("training", "NaN in W after the last step of epoch 2", late_nan, "epoch 2", kind="keep", keep=1)


# --- the command line --------------------------------------------------------------------------------
CLI_CASES: list[tuple[list[str], str]] = [
    (["couple", "--epochs", "0"], "epochs"), (["couple", "--epochs", "2.5"], "--epochs"),
    (["couple", "--epochs", "-3"], "epochs"), (["couple", "--lr", "1e38"], "lr"), (["couple", "--lr", "nan"], "lr"),
    (["couple", "--lr", "0"], "lr"), (["couple", "--batch-size", "0"], "batch_size"),
    (["couple", "--widths", "0"], "widths"), (["couple", "--widths", ""], "widths"),
    (["couple", "--widths", "200000,200000"], "widths"), (["couple", "--widths", "a"], "--widths"),
    (["couple", "--w-init", "0.9"], "w_init"), (["couple", "--w-init", "nan,0.1"], "w_init"),
    (["couple", "--dropout", "nan"], "dropout"), (["couple", "--dropout", "1"], "dropout"),
    (["couple", "--seed", "-1"], "seed"), (["couple", "--seed", str(2 ** 70)], "seed"),
    (["couple", "--limit", "0"], "--limit"), (["couple", "--limit", "-5"], "--limit"),
    (["couple", "--data", "synthetic", "--limit", "5"], "num_samples"),
    (["couple", "--data", "imagenet"], "--data"), (["couple", "--strategy", "glue"], "--strategy"),
    (["couple", "--strategies", ""], "--strategies"), (["couple", "--compare", "--strategies", ""], "--strategies"),
    (["couple", "--compare", "--strategies", ","], "--strategies"),
    (["couple", "--compare", "--strategies", "glue"], "glue"),
    (["couple", "--compare", "--strategies", "shared,shared"], "--strategies"),
    (["couple", "--weighting", "magic"], "--weighting"), (["couple", "--weightings", ""], "weightings"),
    (["couple", "--weightings", "equal", "--weighting", "dwa"], "--weighting"),
    (["couple", "--alpha", "2"], "--alpha"), (["couple", "--weighting", "gradnorm", "--alpha", "nan"], "alpha"),
    (["couple", "--temperature", "2"], "--temperature"),
    (["couple", "--weighting", "dwa", "--temperature", "0"], "temperature"),
    (["couple", "--cagrad-c", "0.5"], "--cagrad-c"), (["couple", "--weighting", "cagrad", "--cagrad-c", "-1"], "cagrad"),
    (["couple", "--weighting", "cagrad", "--cagrad-rescale", "7"], "rescale"),
    (["couple", "--weighting", "famo", "--famo-lr", "0"], "famo"), (["couple", "--famo-gamma", "0.1"], "--famo-gamma"),
    (["couple", "--weighting", "rlw", "--rlw-seed", "-3"], "rlw"), (["couple", "--rlw-seed", "1.5"], "--rlw-seed"),
    (["couple", "--weighting", "aligned_mtl", "--aligned-scale", "max"], "scale_mode"),
    (["couple", "--weightings", "equal,nash_mtl", "--nash-max-norm", "inf"], "max_norm"),
    (["couple", "--weighting", "gradnorm", "--strategy", "independent"], "independent"),
    (["couple", "--task-weights", "1,2"], "--task-weights"), (["couple", "--task-weights", "1,nan,1,1"], "task_weights"),
    (["couple", "--eps", "-1"], "eps"), (["couple", "--eps", "nan"], "eps"), (["couple", "--adv-ratio", "2"], "--adv-ratio"),
    (["couple", "--attack", "pgd", "--attack-steps", "0"], "steps"), (["couple", "--step-size", "0.1"], "--step-size"),
    (["couple", "--attack", "fgsm", "--attack-modules", "1"], "--attack-modules"),
    (["couple", "--random-start"], "--random-start"), (["couple", "--attack", "cw"], "--attack"),
    (["couple", "--transfer-to", "spin:3"], "spin"), (["couple", "--transfer-to", "rotation:nan"], "rotation:nan"),
    (["couple", "--transfer-to", "rotation"], "KIND:AMOUNT"), (["couple", "--transfer-to", "noise:-1"], "noise"),
    (["couple", "--transfer-mode", "heads"], "--transfer-mode"), (["couple", "--transfer-limit", "5"], "--transfer-limit"),
    (["couple", "--transfer-epochs", "-1"], "--transfer-epochs"), (["couple", "--transfer-lr", "0"], "--transfer-lr"),
    (["couple", "--transfer-to", "rotation:30", "--transfer-mode", "W"], "W"),
    (["couple", "--transfer-to", "rotation:30", "--transfer-mode", "coupling", "--strategy", "independent"],
     "coupling"),
    (["couple", "--data", "synthetic", "--transfer-to", "rotation:30"], "rotation"),
    (["couple", "--momentum", "0.9"], "unrecognized"), (["couple", "--block", "rnn"], "--block"),
    (["couple", "--block", "cnn", "--data", "synthetic"], "cnn"),
    (["couple", "--block", "gru", "--data", "synthetic"], "gru"), (["couple", "--block", "gru", "--batch-norm"], "cnn"),
    (["couple", "--block", "cnn", "--kernel-size", "0"], "kernel_size"),
    (["couple", "--block", "cnn", "--kernel-size", "x"], "--kernel-size"),
    (["couple", "--block", "cnn", "--stride", "99"], "stride"), (["couple", "--stride", "2"], "cnn"),
    (["couple", "--lr-schedule", "warmup"], "--lr-schedule"), (["couple", "--lr-step-epochs", "3"], "lr_step_epochs"),
    (["couple", "--lr-schedule", "step", "--lr-gamma", "0"], "lr_gamma"),
    (["couple", "--lr-schedule", "step", "--lr-step-epochs", "0"], "lr_step_epochs"),
    (["compress", "--recipe", "prune:-0.5"], "sparsity"), (["compress", "--recipe", "kmeans:16:lr="], "lr"),
    (["compress", "--recipe", "prune:0.5:layer:global"], "layer"), (["compress", "--recipe", "kmeans:1e400"], "clusters"),
    (["compress", "--recipe", ""], "empty"), (["compress", "--recipe", "prune:0.9,,int8"], "empty"),
    (["compress", "--recipe", "missing.yaml"], "does not exist"),
    (["compress", "--recipe", "distill:32:task=colour"], "colour"), (["compress", "--recipe", "kmeans:5000"], "clusters"),
    (["compress", "--epochs", "0"], "untrained"), (["compress", "--epochs", "-1"], "--epochs"),
    (["compress", "--epochs", "2.5"], "--epochs"), (["compress", "--finetune-epochs", "-1"], "--finetune-epochs"),
    (["compress", "--finetune-lr", "nan"], "--finetune-lr"), (["compress", "--finetune-lr", "1e38"], "--finetune-lr"),
    (["compress", "--limit", "-1"], "--limit"), (["compress", "--limit", "10"], "limit"),
    (["compress", "--threads", "0"], "--threads"), (["compress", "--seed", "-1"], "--seed"),
    (["compress", "--weights", "nan,1"], "flops"), (["compress", "--weights", "1"], "--weights"),
    (["compress", "--weights", "1,2,3,4"], "--weights"), (["compress", "--weights", ""], "--weights"),
    (["compress", "--model", "resnet"], "--model"), (["compress", "--strategy", "glue"], "--strategy"),
    (["compress", "--export", "out.txt"], ".onnx"), (["compress", "--export", "/proc/lab/x.onnx"], "cannot be written"),
    (["compress", "--export", "{tmp}"], ".onnx"), (["compress", "--export", "{tmp}/dir.onnx/"], "folder"),
    (["compress", "--run", "{tmp}/none"], "no such folder"), (["compress", "--run", "{tmp}"], "history.json"),
    (["compress", "--run", "{tmp}", "--epochs", "3"], "--epochs"), (["compress", "--run", "{file}"], "not a folder"),
    (["compress", "--model", "lenet", "--run", "{tmp}"], "--model"),
    (["nothing"], "invalid choice"), ([], "required"), (["couple", "--help-me"], "unrecognized"),
]


def _cli_cases() -> None:
    for argv, word in CLI_CASES:
        case("cli", " ".join(argv) or "(no command)", lambda t, a=argv: a, word, kind="cli")


def _run_cli(argv: list[str], tmp: Path) -> tuple[int, str, str]:
    from lab.cli import main

    (tmp / "file.txt").write_text("x")
    (tmp / "dir.onnx").mkdir(exist_ok=True)
    argv = [a.replace("{tmp}", str(tmp)).replace("{file}", str(tmp / "file.txt")) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# --- the panels: widget values the widgets accept, then Train / Run ----------------------------------
_PANELS: dict[str, Any] = {}


def _panel(key: str, root: Path):
    if key in _PANELS:
        return _PANELS[key]
    from lab.ui import CompressionPanel, CouplingPlayground, ModelSource, PlaygroundConfig, RecipeConfig
    from lab.ui.robustness import RobustnessConfig, RobustnessPanel
    from lab.ui.transfer import TransferPanel, TransferPanelConfig

    runs = root / f"runs-{key}"
    if key == "playground":
        p = CouplingPlayground(PlaygroundConfig(data="synthetic", num_modules=2, width=8, stages=1, epochs=1,
                                                small_data=True, baselines=()), runs_root=runs, update_interval=0)
    elif key == "robustness":
        p = RobustnessPanel(RobustnessConfig(data="synthetic", modules=(0,), eps=0.5, eps_max=1.0, width=8, epochs=1,
                                             small_data=True, strategies=("independent",)), runs_root=runs,
                            update_interval=0)
    elif key == "transfer":
        p = TransferPanel(TransferPanelConfig(width=8, source_epochs=1, epochs=1, small_data=True), runs_root=runs,
                          update_interval=0)
    else:
        p = CompressionPanel(ModelSource(epochs=1, limit=200), RecipeConfig(finetune_epochs=0, latency=False),
                             runs_root=runs, update_interval=0)
        if key == "compress-recipe":
            assert p.train(), p.message_text
    _PANELS[key] = p
    return p


PANEL_CASES: list[tuple[str, dict, str, str]] = [
    # (panel, {widget: value}, action, word)
    ("playground", {"lr": NAN}, "model", "learning rate"), ("playground", {"lr": INF}, "model", "learning rate"),
    ("playground", {"lr": -1.0}, "model", "learning rate"), ("playground", {"lr": 1e38}, "model", "learning rate"),
    ("playground", {"seed": -1}, "model", "seed"), ("playground", {"seed": 2 ** 40}, "model", "seed"),
    ("playground", {"weighting": "fixed", "task_weights": "1, nan"}, "model", "task weights"),
    ("playground", {"weighting": "fixed", "task_weights": "1, -1"}, "model", "task weights"),
    ("playground", {"weighting": "fixed", "task_weights": "1"}, "model", "task weight"),
    ("playground", {"weighting": "fixed", "task_weights": "a, b"}, "model", "task weights"),
    ("playground", {"weighting": "gradnorm", "weighting_options": "alpha=nan"}, "model", "alpha"),
    ("playground", {"weighting": "gradnorm", "weighting_options": "beta=1"}, "model", "beta"),
    ("playground", {"weighting": "gradnorm", "weighting_options": "alpha"}, "model", "name=number"),
    ("playground", {"weighting": "dwa", "weighting_options": "temperature=0"}, "model", "temperature"),
    ("playground", {"adversarial": "fgsm", "adv_eps": NAN}, "model", "eps"),
    ("playground", {"adversarial": "pgd", "adv_eps": -1.0}, "model", "eps"),
    ("playground", {"adversarial": "fgsm", "adv_eps": 1e9}, "model", "eps"),
    ("playground", {"w_self": 0.0, "w_other": 0.0}, "model", "w_init"),
    ("playground", {"block": "cnn"}, "model", "cnn"),
    ("robustness", {"lr": NAN}, "model", "learning rate"), ("robustness", {"lr": 0.0}, "model", "learning rate"),
    ("robustness", {"seed": -7}, "model", "seed"), ("robustness", {"modules": "x"}, "model", "attacked modules"),
    ("robustness", {"modules": "9"}, "model", "modules"), ("robustness", {"modules": "0.5"}, "model", "modules"),
    ("robustness", {"modules": "-1"}, "model", "modules"), ("robustness", {"eps_max": NAN}, "model", "eps"),
    ("robustness", {"eps_max": -1.0}, "model", "eps"), ("robustness", {"eps_max": 1e9}, "model", "eps"),
    ("robustness", {"strategies": ()}, "model", "strategy"),
    ("robustness", {"adversarial": "fgsm", "adv_eps": INF}, "model", "eps"),
    ("transfer", {"lr": NAN}, "model", "learning rate"), ("transfer", {"source_lr": -1.0}, "model", "learning rate"),
    ("transfer", {"amount": NAN}, "model", "amount"), ("transfer", {"amount": 1e9}, "model", "amount"),
    ("transfer", {"shift": "noise", "amount": -1.0}, "model", "noise"),
    ("transfer", {"shift": "blur", "amount": 50.0}, "model", "blur"),
    ("transfer", {"max_steps": -3}, "model", "step cap"), ("transfer", {"max_steps": 2 ** 40}, "model", "step cap"),
    ("transfer", {"limit": -1}, "model", "few-shot limit"), ("transfer", {"limit": 10 ** 6}, "model", "few-shot limit"),
    ("transfer", {"seed": 2 ** 40}, "model", "seed"),
    ("transfer", {"strategy": "independent", "mode": "coupling"}, "model", "coupling"),
    ("compress", {"seed": -1}, "model", "seed"), ("compress", {"seed": 2 ** 40}, "model", "seed"),
    ("compress", {"recipe": "prune:0.5"}, "recipe", "no model yet"),
    ("compress-recipe", {"recipe": "prune:-0.5"}, "recipe", "sparsity"),
    ("compress-recipe", {"recipe": "kmeans:16:lr="}, "recipe", "lr"),
    ("compress-recipe", {"recipe": "prune:0.5:layer:global"}, "recipe", "layer"),
    ("compress-recipe", {"recipe": "kmeans:16:k-means++=0"}, "recipe", "k-means++"),
    ("compress-recipe", {"recipe": "kmeans:1e400"}, "recipe", "clusters"),
    ("compress-recipe", {"recipe": "prune:0.9,,int8"}, "recipe", "empty"),
    ("compress-recipe", {"recipe": "int8,int8"}, "recipe", "last step"),
    ("compress-recipe", {"recipe": "kmeans:5000"}, "recipe", "clusters"),
    ("compress-recipe", {"recipe": "distill:32:task=colour"}, "recipe", "colour"),
    ("compress-recipe", {"finetune_lr": NAN}, "recipe", "learning rate"),
    ("compress-recipe", {"finetune_lr": 1e38}, "recipe", "learning rate"),
    ("compress-recipe", {"weights": "nan, 1"}, "recipe", "cost weight"),
    ("compress-recipe", {"weights": "1, 2, 3, 4"}, "recipe", "objective weights"),
    ("compress-recipe", {"weights": "a"}, "recipe", "objective weights"),
    ("compress-recipe", {"recipe": "prune:0.5:lr=nan"}, "export", "lr"),
]


def _panel_cases() -> None:
    for key, values, action, word in PANEL_CASES:
        case("panel", f"{key}: {values} -> {action}", lambda t, v=values: v, word, kind="panel", panel=key,
             action=action)


def _press(panel, action: str) -> None:
    from lab.ui import CompressionPanel

    if isinstance(panel, CompressionPanel):
        panel.start(action)
    else:
        panel.train_button.click()


# --- running and classifying --------------------------------------------------------------------------
def _mentions(message: str, words: tuple[str, ...]) -> bool:
    low = message.lower()
    return all(w.lower() in low for w in words) and "weights_only=false" not in low


def classify(c: Case, tmp: Path) -> tuple[str, str]:
    """(verdict, what happened) for one case."""
    if c.kind == "cli":
        try:
            code, out, err = _run_cli(c.run(tmp), tmp)
        except BaseException as e:       # noqa: BLE001 - anything escaping main() is a crash
            return "crash", f"{type(e).__name__}: {e}"
        lines = [line for line in err.splitlines() if line.strip()]
        if code == 0:
            return "silent", out[-200:]
        if "Traceback" in err or code != 2 or len(lines) != 1:
            return "crash", f"exit {code}: {err[-300:]}"
        if "test metric" in out or "trained" in out:
            return "lost", f"failed after work: {lines[0]}"
        return ("clear" if _mentions(lines[0], c.expect) else "unclear"), lines[0]
    if c.kind == "panel":
        panel = _panel(c.extra["panel"], tmp.parent)
        values = c.run(tmp)
        old = {k: getattr(panel, k).value for k in values}
        try:
            for k, v in values.items():
                getattr(panel, k).value = v
            runs_before = list(panel.runs) if hasattr(panel, "runs") else None
            _press(panel, c.extra["action"])
            started = panel.running or not panel.message_text.startswith("Cannot")
            if started:
                panel.stop()
                panel.wait(120)
                return ("lost" if panel.error else "silent"), panel.message_text[:200]
            if runs_before is not None and panel.runs != runs_before:
                return "lost", "a run was added"
            msg = panel.message_text
            if any(t in msg for t in ("TypeError", "AttributeError", "KeyError", "Traceback")):
                return "crash", msg
            return ("clear" if _mentions(msg, c.expect) else "unclear"), msg
        finally:
            for k, v in old.items():
                getattr(panel, k).value = v
    try:
        c.run(tmp)
    except ValueError as e:
        msg = str(e)
        if c.kind == "keep":
            from lab.train import NonFiniteLossError

            if not isinstance(e, NonFiniteLossError) or e.history.num_epochs < c.keep:
                return "lost", msg
            if any(not math.isfinite(v) for values in e.history.val_loss.values() for v in values):
                return "lost", "a non-finite value was recorded"
        return ("clear" if _mentions(msg, c.expect) else "unclear"), msg
    except Exception as e:               # noqa: BLE001 - any other exception is a crash
        return "crash", f"{type(e).__name__}: {e}"
    return "silent", "no error"


def _detection_cases() -> None:
    """The detection data, boxes, system settings, lambda and the ``detect`` command (issue 15)."""
    from lab.data import check_boxes, load_detection
    from lab.detection import DetectionConfig, DetectionSettings

    for kwargs, word in [({"canvas": 16, "max_size": 20}, "canvas"), ({"min_size": 14, "max_size": 12}, "min_size"),
                         ({"clutter": "fog"}, "fog"), ({"copies": 0}, "copies"), ({"canvas": 2.5}, "canvas"),
                         ({"limit": 3}, "limit")]:
        case("data", f"load_detection({kwargs})", lambda t, k=kwargs: load_detection(**k), word)
    for boxes, word in [([[0.1, 0.1, 1.5, 0.5]], "outside the canvas"), ([[0.4, 0.1, 0.2, 0.5]], "degenerate"),
                        ([[0.1, 0.1, 0.1, 0.5]], "degenerate"), ([[NAN, 0.1, 0.3, 0.5]], "nan"), ([0.1, 0.2], "(N, 4)")]:
        case("data", f"check_boxes({boxes})", lambda t, b=boxes: check_boxes(b), word)
    for kwargs, word in [({"lam": -1.0}, "lambda"), ({"lam": NAN}, "lambda"), ({"lam": INF}, "lambda"),
                         ({"lam": True}, "lambda"), ({"weighting": "magic"}, "magic"),
                         ({"lam": 2.0, "weighting": "uncertainty"}, "lambda")]:
        case("api", f"DetectionSettings({kwargs})", lambda t, k=kwargs: DetectionSettings(**k), word)
    for kwargs, word in [({"coupling": "rpn"}, "rpn"), ({"channels": 0}, "channels"), ({"crop": 100}, "crop"),
                         ({"detach_box": 1}, "detach_box")]:
        case("api", f"DetectionConfig({kwargs})", lambda t, k=kwargs: DetectionConfig(**k), word)
    for argv, word in [(["detect", "--lam", "-2"], "lambda"), (["detect", "--lam", "inf"], "lambda"),
                       (["detect", "--crop", "5"], "crop"), (["detect", "--compare", "--couplings", "rpn"], "rpn"),
                       (["detect", "--limit", "2"], "--limit"), (["detect", "--clutter", "fog"], "fog")]:
        case("cli", " ".join(argv), lambda t, a=argv: a, word, kind="cli")


def build_cases() -> list[Case]:
    if not CASES:
        for builder in (_config_cases, _weighting_cases, _data_cases, _recipe_cases, _checkpoint_cases,
                        _training_cases, _cli_cases, _panel_cases, _detection_cases):
            builder()
    return CASES


def run_cases(cases: list[Case], root: Path) -> list[tuple[Case, str, str]]:
    results = []
    for i, c in enumerate(cases):
        tmp = root / f"case{i}"
        tmp.mkdir(parents=True, exist_ok=True)
        verdict, detail = classify(c, tmp)
        results.append((c, verdict, detail))
    return results


def counts(results: list[tuple[Case, str, str]]) -> dict[str, dict[str, int]]:
    """surface -> verdict -> count (plus a "total" surface)."""
    table: dict[str, dict[str, int]] = {}
    for c, verdict, _ in results:
        for surface in (c.surface, "total"):
            row = table.setdefault(surface, dict.fromkeys(VERDICTS, 0))
            row[verdict] += 1
    return table


def format_counts(table: dict[str, dict[str, int]]) -> str:
    lines = [f"{'surface':<10}" + "".join(f"{v:>9}" for v in VERDICTS) + f"{'cases':>9}"]
    for surface, row in sorted(table.items(), key=lambda item: item[0] == "total"):     # the total last
        lines.append(f"{surface:<10}" + "".join(f"{row[v]:>9}" for v in VERDICTS) + f"{sum(row.values()):>9}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the probe (``argv``: surfaces to run, e.g. ``api cli``; none = all) and print the counts."""
    surfaces = set(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="lab-bad-inputs-") as d:
        os.environ.setdefault("LAB_RUNS", str(Path(d) / "runs"))
        results = run_cases([c for c in build_cases() if not surfaces or c.surface in surfaces], Path(d))
    for c, verdict, detail in results:
        if verdict != "clear":
            print(f"[{verdict}] {c.surface}: {c.name}\n    {detail[:300]}")
    print(format_counts(counts(results)))
    return 0 if all(v == "clear" for _, v, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
