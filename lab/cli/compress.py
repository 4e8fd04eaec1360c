"""``python -m lab compress``: train (or load) a model, run a compression recipe, print the table.

    python -m lab compress --model mlp --recipe prune:0.9,kmeans:16,int8
    python -m lab compress --model lenet --recipe channels:0.5,fakequant:4 --export out/lenet.onnx
    python -m lab compress --run latest --strategy cross_stitch --recipe prune:0.7,int8:static
    python -m lab compress --model mlp --recipe recipe.yaml --weights 1,1,0.5
    python -m lab compress --model mlp --recipe prune:0.9,int8 --save   # runs/<time>-compress-mlp/recipe.json

The work is done by the core functions the compression panel calls too: ``RecipeConfig`` and
``record_recipe`` (``lab.compress``), ``export_plan`` + ``lab.export_report.export_and_compare`` for
``--export``, ``latest_digits_run`` / ``run_data_kwargs`` (``lab.runs``) for ``--run``.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from ..compress.recipe import check_recipe, describe_steps
from ..compress.recipe_config import RecipeConfig
from ..compress.recipe_runs import RecipeRun, export_plan, record_recipe
from ..compress.reference import FAST_EPOCHS, REFERENCE_FIT, digit_data, train_reference
from ..cost import CostWeights, evaluate_model, format_reports
from ..coupling.system import COUPLINGS, SystemConfig, build_system
from ..models import MODELS, build_model
from ..settings import fast_mode
from ..validation import LR_MAX, MAX_EPOCHS, check_float, check_int, check_output_path, check_seed
from .help import DefaultsHelpFormatter

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
                                   + describe_steps(), formatter_class=DefaultsHelpFormatter)
    p.add_argument("--model", default="mlp", choices=MODEL_CHOICES,
                   help="reference network, or 'coupled' to train a CoupledSystem on all digit tasks")
    p.add_argument("--recipe", default="prune:0.9,kmeans:16,int8",
                   help="comma-separated steps (e.g. prune:0.9,kmeans:16,int8) or a .yaml/.json file")
    p.add_argument("--run", default=None,
                   help="compress a saved coupled run: its folder, or 'latest' (default: train --model instead)")
    p.add_argument("--strategy", default="cross_stitch", choices=list(COUPLINGS),
                   help="coupling for --model coupled / --run latest")
    p.add_argument("--seed", type=int, default=0, help="seed for data, training and fine-tuning")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs of the model to compress (default: {REFERENCE_FIT.epochs} for a reference "
                        f"network, 20 for --model coupled; with LAB_FAST=1 at most {FAST_EPOCHS} and 3)")
    p.add_argument("--finetune-epochs", type=int, default=8,
                   help="fine-tuning epochs after each step (at most 2 with LAB_FAST=1)")
    p.add_argument("--finetune-lr", type=float, default=1e-3, help="fine-tuning learning rate")
    p.add_argument("--limit", type=int, default=None,
                   help="use a seeded subset of this many digits (default: all 1797)")
    p.add_argument("--weights", type=_floats, default=(1.0, 1.0, 0.0),
                   help="objective weights flops,bytes[,latency] (f relative to the first row)")
    p.add_argument("--threads", type=int, default=1, help="threads for latency measurements")
    p.add_argument("--no-latency", action="store_true", help="skip latency and memory measurements")
    p.add_argument("--export", default=None, help="export the last float model to this .onnx file and run "
                                                  "ONNX Runtime (parity check, int8 file when the recipe has int8; "
                                                  "default: no export)")
    p.add_argument("--save", action="store_true", help="save the recipe run as it goes (runs/<time>-compress-<model>/"
                                                       "recipe.json, as the compression panel does; its Pareto plot "
                                                       "loads it with load_saved)")
    p.set_defaults(func=run)


def _coupled(args, data):
    """(system, data): a saved or freshly trained CoupledSystem and the digits split to score it on."""
    from ..compare import run_strategy
    from ..coupling.system import SystemConfig
    from ..data import DIGITS_TASKS, load_digits_tasks
    from ..runs import latest_run, load_run, notes_text, run_data_kwargs, runs_root
    from ..train import TrainConfig

    if args.run is not None:
        if args.run == "latest":
            latest, notes = latest_run(strategy=args.strategy, data="digits", tasks=DIGITS_TASKS)
            if notes:
                print(notes_text(notes, limit=10))
            if latest is None:
                raise ValueError(f"no saved {args.strategy} run under {runs_root()}/ trained on the digits tasks; "
                                 f"run `python -m lab couple --data digits --strategy {args.strategy} --save` first")
            run_dir, system, history = latest.path, latest.system, latest.history
            print(f"the newest usable {args.strategy} run on the digits: {run_dir.name}")
        else:
            run_dir = Path(args.run)
            system, history = load_run(run_dir)
        if system is None:
            raise ValueError(f"{run_dir} has no checkpoint.pt")
        saved = run_data_kwargs(run_dir, history)
        if args.limit is None and (saved["limit"], saved["seed"]) != (None, args.seed):
            data = load_digits_tasks(seed=saved["seed"], limit=saved["limit"])
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


def check_args(args) -> tuple[CostWeights, RecipeConfig]:
    """Every option checked before any model is built, trained or loaded: (recipe steps, objective
    weights, the recipe's settings). ValueError naming the option otherwise."""
    if len(args.weights) not in (2, 3):
        raise ValueError(f"--weights takes flops,bytes or flops,bytes,latency; got {args.weights}")
    weights = CostWeights(*args.weights)
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
    config = RecipeConfig(recipe=args.recipe, latency=not args.no_latency, threads=threads,
                          finetune_epochs=min(epochs, 2) if fast_mode() else epochs, finetune_lr=lr,
                          weights=tuple(args.weights), seed=args.seed)
    if args.run is not None and args.run != "latest":
        check_run_folder(args.run)
    if args.export is not None:
        check_output_path("--export", args.export, ".onnx")
    return weights, config


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

    weights, config = check_args(args)
    specs = config.steps()
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
    label = args.model if not coupled else model.strategy
    description = (f"{label} on digits (tasks {list(data.task_names)}), test metric "
                   + ", ".join(f"{k} {100 * v:.2f}%" for k, v in test.items()))
    print(f"model: {description}")
    run_dir = None
    if args.save:
        from ..runs import new_run_dir

        run_dir = new_run_dir(f"compress-{label}")
        print(f"saving the recipe run in {run_dir} as it goes")
    run = RecipeRun(f"{label} {config.recipe}", config.recipe, label, run_dir=run_dir)
    try:
        record_recipe(run, model, data, config, model_description=description)
    finally:
        if run_dir is not None:
            print(f"recipe run saved in {run_dir} ({max(len(run.reports) - 1, 0)} of {len(config.steps())} steps"
                  + (f"; {run.error}" if run.error else "") + ")")
    print(f"\nrecipe {args.recipe} (sizes: real files on disk; us: median microseconds at batch 1, {args.threads} thread(s); "
          f"f = {weights.flops:g}·C/C0 + {weights.bytes:g}·S/S0 + {weights.latency:g}·L/L0):")
    print(format_reports(run.reports, weights))
    notes = [(r.step, n) for r in run.reports for n in r.notes]
    if notes:
        print("notes:\n" + "\n".join(f"  {step}: {note}" for step, note in notes))
    if args.export:
        _export(args, run, data, config, weights)
    return 0


def _export(args, run: RecipeRun, data, config: RecipeConfig, weights: CostWeights) -> None:
    from ..export_report import export_and_compare, save_export_summary
    from ..tables import format_table

    i, modes = export_plan(run.steps, len(run.reports) - 1)
    int8 = (run.models[-1], run.reports[-1]) if modes else None
    summary = export_and_compare(run.models[i], args.export, data, run.reports[i], modes=modes, int8=int8,
                                 config=config.measure())
    if run.run_dir is not None:
        save_export_summary(run.run_dir, f"{run.reports[i].step} of recipe {run.recipe}", summary)
    print(f"\nexported {args.export} (onnx.checker passed; ONNX Runtime vs torch max abs diff "
          f"{summary.parity()} <= {summary.atol:g}); the Export tab's table:")
    print(format_table(summary.rows))
    print("\ncost of the ONNX files (f relative to the input model):")
    print(format_reports([run.reports[0]] + summary.reports, weights))
