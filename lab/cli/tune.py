"""``python -m lab tune``: multi-objective search over coupling and compression settings (Optuna).

    python -m lab tune spaces                                   # the search spaces and their keys
    python -m lab tune run --space mlp_compression --trials 30  # runs/tune/studies.db, study "mlp_compression"
    python -m lab tune run --space coupling --objectives accuracy,bytes,latency --workers 2
    python -m lab tune run --space mlp_compression --set sparsity.1=0.9:0.99 --set bias_clusters=4|8
    python -m lab tune run --study mlp_compression --trials 50  # resume / extend a study (its own space)
    python -m lab tune run --space coupling --study shared --storage postgresql://lab@db-host/optuna   # on every machine
    python -m lab tune show --study mlp_compression             # the Pareto table (validation accuracy)
    python -m lab tune show --study mlp_compression --rebuild 12 --save   # rebuild trial 12, save it for the panels

The work is done by ``lab.tune`` (the TuningPanel calls the same functions): ``build_space``,
``TuneConfig``, ``open_study`` / ``join_study``, ``run_worker``, ``LocalWorkers``, ``pareto_table``,
``rebuild`` and ``save_rebuilt``.
"""
from __future__ import annotations

import argparse
import signal
import threading

from ..tune.catalog import SPACES
from ..tune.objectives import DEFAULT_OBJECTIVES, OBJECTIVES
from ..tune.study import SAMPLERS


