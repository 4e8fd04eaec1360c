"""The tuner's core: spaces as data, per-layer steps, seeded studies, failures, stop and resume, storage."""
from __future__ import annotations

import threading
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState

from lab.compress import digit_data, run_recipe, train_reference
from lab.compress.fit import FitConfig
from lab.compress.layerwise import LayerPruneConfig, LayerShareConfig, prune_layers, schedule, share_layers
from lab.compress.recipe import RecipeOptions
from lab.compress.recipe_runs import load_recipe_run
from lab.cost import FAST_MEASURE
from lab.tune import (Param, SearchSpace, TuneConfig, budget, build_space, compression_space, get_space, join_study,
                      open_study, pareto_trials, rebuild, redact, resolve_storage, run_worker, save_rebuilt)
from lab.tune.trials import TrialContext

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def small():
    data = digit_data(0, limit=300)
    return data, train_reference("mlp", data, FitConfig(epochs=3), 0)


def tiny_space(**ranges):
    """The MLP's per-layer space on 300 digits, 1 fine-tuning epoch (a trial takes well under a second)."""
    return compression_space("mlp", limit=300, reference_epochs=3).with_ranges(
        {"finetune_epochs": "1", "prune_steps": "1:2", **ranges})


@pytest.fixture(scope="module")
def context():
    """The tiny space's data and trained reference, built once (a worker builds it once too)."""
    return TrialContext.build(tiny_space())


def config(tmp_path, space=None, **kw):
    kw = {"trials": 3, "population": 2, "storage": str(tmp_path / "s.db"), **kw}
    return TuneConfig(space or tiny_space(), **kw)


# --- spaces as data ---------------------------------------------------------------------------------
def test_bad_ranges_and_keys_are_refused_with_what_is_allowed():
    space = get_space("mlp_compression")
    with pytest.raises(ValueError, match="unknown key 'sparsity.7'.*sparsity.0"):
        space.with_ranges({"sparsity.7": "0.5:0.9"})
    with pytest.raises(ValueError, match="empty range 0.9..0.5"):
        space.with_ranges({"sparsity.0": "0.9:0.5"})
    with pytest.raises(ValueError, match=r"\['3'\] not among its choices"):
        space.with_ranges({"clusters.0": "4|3"})
    with pytest.raises(ValueError, match="integer"):
        space.with_ranges({"prune_steps": "1.5:3"})
    with pytest.raises(ValueError, match="empty list of choices"):
        Param("k", "categorical", choices=())
    with pytest.raises(ValueError, match="log-scale range must be > 0"):
        Param("lr", "float", 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="unknown base setting"):
        space.with_base(epochs=3)
    with pytest.raises(ValueError, match="unknown search space"):
        build_space("nope")


def test_a_space_round_trips_and_its_fingerprint_follows_its_ranges():
    space = get_space("coupling")
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert space.with_ranges({"epochs": "5:30"}).fingerprint() == space.fingerprint()
    assert space.with_ranges({"epochs": "5:10"}).fingerprint() != space.fingerprint()
    fixed = space.with_ranges({"width": "32", "lr": "0.01"})
    assert fixed.param("width").choices == (32,) and fixed.param("lr").describe() == "0.01"
    assert [r["key"] for r in space.rows()][:2] == ["strategy", "stages"]
    assert space.param("task_weight.digit").when == ("weighting", ("fixed",))


# --- per-layer steps --------------------------------------------------------------------------------
def test_schedule_reaches_each_layers_target_cubically():
    steps = schedule((0.9, 0.5), 3)
    assert steps[-1] == (0.9, 0.5)
    assert steps[0] == pytest.approx((0.9 * (1 - (2 / 3) ** 3), 0.5 * (1 - (2 / 3) ** 3)))
    assert all(a[0] < b[0] for a, b in zip(steps, steps[1:]))


def test_prune_layers_gives_every_layer_its_own_sparsity(small):
    data, model = small
    pruned, report = prune_layers(model, LayerPruneConfig((0.5, 0.9, 0.2), steps=2), data=data,
                                  measure_config=FAST_MEASURE)
    layers = [m for m in pruned.modules() if isinstance(m, torch.nn.Linear)]
    zeros = [int((m.weight == 0).sum()) for m in layers]
    assert zeros == [round(0.5 * 64 * 300), round(0.9 * 300 * 100), round(0.2 * 100 * 10)]
    assert report.extra["layer_sparsity"]["1"] == pytest.approx(0.5)
    assert all((m.weight != 0).all() for m in model.modules() if isinstance(m, torch.nn.Linear))   # unchanged
    with pytest.raises(ValueError, match="2 value.*3 layers"):
        prune_layers(model, LayerPruneConfig((0.5, 0.9)))


