"""``python -m lab compress``: train (or load) a model, run a compression recipe, print the table.

    python -m lab compress --model mlp --recipe prune:0.9,kmeans:16,int8
    python -m lab compress --model lenet --recipe channels:0.5,fakequant:4 --export out/lenet.onnx
    python -m lab compress --run latest --strategy cross_stitch --recipe prune:0.7,int8:static
    python -m lab compress --model mlp --recipe recipe.yaml --weights 1,1,0.5
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from ..compress.fit import FitConfig
from ..compress.recipe import STEPS, RecipeOptions, StepSpec, check_recipe, describe_steps, parse_recipe, run_recipe
from ..compress.reference import REFERENCE_FIT, digit_data, train_reference
from ..cost import CostWeights, MeasureConfig, evaluate_model, format_reports
from ..coupling.system import COUPLINGS, SystemConfig, build_system
from ..models import MODELS, build_model
from ..settings import fast_mode
from ..validation import (LR_MAX, MAX_EPOCHS, check_float, check_int, check_output_path,
                          check_seed)

MODEL_CHOICES = list(MODELS) + ["coupled"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_parser(sub) -> None:
    p = sub.add_parser("compress", help="compress a model with a recipe and print the cost table",
                       description="Train a reference model on the digits (or load a coupled run), apply a "
                                   "compression recipe step by step and print accuracy and costs.\nSteps:\n"
                                   + describe_steps(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mlp", choices=MODEL_CHOICES,
                   help="reference network, or 'coupled' to train a CoupledSystem on all digit tasks")
    p.add_argument("--recipe", default="prune:0.9,kmeans:16,int8",
                   help="comma-separated steps (e.g. prune:0.9,kmeans:16,int8) or a .yaml/.json file")
    p.add_argument("--run", default=None, help="compress a saved coupled run: its folder, or 'latest'")
    p.add_argument("--strategy", default="cross_stitch", choices=list(COUPLINGS),
                   help="coupling for --model coupled / --run latest")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="training epochs of the reference model")
    p.add_argument("--finetune-epochs", type=int, default=8, help="fine-tuning epochs after each step")
    p.add_argument("--finetune-lr", type=float, default=1e-3, help="fine-tuning learning rate")
    p.add_argument("--limit", type=int, default=None, help="use a seeded subset of the digits")
    p.add_argument("--weights", type=_floats, default=(1.0, 1.0, 0.0),
                   help="objective weights flops,bytes[,latency] (f relative to the first row)")
    p.add_argument("--threads", type=int, default=1, help="threads for latency measurements")
    p.add_argument("--no-latency", action="store_true", help="skip latency and memory measurements")
    p.add_argument("--export", default=None, help="export the last float model to this .onnx file and run "
                                                  "ONNX Runtime (parity check, int8 file when the recipe has int8)")
    p.set_defaults(func=run)


def _coupled(args, data):
    """(system, data): a saved or freshly trained CoupledSystem and the digits split to score it on."""
    from ..compare import run_strategy
    from ..coupling.system import SystemConfig
    from ..data import load_digits_tasks
    from ..runs import list_runs, load_run, runs_root
    from ..train import TrainConfig

    if args.run is not None:
        if args.run == "latest":
            runs = [r for r in list_runs() if r.name.endswith(f"-{args.strategy}")]
            if not runs:
                raise ValueError(f"no saved {args.strategy} run under {runs_root()}/; "
                                 f"run `python -m lab couple --strategy {args.strategy} --save` first")
            run_dir = runs[0]
        else:
            run_dir = Path(args.run)
        system, history = load_run(run_dir)
        if system is None:
            raise ValueError(f"{run_dir} has no checkpoint.pt")
        saved = history.config.get("data_info", {})
        if args.limit is None and (saved.get("limit"), saved.get("seed", args.seed)) != (None, args.seed):
            data = load_digits_tasks(seed=saved.get("seed", args.seed), limit=saved.get("limit"))
            print(f"scoring on the run's own split (seed {data.info['seed']}, limit {data.info['limit']})")
        if system.tasks != data.tasks or system.input_shape != tuple(data.input_shape):
            raise ValueError(f"{run_dir} holds a system for tasks {list(system.task_names)} with inputs "
                             f"{system.input_shape}; compress --run takes systems trained on the digits tasks")
        print(f"loaded {system.strategy} system from {run_dir}")
        return system, data
    epochs = args.epochs or (3 if fast_mode() else 20)
    result = run_strategy(data, SystemConfig(strategy=args.strategy, widths=(64, 64), seed=args.seed),
                          TrainConfig(epochs=epochs, seed=args.seed))
    print(f"trained {args.strategy} system for {epochs} epochs")
    return result.system, data


def check_args(args) -> tuple[list[StepSpec], CostWeights, MeasureConfig, FitConfig]:
    """Every option checked before any model is built, trained or loaded: (recipe steps, objective
    weights, measurement, fine-tuning). ValueError naming the option otherwise."""
    if len(args.weights) not in (2, 3):
        raise ValueError(f"--weights takes flops,bytes or flops,bytes,latency; got {args.weights}")
    weights = CostWeights(*args.weights)
    specs = parse_recipe(args.recipe)
    check_seed(args.seed, "--seed")
    if args.limit is not None:
        check_int("--limit", args.limit, min=1)
    if args.epochs is not None:
        if args.run is not None:
            raise ValueError("--epochs trains a model, but --run loads a trained one; give one of them")
        if args.epochs == 0:
            raise ValueError("--epochs 0 would compress an untrained model (random weights); give --epochs >= 1, "
                             "or leave it out for the default")
        check_int("--epochs", args.epochs, min=1, max=MAX_EPOCHS)
    if args.run is not None and args.model not in ("mlp", "coupled"):
        raise ValueError(f"--model {args.model} trains a reference network, but --run loads a saved coupled system; "
                         "give one of them")
    epochs = check_int("--finetune-epochs", args.finetune_epochs, min=0, max=MAX_EPOCHS)
    lr = check_float("--finetune-lr", args.finetune_lr, min=0.0, max=LR_MAX, min_open=True)
    threads = check_int("--threads", args.threads, min=1, max=1024)
    measure = MeasureConfig(latency=not args.no_latency, memory=not args.no_latency, threads=threads)
    finetune = FitConfig(epochs=min(epochs, 2) if fast_mode() else epochs, lr=lr)
    if args.run is not None and args.run != "latest":
        check_run_folder(args.run)
    if args.export is not None:
        check_output_path("--export", args.export, ".onnx")
    return specs, weights, measure, finetune


def check_run_folder(path: str) -> Path:
    """A saved run's folder that exists and can be read (history.json and checkpoint.pt in it)."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise ValueError(f"--run {path}: no such folder" if not run_dir.exists() else f"--run {path} is not a folder")
    for name in ("history.json", "checkpoint.pt"):
        if not (run_dir / name).is_file():
            raise ValueError(f"--run {path} is not a saved run: it has no {name}")
        if not os.access(run_dir / name, os.R_OK):
            raise ValueError(f"--run {path}: {name} cannot be read (permission denied)")
    return run_dir


