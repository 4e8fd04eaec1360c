"""One worker: run trials of a study until it holds its ``trials`` (shared by all workers), then stop.

    study = open_study(config)
    run_worker(study, config, stop=threading.Event(), on_trial=print)     # in this process
    python -m lab.tune --study NAME [--storage URL] [--worker 1]          # a worker process (lab/tune/__main__.py)

Every trial is one ``study.optimize(objective, n_trials=1)`` call, so Optuna's heartbeat thread
beats while it runs and stale trials of dead workers are failed and re-queued
(``lab.tune.storage``). The objective runs the trial's plan (``lab.tune.trials``) and measures
the objectives; an exception (a NaN loss, a bad combination) is recorded as the trial's
``fail_reason`` and the study goes on. Stop (the event, or SIGTERM/SIGINT to a worker process)
ends the running trial at its next step: it is recorded as FAIL with ``stopped`` and its params
are queued again, so a resumed study runs it - nothing lost, nothing counted twice.

The budget: every trial counts except those replaced by a retry (FAIL by heartbeat, re-queued),
stopped (re-queued) or surplus (two workers that saw one trial left at the same moment: the later
trial steps back as PRUNED), so a study ends with exactly ``trials`` counted trials. A worker that reaches it waits while other trials still run (so a trial
of a killed worker is failed and retried after the grace period), then returns.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import warnings
from dataclasses import dataclass
from typing import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from .objectives import LatencyCalibration, measure_objectives
from .storage import has_heartbeat
from .study import TuneConfig
from .trials import TrialContext, TrialStopped, plan_trial, run_plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """Trials of a study by state; ``used`` counts what the budget counts (see the module docstring)."""

    used: int
    complete: int
    failed: int
    running: int
    waiting: int


def _dropped(t: FrozenTrial, replaced: set[int]) -> bool:
    """Trials the budget does not count: surplus (PRUNED), stopped or replaced by a retry (FAIL)."""
    if t.state == TrialState.PRUNED and t.user_attrs.get("surplus"):
        return True
    return t.state == TrialState.FAIL and (t.number in replaced or bool(t.user_attrs.get("stopped")))


def _replaced(trials: list[FrozenTrial]) -> set[int]:
    return {n for t in trials for n in t.system_attrs.get("retry_history", [])}


def budget(study: optuna.Study) -> Budget:
    trials = study.get_trials(deepcopy=False)
    replaced = _replaced(trials)
    count = lambda state: sum(1 for t in trials if t.state == state)  # noqa: E731
    return Budget(sum(1 for t in trials if not _dropped(t, replaced)), count(TrialState.COMPLETE),
                  sum(1 for t in trials if t.state == TrialState.FAIL and not _dropped(t, replaced)),
                  count(TrialState.RUNNING), count(TrialState.WAITING))


def _surplus(study: optuna.Study, number: int, total: int) -> bool:
    """True when the trials numbered below ``number`` already use the budget: two workers that checked
    the budget at the same moment both started one; the later one steps back (PRUNED, not counted)."""
    trials = study.get_trials(deepcopy=False)
    replaced = _replaced(trials)                # a retry names the trial it replaces in its own attrs
    return sum(1 for t in trials if t.number < number and not _dropped(t, replaced)) >= total


def worker_label(worker: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:w{worker}"


def make_objective(config: TuneConfig, context: TrialContext, stop: threading.Event, worker: int = 0,
                   calibration: LatencyCalibration | None = None,
                   last: list | None = None) -> Callable[[optuna.Trial], list[float]]:
    """The Optuna objective of ``config``: sample, plan, run, measure; failures recorded with their reason."""
    label = worker_label(worker)

    def objective(trial: optuna.Trial) -> list[float]:
        if last is not None:
            last.append(trial.number)
        trial.set_user_attr("worker", label)
        if _surplus(trial.study, trial.number, config.trials):
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("the study's budget was used by other workers meanwhile")
        params = config.space.sample(trial)
        try:
            plan = plan_trial(config.space, params)
            trial.set_user_attr("plan", plan.describe())
            outcome = run_plan(plan, context, stop, params)
            values, attrs = measure_objectives(config.objectives, outcome, context, calibration)
        except TrialStopped as err:
            trial.set_user_attr("stopped", True)
            trial.set_user_attr("fail_reason", f"stopped: {err}")
            trial.study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})
            raise
        except Exception as err:
            reason = str(err) if isinstance(err, ValueError) and str(err) else f"{type(err).__name__}: {err}"
            trial.set_user_attr("fail_reason", reason[:1000])
            raise
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return values

    return objective


def run_worker(study: optuna.Study, config: TuneConfig, *, worker: int = 0, stop: threading.Event | None = None,
               on_trial: Callable[[FrozenTrial], None] | None = None, context: TrialContext | None = None,
               poll: float = 1.0) -> int:
    """Run trials until the study holds ``config.trials`` counted trials and none runs (or ``stop``);
    returns how many trials this worker ran. ``on_trial(frozen_trial)`` after each."""
    stop = stop or threading.Event()
    context = context or TrialContext.build(config.space)
    calibration = LatencyCalibration() if "latency" in config.objectives else None
    last: list[int] = []
    objective = make_objective(config, context, stop, worker, calibration, last)
    heartbeat = has_heartbeat(config.storage_url)
    ran = 0
    while not stop.is_set():
        b = budget(study)
        if b.used >= config.trials and b.waiting == 0:
            if b.running == 0 or not heartbeat:
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)     # a dead worker's trial: FAIL, re-queued after the grace
            stop.wait(poll)
            continue
        study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False)
        ran += 1
        if on_trial is not None and last:
            on_trial(next(t for t in study.get_trials(deepcopy=False) if t.number == last[-1]))
    return ran


def describe_trial(t: FrozenTrial, objectives: tuple[str, ...]) -> str:
    """One line for a finished trial: number, state, values or the reason it failed."""
    if t.state == TrialState.COMPLETE:
        shown = ", ".join(f"{n} {_fmt(n, v)}" for n, v in zip(objectives, t.values))
        test = t.user_attrs.get("test_metric")
        return f"trial {t.number}: {shown}" + (f" (test {100 * test:.2f}%)" if test is not None else "")
    if t.user_attrs.get("surplus"):
        return f"trial {t.number}: not run - the study's budget was used by other workers meanwhile"
    return f"trial {t.number}: {t.state.name.lower()} - {t.user_attrs.get('fail_reason', 'no reason recorded')}"


def _fmt(name: str, value: float) -> str:
    if name == "accuracy":
        return f"{100 * value:.2f}%"
    if name == "bytes":
        return f"{value:,.0f} B"
    if name == "latency":
        return f"{value:.2f}x"
    return f"{value:,.0f}"
