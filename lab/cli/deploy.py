"""``python -m lab deploy``: the runtime arena — one model exported to ONNX Runtime, LiteRT and ExecuTorch,
each file loaded and run, side by side in one table.

    python -m lab deploy --model mlp --runtimes onnx,litert,executorch
    python -m lab deploy --run latest --strategy cross_stitch --runtimes onnx,executorch
    python -m lab deploy --model mlp --recipe prune:0.9,kmeans:16,int8       # compress first: its last float model
    python -m lab deploy --model lenet --precisions fp32 --batches 1,64 --out out/lenet

Files and ``arena.json`` go to ``--out`` (default ``runs/<time>-deploy-<model>/``). Settings and
runtimes are checked before anything is trained (a runtime that is not installed says how to install
it). The work is ``lab.deploy.arena.run_arena``, which the compression panel's Export tab calls too.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..deploy.arena import ArenaConfig, run_arena, save_arena
from ..deploy.registry import RUNTIMES, get_runtime
from ..settings import fast_mode
from .compress import MODEL_CHOICES, _coupled


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_parser(sub) -> None:
    p = sub.add_parser("deploy", help="export a model to edge runtimes and compare them side by side",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mlp", choices=MODEL_CHOICES,
                   help="reference network trained on the digits, or 'coupled' to train a CoupledSystem")
    p.add_argument("--run", default=None, help="a saved coupled run: its folder, or 'latest'")
    p.add_argument("--strategy", default="cross_stitch", help="coupling for --model coupled / --run latest")
    p.add_argument("--runtimes", type=_names, default=tuple(RUNTIMES),
                   help=f"comma-separated, from {','.join(RUNTIMES)} (default: all)")
    p.add_argument("--precisions", type=_names, default=("fp32", "int8"), help="fp32, int8 or both")
    p.add_argument("--batches", type=_ints, default=(1, 256), help="batch sizes to time (1 to 1024)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per contestant and round")
    p.add_argument("--threads", type=int, default=1, help="threads of every runtime and of torch")
    p.add_argument("--no-latency", action="store_true", help="skip timing (parity, accuracy and bytes only)")
    p.add_argument("--onnx-int8", default="dynamic", choices=("dynamic", "static"), help="ONNX Runtime int8 kind")
    p.add_argument("--recipe", default=None, help="compress first with this recipe (e.g. prune:0.9,kmeans:16,int8); "
                                                  "the arena takes its last float model")
    p.add_argument("--out", default=None, help="folder for the files (default: runs/<time>-deploy-<model>/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="training epochs of the reference model")
    p.add_argument("--limit", type=int, default=None, help="use a seeded subset of the digits")
    p.set_defaults(func=run)


def _model(args):
    """(model, data, label): a saved/trained coupled system or a trained reference network."""
    from ..compress.reference import REFERENCE_FIT, digit_data, train_reference
    from ..data import load_digits_tasks

    if args.model == "coupled" or args.run is not None:
        system, data = _coupled(args, load_digits_tasks(seed=args.seed, limit=args.limit))
        return system, data, system.strategy
    data = digit_data(args.seed, args.limit)
    fit = REFERENCE_FIT if args.epochs is None else replace(REFERENCE_FIT, epochs=args.epochs)
    return train_reference(args.model, data, fit, args.seed), data, args.model


def _compressed(args, model, data, label: str):
    """The last float model of ``args.recipe`` run on ``model``, its step, and ONNX Runtime's int8 kind."""
    from ..compress.recipe_config import RecipeConfig
    from ..compress.recipe_runs import RecipeRun, export_plan, record_recipe

    config = RecipeConfig(recipe=args.recipe, latency=False, finetune_epochs=2 if fast_mode() else 8, seed=args.seed)
    run = record_recipe(RecipeRun(f"{label} {args.recipe}", args.recipe, label), model, data, config)
    i, modes = export_plan(run.steps, len(run.reports) - 1)
    print(f"compressed with {args.recipe}: exporting {run.reports[i].step} "
          f"(test metric {100 * (run.reports[i].metric or 0):.2f}%)")
    return run.models[i], f"{run.reports[i].step} of recipe {args.recipe}", (modes[0] if modes else args.onnx_int8)


def run(args) -> int:
    from ..runs import new_run_dir

    config = ArenaConfig(runtimes=args.runtimes, precisions=args.precisions, batches=args.batches,
                         rounds=args.rounds, repeats=args.repeats, threads=args.threads,
                         latency=not args.no_latency, onnx_int8=args.onnx_int8)
    if args.recipe is not None:
        from ..compress.recipe import parse_recipe

        parse_recipe(args.recipe)                  # a bad recipe is refused before any training
    for name in config.runtimes:
        get_runtime(name).check_installed()
    model, data, label = _model(args)
    exported = f"{label} as trained"
    if args.recipe is not None:
        model, exported, onnx_int8 = _compressed(args, model, data, label)
        config = replace(config, onnx_int8=onnx_int8)
    out = Path(args.out) if args.out else new_run_dir(f"deploy-{label}")
    print(f"exporting {exported} to {', '.join(config.runtimes)} ({', '.join(config.precisions)}) in {out}/")
    arena = run_arena(model, out, data, config, label=label, on_stage=lambda s: print(f"  {s}...", flush=True))
    save_arena(out, arena, exported)
    print()
    print(arena.text())
    print(f"\nfiles and arena.json in {out}/ ({arena.seconds:.0f} s)")
    return 0