def test_kmeans_layers_shares_k_values_per_layer_and_biases(small):
    data, model = small
    pruned, _ = prune_layers(model, LayerPruneConfig((0.5, 0.8, 0.3)), measure_config=FAST_MEASURE)
    plain, plain_report = share_layers(pruned, LayerShareConfig((8, 4, 16)), measure_config=FAST_MEASURE)
    shared, report = share_layers(pruned, LayerShareConfig((8, 4, 16), bias_clusters=4,
                                                           finetune=FitConfig(epochs=1, lr=1e-4)),
                                  data=data, measure_config=FAST_MEASURE)
    layers = [m for m in shared.modules() if isinstance(m, torch.nn.Linear)]
    before = [m for m in pruned.modules() if isinstance(m, torch.nn.Linear)]
    for m, b, k in zip(layers, before, (8, 4, 16)):
        assert torch.unique(m.weight[m.weight != 0]).numel() == k
        assert torch.unique(m.bias).numel() <= 4
        assert torch.equal(m.weight == 0, b.weight == 0)                      # pruned zeros stay zero
    assert report.bytes < plain_report.bytes - 800           # ~1.6 KB of fp32 biases become 2-bit codes
    assert report.step == "kmeans_layers:8/4/16:bias=4"
    with pytest.raises(ValueError, match="only .* non-zero weights"):
        share_layers(prune_layers(model, LayerPruneConfig((0.5, 0.5, 0.99)))[0], LayerShareConfig((4, 4, 64)))


def test_the_per_layer_steps_are_recipe_steps(small):
    data, model = small
    opts = RecipeOptions(finetune=FitConfig(epochs=1), measure=FAST_MEASURE)
    result = run_recipe(model, "prune_layers:0.5/0.9/0.2:steps=2,kmeans_layers:8/4/16:bias=8:epochs=0", data, opts)
    assert [r.step for r in result.reports] == ["fp32", "prune_layers:0.5/0.9/0.2:steps=2",
                                                "kmeans_layers:8/4/16:bias=8:epochs=0"]
    assert result.reports[2].bytes < result.reports[1].bytes
    with pytest.raises(ValueError, match="does not take option"):
        run_recipe(model, "prune_layers:0.5/0.9/0.2:global", data, opts)
    with pytest.raises(ValueError, match="per-layer sparsities must each lie in"):
        run_recipe(model, "prune_layers:0.5/x/0.2", data, opts)


# --- studies ----------------------------------------------------------------------------------------
def _trials(study):
    return [(t.params, t.values) for t in study.get_trials(states=(TrialState.COMPLETE,))]


def test_the_same_seed_reproduces_the_same_trials(tmp_path, context):
    runs = []
    for name in ("a", "b"):
        cfg = config(tmp_path, storage=str(tmp_path / f"{name}.db"), trials=2)
        study = open_study(cfg)
        assert run_worker(study, cfg, context=context) == 2
        runs.append(_trials(study))
    assert runs[0] == runs[1] and len(runs[0]) == 2
    other = config(tmp_path, storage=str(tmp_path / "c.db"), seed=1, trials=2)
    study = open_study(other)
    run_worker(study, other, context=context)
    assert [p for p, _ in _trials(study)] != [p for p, _ in runs[0]]


def test_test_accuracy_is_recorded_but_never_selects(tmp_path, context):
    cfg = config(tmp_path, trials=2)
    study = open_study(cfg)
    run_worker(study, cfg, context=context)
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        assert t.values[0] == t.user_attrs["val_metric"]       # the objective is the validation metric
        assert t.values[1] == t.user_attrs["bytes"] and t.user_attrs["ratio"] > 1
        assert "test_metric" in t.user_attrs and t.user_attrs["worker"].endswith(":w0")