def add_parser(sub) -> None:
    p = sub.add_parser("tune", help="search coupling/compression settings for the best trade-offs (Optuna)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tsub = p.add_subparsers(dest="tune_command", required=True)

    s = tsub.add_parser("spaces", help="list the search spaces and their keys")
    s.set_defaults(func=_spaces)

    r = tsub.add_parser("run", help="create, continue or join a study and run its trials")
    r.add_argument("--space", choices=list(SPACES), default=None,
                   help="search space (needed to create a study; omit to continue one)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=RANGE",
                   help="narrow or fix a key: 0.5:0.9, one value, or a|b|c for choices (repeatable)")
    r.add_argument("--objectives", default=None,
                   help=f"comma-separated, from {list(OBJECTIVES)} (default {','.join(DEFAULT_OBJECTIVES)})")
    r.add_argument("--sampler", choices=list(SAMPLERS), default=None, help="default nsga2")
    r.add_argument("--seed", type=int, default=None, help="sampler seed (default 0)")
    r.add_argument("--population", type=int, default=None, help="NSGA-II population (default 12)")
    r.add_argument("--trials", type=int, default=None, help="the study's total number of trials (default 20)")
    r.add_argument("--workers", type=int, default=1, help="worker processes on this machine (this one included)")
    r.add_argument("--limit", type=int, default=None, help="use a seeded subset of the digits")
    r.add_argument("--model", default=None, help="reference network of a compression space (mlp, lenet, dscnn)")
    r.add_argument("--run", default=None, help="compress the coupled system saved in this run folder")
    r.add_argument("--heartbeat", type=int, default=None, help="seconds between heartbeats (default 10)")
    r.add_argument("--grace", type=int, default=None, help="seconds without a heartbeat before a trial is failed "
                                                           "and retried (default 3 heartbeats)")
    _storage_args(r)
    r.set_defaults(func=_run)

    w = tsub.add_parser("show", help="the Pareto table of a study (and its failures)")
    _storage_args(w, study_required=True)
    w.add_argument("--failed", action="store_true", help="also list failed trials with their reasons")
    w.add_argument("--rebuild", type=int, default=None, metavar="TRIAL", help="rebuild this trial's model")
    w.add_argument("--save", action="store_true", help="with --rebuild: save it (a run folder for the W inspector, "
                                                       "or a recipe run for the compression panel)")
    w.set_defaults(func=_show)


def _storage_args(p, study_required: bool = False) -> None:
    p.add_argument("--study", required=study_required, default=None, help="study name (default: the space's name)")
    p.add_argument("--storage", default=None, help="a .db/.sqlite or .journal file, or a database URL such as "
                                                   "postgresql://user@host/db (default runs/tune/studies.db)")


def _ranges(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=RANGE (e.g. sparsity.1=0.9:0.99), got {item!r}")
        out[key.strip()] = value
    return out


def _spaces(args) -> int:
    from ..tables import format_table

    for space in SPACES.values():
        print(f"{space.name} ({space.kind}): {space.description}")
        print(format_table(space.rows()))
        print()
    print("objectives: " + ", ".join(f"{o.name} ({o.direction}: {o.help})" for o in OBJECTIVES.values()))
    return 0


def _config(args):
    """(study, TuneConfig): create or continue with --space, or join the named study as recorded."""
    from ..tune.catalog import build_space
    from ..tune.study import TuneConfig, join_study, open_study

    asked = {"objectives": args.objectives, "sampler": args.sampler, "seed": args.seed,
             "population": args.population, "trials": args.trials}
    timing = {"heartbeat": args.heartbeat, "grace": args.grace}
    if args.space is None:
        if args.set or args.limit is not None or args.model or args.run:
            raise ValueError("--set, --limit, --model and --run shape a new space: name it with --space")
        if args.study is None:
            raise ValueError(f"name a --space (one of {list(SPACES)}) to create a study, or a --study to continue")
        changed = {k: v for k, v in asked.items() if v is not None and k != "trials"}
        if changed:
            raise ValueError(f"{sorted(changed)} are fixed when a study is created; to continue study "
                             f"{args.study!r} give only --trials (and --workers, --storage)")
        return join_study(args.study, args.storage, trials=args.trials, **timing)
    space = build_space(args.space, _ranges(args.set), run=args.run, limit=args.limit, model=args.model)
    values = {k: v for k, v in {**asked, **timing}.items() if v is not None}
    if "objectives" in values:
        values["objectives"] = tuple(o.strip() for o in values["objectives"].split(",") if o.strip())
    config = TuneConfig(space, study=args.study, storage=args.storage, **values)
    return open_study(config), config


def _run(args) -> int:
    from ..tune.processes import LocalWorkers
    from ..tune.results import failed_rows, pareto_table, summary_line
    from ..tune.storage import redact
    from ..tune.worker import describe_trial, run_worker

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    study, config = _config(args)
    print(f"study {config.study!r} in {redact(config.storage_url)}: space {config.space.name} "
          f"({config.space.kind}), objectives {', '.join(config.objectives)}, {config.sampler} seed {config.seed}, "
          f"{config.trials} trials, {args.workers} worker(s)", flush=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    others = None
    try:
        if args.workers > 1:
            others = LocalWorkers(config.study, config.storage_url, args.workers - 1, trials=config.trials,
                                  heartbeat=args.heartbeat, grace=args.grace).start()
        run_worker(study, config, worker=0, stop=stop,
                   on_trial=lambda t: print(f"[worker 0] {describe_trial(t, config.objectives)}", flush=True))
        if others is not None and stop.is_set():
            others.stop(grace=60.0)
        elif others is not None:
            others.wait()
    finally:
        if others is not None and others.alive():
            others.stop(grace=30.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        print("stopped: the running trial(s) were queued again; continue with "
              f"`python -m lab tune run --study {config.study}" + (f" --storage {args.storage}`" if args.storage else "`"))
    print("\n" + summary_line(study, config))
    print(pareto_table(study, config.objectives))
    failed = failed_rows(study)
    if failed:
        print(f"\n{len(failed)} failed trial(s) (see `tune show --failed`); first: {failed[0]['reason']}")
    return 0


def _show(args) -> int:
    from ..cost import format_reports
    from ..tables import format_table
    from ..tune.results import failed_rows, get_trial, pareto_table, rebuild, save_rebuilt, summary_line
    from ..tune.study import join_study

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, config = join_study(args.study, args.storage)
    print(summary_line(study, config))
    print(f"space {config.space.name} ({config.space.kind}); objectives {', '.join(config.objectives)}; "
          f"{config.sampler} seed {config.seed}")
    print(pareto_table(study, config.objectives))
    if args.failed:
        rows = failed_rows(study)
        print("\nfailed trials:\n" + (format_table(rows) if rows else "(none)"))
    if args.rebuild is not None:
        trial = get_trial(study, args.rebuild)
        outcome, _ = rebuild(config, trial)
        print(f"\ntrial {trial.number} rebuilt: {outcome.plan.describe()}")
        print(format_reports(outcome.reports))
        if args.save:
            print(f"saved in {save_rebuilt(config, trial, outcome)}")
    elif args.save:
        raise ValueError("--save saves a rebuilt trial: give --rebuild TRIAL")
    return 0
