"""Studies on a real PostgreSQL server (tests/postgres.py): two worker processes share one study, and a
worker killed with ``kill -9`` mid-trial has its trial failed by the heartbeat and retried."""
from __future__ import annotations

import os
import re
import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

from lab.tune import LocalWorkers, TuneConfig, budget, compression_space, join_study, open_study, pareto_trials, run_worker

from postgres import postgres_server

pytestmark = pytest.mark.slow
optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def database():
    with postgres_server() as url:
        yield url


def slow_space(epochs: int):
    """The MLP's per-layer space on 300 digits, with trials of a second or more (``epochs`` fine-tuning)."""
    return compression_space("mlp", limit=300, reference_epochs=3).with_ranges(
        {"finetune_epochs": str(epochs), "prune_steps": "2:4"})


def dominated(a, b) -> bool:
    """b dominates a (accuracy up, bytes down)."""
    return b[0] >= a[0] and b[1] <= a[1] and b != a


def test_two_worker_processes_share_one_study(database, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    config = TuneConfig(slow_space(12), trials=6, population=3, study="shared", storage=database)
    open_study(config)                      # the tables and the study exist before the workers start
    workers = LocalWorkers("shared", database, 2, log_dir=tmp_path / "logs", first=0).start()
    codes = workers.wait(timeout=400)
    logs = [workers.log_path(k).read_text() for k in (0, 1)]
    assert codes == [0, 0], "\n".join(logs)
    study, _ = join_study("shared", database)
    b = budget(study)
    assert (b.used, b.complete, b.failed, b.running, b.waiting) == (6, 6, 0, 0, 0)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    ran = [set(map(int, re.findall(r"\] trial (\d+): accuracy", log))) for log in logs]
    assert ran[0] and ran[1], f"both workers run trials: {ran}"                  # shared
    assert not ran[0] & ran[1] and ran[0] | ran[1] == {t.number for t in done}   # none ran twice, none lost
    assert {t.user_attrs["worker"][-3:] for t in done} == {":w0", ":w1"}
    points = {t.number: (t.values[0], -t.values[1]) for t in done}
    front = {n for n, v in points.items() if not any(dominated((v[0], -v[1]), (w[0], -w[1]))
                                                     for w in points.values())}
    assert {t.number for t in pareto_trials(study, config.objectives)} == front      # over the union


def test_a_killed_worker_s_trial_is_failed_by_heartbeat_and_retried(database, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    config = TuneConfig(slow_space(40), trials=2, population=2, study="killed", storage=database, heartbeat=1,
                        grace=3)
    study = open_study(config)
    victim = LocalWorkers("killed", database, 1, heartbeat=1, grace=3, log_dir=tmp_path / "logs", first=0).start()
    deadline = time.monotonic() + 180
    while not study.get_trials(states=(TrialState.RUNNING,)):
        assert time.monotonic() < deadline and victim.alive(), victim.tail()
        time.sleep(0.05)
    time.sleep(1.0)                                     # its heartbeat has been recorded
    os.kill(victim.processes[0].pid, signal.SIGKILL)
    victim.wait(30)
    killed = study.get_trials(states=(TrialState.RUNNING,))       # on a quiet machine trial 0 may be done
    done_before = len(study.get_trials(states=(TrialState.COMPLETE,)))
    assert len(killed) == 1 and done_before < 2
    survivor, survivor_config = join_study("killed", database, worker=1, heartbeat=1, grace=3)
    assert run_worker(survivor, survivor_config, worker=1, poll=0.5) >= 2 - done_before
    trials = {t.number: t for t in survivor.get_trials()}
    zombie = trials[killed[0].number]
    assert zombie.state == TrialState.FAIL                                   # never RUNNING forever
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == zombie.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE and retries[0].params == zombie.params
    b = budget(survivor)
    assert (b.used, b.complete, b.running, b.waiting) == (2, 2, 0, 0)        # nothing lost, nothing counted twice