@pytest.mark.parametrize("sampler", ["tpe", "gp", "random"])
def test_other_samplers_search_the_same_space(tmp_path, context, sampler):
    cfg = config(tmp_path, trials=2, sampler=sampler)
    study = open_study(cfg)
    run_worker(study, cfg, context=context)
    assert budget(study).complete == 2


def test_latency_and_flops_objectives(tmp_path, context):
    cfg = config(tmp_path, trials=1, objectives=("accuracy", "bytes", "latency", "flops"))
    study = open_study(cfg)
    run_worker(study, cfg, context=context)
    (t,) = study.get_trials(states=(TrialState.COMPLETE,))
    assert t.values[2] == t.user_attrs["latency_ratio"] > 0 and t.user_attrs["calibration_ms"] > 0
    assert t.values[3] == t.user_attrs["flops"] < 100_400        # effective FLOPs of a pruned 64-300-100-10 MLP


def test_a_failing_trial_is_recorded_with_its_reason_and_the_study_goes_on(tmp_path, context):
    # layer 2 (1,000 weights) pruned to 99% keeps 10 non-zeros: 32 or 64 clusters cannot be made
    space = tiny_space(**{"sparsity.2": "0.99", "clusters.2": "32|64"})
    cfg = config(tmp_path, space, trials=2)
    study = open_study(cfg)
    assert run_worker(study, cfg, context=context) == 2
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 2 and all("clusters for layer '5'" in t.user_attrs["fail_reason"] for t in failed)
    assert budget(study).used == 2


def test_stop_ends_the_running_trial_queues_it_again_and_a_resume_runs_it(tmp_path, context):
    space = tiny_space(**{"finetune_epochs": "40", "prune_steps": "8"})
    cfg = config(tmp_path, space, trials=1)
    study = open_study(cfg)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(study, cfg), kwargs={"stop": stop, "context": context})
    worker.start()
    deadline = time.monotonic() + 60
    while not study.get_trials(states=(TrialState.RUNNING,)) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(60)
    stopped = study.get_trials(states=(TrialState.FAIL,))
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(stopped) == 1 and stopped[0].user_attrs["stopped"] and len(waiting) == 1
    assert budget(study).used == 1
    study2, cfg2 = join_study(cfg.study, cfg.storage)           # a resume after a restart
    assert cfg2.space == cfg.space and run_worker(study2, cfg2, context=context) == 1
    done = study2.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 1 and done[0].params == stopped[0].params and budget(study2).used == 1


def test_another_space_or_objectives_under_the_same_name_are_refused(tmp_path):
    cfg = config(tmp_path, trials=1)
    open_study(cfg)
    with pytest.raises(ValueError, match="searches another space.*sparsity.0"):
        open_study(config(tmp_path, tiny_space(**{"sparsity.0": "0.6:0.7"})))
    with pytest.raises(ValueError, match="optimises \\['accuracy', 'bytes'\\]"):
        open_study(config(tmp_path, objectives=("accuracy", "flops")))
    with pytest.raises(ValueError, match="no study 'other'.*mlp_compression"):
        join_study("other", cfg.storage)


def test_rebuilding_a_trial_gives_its_model_again_and_saves_it_for_the_panel(tmp_path, monkeypatch, context):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    cfg = config(tmp_path, trials=2)
    study = open_study(cfg)
    run_worker(study, cfg, context=context)
    best = pareto_trials(study, cfg.objectives)[0]
    outcome, _ = rebuild(cfg, best)           # a fresh context: built from the space alone
    from lab.metrics import evaluate_model

    val = evaluate_model(outcome.model, context.data.val, context.data.tasks)["digit"]
    assert val == best.user_attrs["val_metric"] and outcome.reports[-1].bytes == best.user_attrs["bytes"]
    saved = load_recipe_run(save_rebuilt(cfg, best, outcome))
    assert saved.recipe == outcome.plan.recipe and [r.bytes for r in saved.reports] == [r.bytes for r in outcome.reports]


def test_a_journal_file_stores_a_study_too(tmp_path, context):
    cfg = config(tmp_path, trials=2, storage=str(tmp_path / "s.journal"))
    assert cfg.storage_url.startswith("journal://")
    study = open_study(cfg)
    run_worker(study, cfg, context=context)
    assert budget(study).complete == 2


