"""Reading a study: its Pareto trials as table rows, its failures, and rebuilding a trial's model.

    rows = pareto_rows(study, config.objectives)     # one dict per Pareto-optimal trial
    print(pareto_table(study, config.objectives))    # what `python -m lab tune show` prints
    outcome, context = rebuild(config, trial)        # the trial's model again (seeded plan)

The front is ``study.best_trials`` (non-dominated COMPLETE trials over all workers). Accuracy is on
the validation split; the test column is for reading only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from ..tables import format_table
from .trials import TrialContext, TrialOutcome, plan_trial, run_plan
from .study import TuneConfig
from .worker import budget


def completed(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def pareto_trials(study: optuna.Study, objectives: Sequence[str]) -> list[FrozenTrial]:
    """The non-dominated COMPLETE trials, sorted by bytes (or the first objective) ascending."""
    if not completed(study):
        return []
    key = list(objectives).index("bytes") if "bytes" in objectives else 0
    return sorted(study.best_trials, key=lambda t: (t.values[key], t.number))


def trial_row(t: FrozenTrial, objectives: Sequence[str] = ()) -> dict[str, Any]:
    """Trial number, validation and test accuracy (%), bytes, ratio to the uncompressed model, latency
    ratio, effective kFLOPs, seconds and the plan."""
    a = t.user_attrs
    val, test = a.get("val_metric"), a.get("test_metric")
    return {"trial": t.number, "val_%": None if val is None else 100 * val, "test_%": None if test is None else 100 * test,
            "bytes": a.get("bytes"), "x_smaller": a.get("ratio"), "latency_x": a.get("latency_ratio"),
            "kFLOPs": None if a.get("flops") is None else a["flops"] / 1000, "s": a.get("seconds"),
            "plan": a.get("plan", "")}


def pareto_rows(study: optuna.Study, objectives: Sequence[str]) -> list[dict[str, Any]]:
    return [trial_row(t, objectives) for t in pareto_trials(study, objectives)]


def failed_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Failed trials with their reason (stopped and heartbeat-failed ones say so)."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        reason = t.user_attrs.get("fail_reason") or "worker stopped beating (killed?); re-queued"
        rows.append({"trial": t.number, "reason": reason, "worker": t.user_attrs.get("worker", "")})
    return rows


def summary_line(study: optuna.Study, config: TuneConfig) -> str:
    b = budget(study)
    return (f"study {study.study_name!r}: {b.complete} complete, {b.failed} failed, {b.running} running, "
            f"{b.waiting} queued of {config.trials} trials; {len(pareto_trials(study, config.objectives))} on the "
            f"Pareto front of {', '.join(config.objectives)} (accuracy on validation)")


def pareto_table(study: optuna.Study, objectives: Sequence[str], digits: int = 2) -> str:
    rows = pareto_rows(study, objectives)
    return format_table(rows, digits=digits) if rows else "(no completed trial yet)"


def get_trial(study: optuna.Study, number: int) -> FrozenTrial:
    for t in study.get_trials(deepcopy=False):
        if t.number == number:
            return t
    raise ValueError(f"study {study.study_name!r} has no trial {number} (it has {len(study.trials)})")


def rebuild(config: TuneConfig, trial: FrozenTrial, context: TrialContext | None = None) -> tuple[TrialOutcome, TrialContext]:
    """Run the trial's plan again (same seeds, same lab calls): its model, Reports and history."""
    if trial.state != TrialState.COMPLETE:
        raise ValueError(f"trial {trial.number} is {trial.state.name.lower()}: only completed trials can be rebuilt")
    context = context or TrialContext.build(config.space)
    params = dict(trial.params)
    return run_plan(plan_trial(config.space, params), context, params=params), context


def save_rebuilt(config: TuneConfig, trial: FrozenTrial, outcome: TrialOutcome, root=None) -> Path:
    """Save a rebuilt trial where the lab's panels find it: a coupled system as a run folder (the W
    inspector, the compression panel's saved runs), a compression trial as a recipe run
    (``recipe.json``: the compression panel's ``load_saved``). Returns the folder."""
    from ..runs import new_run_dir, save_run

    name = f"tune-{config.study}-trial{trial.number}"
    if outcome.history is not None:          # a trained (maybe compressed) system: its W history
        run_dir = new_run_dir(name, root)
        outcome.history.extra["tune"] = {"study": config.study, "trial": trial.number, "params": dict(trial.params)}
        return save_run(run_dir, outcome.model, outcome.history)
    from ..compress.recipe_config import RecipeConfig
    from ..compress.recipe_runs import RecipeRun, save_recipe_run

    plan = outcome.plan
    recipe = RecipeConfig(recipe=plan.recipe, finetune_epochs=plan.finetune.epochs, finetune_lr=plan.finetune.lr,
                          latency=False, seed=plan.seed)
    run = RecipeRun(f"{config.study} trial {trial.number}", plan.recipe, config.space.name,
                    reports=list(outcome.reports), run_dir=new_run_dir(name, root))
    save_recipe_run(run, recipe, f"trial {trial.number} of study {config.study}: {plan.describe()}")
    return run.run_dir