def run(args) -> int:
    from ..data import load_digits_tasks

    specs, weights, measure, finetune = check_args(args)
    coupled = args.model == "coupled" or args.run is not None
    if coupled:
        data = load_digits_tasks(seed=args.seed, limit=args.limit)
        if args.run is None:        # what the recipe needs of the model and data, before training
            check_recipe(specs, data, build_system(data, SystemConfig(strategy=args.strategy, widths=(64, 64))))
        model, data = _coupled(args, data)
    else:
        data = digit_data(args.seed, args.limit)
        check_recipe(specs, data, build_model(args.model, data.input_shape, data.tasks[0].num_outputs))
        fit = REFERENCE_FIT if args.epochs is None else replace(REFERENCE_FIT, epochs=args.epochs)
        model = train_reference(args.model, data, fit, args.seed)
    check_recipe(specs, data, model)
    test = evaluate_model(model, data.test, data.tasks)
    print(f"model: {args.model if not coupled else model.strategy} on digits (tasks {list(data.task_names)}), "
          "test metric " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in test.items()))
    options = RecipeOptions(finetune=finetune, measure=measure, seed=args.seed)
    result = run_recipe(model, specs, data, options, keep_models=args.export is not None)
    print(f"\nrecipe {args.recipe} (sizes: real files on disk; us: median microseconds at batch 1, {args.threads} thread(s); "
          f"f = {weights.flops:g}·C/C0 + {weights.bytes:g}·S/S0 + {weights.latency:g}·L/L0):")
    print(format_reports(result.reports, weights))
    notes = [(r.step, n) for r in result.reports for n in r.notes]
    if notes:
        print("notes:\n" + "\n".join(f"  {step}: {note}" for step, note in notes))
    if args.export:
        _export(args, result, data, measure, weights)
    return 0


def _export(args, result, data, measure, weights) -> None:
    from ..deploy import deploy

    specs = parse_recipe(args.recipe)
    last_float = result.models[-1]
    modes: tuple[str, ...] = ()
    if STEPS[specs[-1].name].terminal:
        last_float = result.models[-2]
        modes = ("dynamic",) if (specs[-1].value or "dynamic") == "dynamic" else ("static",)
    reports = deploy(last_float, args.export, data, quantize=modes, config=measure)
    diffs = reports[0].extra["max_abs_diff"]
    print(f"\nexported {args.export} (onnx.checker passed; ONNX Runtime vs torch max abs diff "
          + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()) + f" <= {reports[0].extra['atol']:g})")
    print(format_reports([result.reports[0]] + reports, weights))