# --- storage ----------------------------------------------------------------------------------------
def test_storage_urls(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    assert resolve_storage(None) == f"sqlite:///{tmp_path.resolve()}/tune/studies.db"
    assert resolve_storage("postgresql://lab@db/optuna") == "postgresql+psycopg://lab@db/optuna"
    assert resolve_storage("postgres://lab@db/optuna") == "postgresql+psycopg://lab@db/optuna"
    assert resolve_storage(str(tmp_path / "x.journal")).startswith("journal://")
    assert redact("postgresql+psycopg://lab:secret@db/optuna") == "postgresql+psycopg://lab:***@db/optuna"
    for bad in ("x.txt", "ftp://host/db"):
        with pytest.raises(ValueError, match="storage"):
            resolve_storage(bad)


def test_an_unreachable_database_is_refused_before_any_trial(tmp_path):
    cfg = config(tmp_path, storage="postgresql://lab:pw@127.0.0.1:1/optuna")
    with pytest.raises(ValueError, match=r"cannot reach the study storage postgresql\+psycopg://lab:\*\*\*@127"):
        open_study(cfg)


# --- the command line -------------------------------------------------------------------------------
def test_cli_runs_resumes_and_shows_a_study(tmp_path, monkeypatch, capsys):
    from lab.cli import main

    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    args = ["tune", "run", "--space", "mlp_compression", "--limit", "300", "--set", "finetune_epochs=1",
            "--set", "prune_steps=1", "--population", "2", "--trials", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "study 'mlp_compression' in sqlite:///" in out and "[worker 0] trial 1: accuracy" in out
    assert "2 complete, 0 failed" in out and "x_smaller" in out
    assert main(["tune", "run", "--study", "mlp_compression", "--trials", "3"]) == 0          # resume: one more
    assert "trial 2: accuracy" in capsys.readouterr().out
    assert main(["tune", "show", "--study", "mlp_compression", "--failed", "--rebuild", "0"]) == 0
    out = capsys.readouterr().out
    assert "3 complete" in out and "failed trials:\n(none)" in out and "trial 0 rebuilt: prune_layers:" in out


@pytest.mark.parametrize("args, message", [
    (["tune", "run", "--space", "mlp_compression", "--set", "sparsity.0=0.9:0.5"], "empty range"),
    (["tune", "run", "--space", "mlp_compression", "--set", "nope=1"], "unknown key 'nope'"),
    (["tune", "run", "--space", "coupling", "--objectives", "accuracy,speed"], "unknown objective"),
    (["tune", "run", "--space", "coupling", "--storage", "postgresql://lab@127.0.0.1:1/optuna"], "cannot reach"),
    (["tune", "run", "--study", "missing"], "no study 'missing'"),
    (["tune", "run"], "name a --space"),
    (["tune", "show", "--study", "missing", "--storage", "x.txt"], "must end in"),
])
def test_cli_refuses_bad_input_with_one_line_before_any_trial(args, message, tmp_path, monkeypatch, capsys):
    from lab.cli import main

    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_budget_counts_each_trial_once():
    """Retried (heartbeat), stopped and surplus trials are not counted; their replacements are."""
    from optuna.distributions import FloatDistribution

    from lab.tune.worker import _surplus

    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"x": FloatDistribution(0, 1)}

    def add(state, number_attrs=None, user=None, values=None):
        study.add_trial(optuna.create_trial(state=state, params={"x": 0.5}, distributions=dist,
                                            system_attrs=number_attrs or {}, user_attrs=user or {},
                                            values=values))

    add(TrialState.COMPLETE, values=[0.9, 100.0])                          # 0
    add(TrialState.FAIL)                                                   # 1: its worker was killed
    add(TrialState.FAIL, user={"fail_reason": "NaN"})                      # 2: a real failure, counted
    add(TrialState.FAIL, user={"stopped": True})                           # 3: stopped, re-queued as 5
    add(TrialState.WAITING, {"failed_trial": 1, "retry_history": [1]})     # 4: the retry of 1
    add(TrialState.WAITING, user={"requeued_from": 3})                     # 5
    add(TrialState.PRUNED, user={"surplus": True})                         # 6
    b = budget(study)
    assert (b.used, b.complete, b.failed, b.running, b.waiting) == (4, 1, 1, 0, 2)
    assert not _surplus(study, 4, 4) and not _surplus(study, 5, 4) and _surplus(study, 7, 4)
