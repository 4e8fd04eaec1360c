"""TuningPanel driven like a user: set widget values, click buttons, read the state (no browser)."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from lab.ui import CompressionPanel, TuningPanel, WInspector
from lab.tune.figures import VIEWS
from lab.ui.tuning_form import parse_ranges, ranges_text
from lab.tune import get_space

from ui_helpers import wait_for

optuna.logging.set_verbosity(optuna.logging.WARNING)
FAST_RANGES = "finetune_epochs = 1\nprune_steps = 1"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_the_ranges_box_round_trips_every_key():
    space = get_space("coupling")
    assert space.with_ranges(parse_ranges(ranges_text(space))) == space
    assert parse_ranges("# a comment\n\nlr = 0.01 # fixed\n") == {"lr": "0.01"}
    with pytest.raises(ValueError, match="line 1: write 'key = range'"):
        parse_ranges("sparsity.1 0.9")


def test_bad_settings_are_refused_before_any_trial(runs):
    tp = TuningPanel(space="mlp_compression", trials=2)
    assert tp.form.study.value == "mlp_compression" and tp.form.storage.value.endswith("runs/tune/studies.db")
    assert "sparsity.2 = 0.5:0.99" in tp.form.ranges.value and "bias_clusters = 0|2|4|8|16|32" in tp.form.ranges.value
    tp.form.ranges.value = "sparsity.0 = 0.9:0.5"
    tp.train_button.click()
    assert not tp.running and "empty range" in tp.message_text and tp.study is None
    tp.form.ranges.value = "sparsity.9 = 0.5"
    tp.train_button.click()
    assert "unknown key 'sparsity.9'" in tp.message_text
    tp.form.ranges.value = ""
    tp.form.storage.value = "postgresql://lab@127.0.0.1:1/optuna"
    tp.train_button.click()
    assert "cannot reach the study storage" in tp.message_text and not tp.running
    tp.form.space.value = "coupling"                       # the study name follows the space
    assert tp.form.study.value == "coupling" and "strategy = " in tp.form.ranges.value


def test_start_watch_stop_resume_and_open_a_compression_trial(runs):
    tp = TuningPanel(space="mlp_compression", trials=2, limit=300, update_interval=0.0)
    tp.form.ranges.value = FAST_RANGES
    assert tp.run()                                          # the default path of a notebook: waits
    assert tp.error is None and len(tp.study.get_trials(states=(TrialState.COMPLETE,))) == 2
    assert tp.rows and tp.trial_select.options and "Pareto trials" in tp.table.value
    assert tp.trial_select.value in [r["trial"] for r in tp.rows]    # a Pareto trial is chosen: "Open" works
    assert [t.name for t in tp.front_view.figure.data] == ["trials", "Pareto front"]
    assert tp.status.value.startswith("done: 2 complete")
    for view in VIEWS:                                       # Optuna's own plotly views of the study
        tp.view.value = view
        tp.view_button.click()
        assert tp.optuna_view_box.figure is not None and tp.message_text == "", (view, tp.message_text)
    # Stop ends the running trial and queues it again; Start resumes the same study
    tp.form.trials.value = 3
    tp.form.ranges.value = "finetune_epochs = 40\nprune_steps = 8"
    tp.form.study.value = "slow"
    tp.train_button.click()
    wait_for(lambda: tp.study.study_name == "slow" and tp.study.get_trials(states=(TrialState.RUNNING,)), 120)
    tp.stop_button.click()
    assert tp.wait(120) and tp.status.value.startswith("stopped")
    assert len(tp.study.get_trials(states=(TrialState.WAITING,))) == 1
    tp.form.trials.value = 1
    tp.train_button.click()
    assert tp.wait(300) and tp.error is None
    done = tp.study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 1 and not tp.study.get_trials(states=(TrialState.WAITING,))
    # an Optuna view, and a Pareto trial rebuilt and opened in the compression panel
    tp.show_view("history")
    assert tp.optuna_view_box.figure is not None
    tp.trial_select.value = done[0].number
    tp.open_compression.click()
    tp.wait_open(120)
    assert isinstance(tp.opened, CompressionPanel) and tp.opened_box.children == (tp.opened.ui,)
    assert tp.opened.loaded.metric == pytest.approx(done[0].user_attrs["test_metric"])
    tp.open_inspector.click()
    tp.wait_open(60)
    assert "no W to inspect" in tp.message_text


def test_a_coupling_trial_opens_in_the_w_inspector_and_two_local_workers_run_it(runs):
    tp = TuningPanel(space="coupling", trials=2, limit=300, workers=2, update_interval=0.2)
    tp.form.ranges.value = "strategy = cross_stitch|attention\nepochs = 1\nstages = 1\nwidth = 16"
    assert tp.run() and tp.error is None, tp.message_text
    done = tp.study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 2 and {t.user_attrs["worker"][-3:] for t in done} <= {":w0", ":w1"}
    assert (runs / "tune" / "logs" / "coupling-worker0.log").is_file()
    inspector = tp.open_trial(tp.rows[0]["trial"], where="inspector")
    assert isinstance(inspector, WInspector) and inspector.run_select.value.endswith(f"trial{tp.rows[0]['trial']}")
    assert inspector.W_view.figure is not None
    panel = tp.open_trial(tp.rows[0]["trial"], where="compression")
    assert panel.loaded.label.startswith("trial ") and set(panel.loaded.metrics) == {"digit", "parity", "ge5", "loops"}
