"""The coupling playground driven like a learner would: set widget values, click, read the state."""
import json
import threading

import numpy as np
import pytest
from ui_helpers import wait_for

from lab.adversarial import Attack, robust_accuracy
from lab.coupling.recovery import recovery_report
from lab.history import History
from lab.runs import load_run
from lab.ui import CouplingPlayground, PlaygroundConfig, parse_floats, parse_options
from lab.weighting import WEIGHTINGS, Fixed

SMALL = dict(width=16, stages=2, epochs=2, small_data=True, baselines=("independent",))


def playground(tmp_path, update_interval=0.0, **config) -> CouplingPlayground:
    return CouplingPlayground(PlaygroundConfig(**{**SMALL, **config}), runs_root=tmp_path / "runs",
                              update_interval=update_interval)


def test_train_button_fills_history_figures_results_and_saves_runs(tmp_path):
    pg = playground(tmp_path)
    pg.strategy.value = "cross_stitch"
    pg.epochs.value = 3
    pg.baselines.value = ("independent", "pipeline")
    pg.train_button.click()
    assert pg._thread is not None and pg._thread is not threading.current_thread()   # trains in the background
    assert pg.wait(120)
    assert pg.error is None, pg.message_text
    h = pg.history
    assert h.strategy == "cross_stitch" and h.num_epochs == 3 and not h.stopped
    assert pg.epochs_done == 3 and pg.status.value.startswith("done: cross_stitch trained 3/3 epochs")
    # the live W view ends on the trained W, stage by stage
    for trace, W in zip(pg.W_view.figure.data, pg.system.coupling_matrices()):
        np.testing.assert_allclose(np.asarray(trace.z), W.detach().numpy(), rtol=1e-6)
    curves = {t.name: t for t in pg.curves_view.figure.data}
    np.testing.assert_allclose(curves["digit val"].y, h.val_loss["digit"])
    # the results table: your run first, then the baselines with the same budget
    assert [(r["run"], r["strategy"], r["epochs"]) for r in pg.result_rows] == [
        ("yours", "cross_stitch", "3/3"), ("baseline", "independent", "3/3"), ("baseline", "pipeline", "3/3")]
    assert pg.result_rows[0]["digit"] == pytest.approx(h.extra["test_metric"]["digit"])
    assert "pipeline" in pg.results_table.value and "pipeline" in pg.results_text()
    assert pg.progress.value == pg.progress.max and pg.stop_button.disabled
    # every run is on disk: config (with the playground settings), history with W, checkpoint
    assert len(pg.run_dirs) == 3 and all(p.parent == tmp_path / "runs" for p in pg.run_dirs)
    system, saved = load_run(pg.run_dirs[0])
    assert saved.W == h.W and saved.extra["test_metric"] == h.extra["test_metric"]
    np.testing.assert_allclose(system.coupling_matrices()[0].detach().numpy(), h.W_at(-1)[0], rtol=1e-6)
    config = json.loads((pg.run_dirs[0] / "config.json").read_text())
    assert config["playground"]["epochs"] == 3 and config["role"] == "yours"


def test_stop_ends_training_early_and_keeps_the_history(tmp_path):
    pg = playground(tmp_path, update_interval=0.1, epochs=300)
    pg.train_button.click()
    wait_for(lambda: pg.epochs_done >= 2)
    pg.train_button.click()                                   # a second Train while running is refused
    assert "already running" in pg.message_text and pg.running
    pg.stop_button.click()
    assert pg.wait(60)
    h = pg.history
    assert h.stopped and 2 <= h.num_epochs < 300
    assert pg.status.value == f"stopped: cross_stitch trained {h.num_epochs}/300 epochs; baselines skipped"
    assert [r["strategy"] for r in pg.result_rows] == ["cross_stitch"]
    assert History.load(pg.run_dirs[0] / "history.json").stopped
    pg.epochs.value = 1                                       # a new run starts after a stop
    pg.train_button.click()
    assert pg.wait(60) and pg.history.num_epochs == 1 and not pg.history.stopped


@pytest.mark.parametrize("widget, value, reason", [
    ("lr", 0.0, "learning rate must be a positive number, got 0.0"),
    ("task_weights", "1, 2, 3", "give one task weight per task: got 3 weights"),
    ("task_weights", "1, x", "task weights: expected numbers separated by commas"),
    ("block", "cnn", "cnn blocks need inputs with a channel axis"),
    ("block", "gru", "gru blocks need sequences"),
    ("w_self", 0.0, "w_init must not be all zeros"),
])
def test_bad_values_show_a_readable_message_and_do_not_train(tmp_path, widget, value, reason):
    pg = playground(tmp_path, data="synthetic", num_modules=2, weighting="fixed")
    if widget == "w_self":
        pg.w_other.value = 0.0
    getattr(pg, widget).value = value
    pg.train_button.click()
    assert not pg.running and pg.history is None
    assert reason in pg.message_text and "Traceback" not in pg.message.value
    assert pg.message_text.startswith("Cannot train with these settings")
    assert not (tmp_path / "runs").exists()


def test_a_failure_during_training_is_reported_not_raised(tmp_path):
    pg = playground(tmp_path, optimizer="sgd", lr=1e6, baselines=())
    pg.train_button.click()
    assert pg.wait(60)
    assert "non-finite loss" in pg.error and pg.message_text.startswith("Training failed")
    assert pg.status.value.startswith("failed:") and not pg.running
    assert (pg.runs_root.iterdir().__next__() / "history.json").is_file()   # what finished is kept


def test_live_figure_updates_are_throttled(tmp_path):
    fast = playground(tmp_path, update_interval=0.0, baselines=())
    assert fast.run()
    steps = len(fast.history.step_loss)
    assert fast.W_view.updates >= steps                      # every step redraws W
    slow = playground(tmp_path, update_interval=60.0, baselines=())
    assert slow.run()
    assert slow.W_view.updates <= 3 < steps                  # start, first step, end
    assert slow.curves_view.updates <= 2


def test_weighting_choices_come_from_the_registry(tmp_path, monkeypatch):
    class Scaled(Fixed):
        name = "scaled"

        def __init__(self, scale: float = 1.0):
            super().__init__(None)
            self.scale = scale

        def setup(self, task_names, system):
            super().setup(task_names, system)
            self.weights = {t: self.scale for t in task_names}

    monkeypatch.setitem(WEIGHTINGS, "scaled", Scaled)
    pg = playground(tmp_path, baselines=())
    assert list(pg.weighting.options) == list(WEIGHTINGS)
    pg.weighting.value = "scaled"
    assert pg.weighting_options.layout.display is None and pg.task_weights.layout.display == "none"
    pg.weighting_options.value = "bogus=1"
    pg.train_button.click()
    assert "bad options {'bogus': 1.0} for weighting 'scaled'" in pg.message_text
    pg.weighting_options.value = "scale=0.25"
    assert pg.run()
    assert pg.history.task_weights[-1] == {t: 0.25 for t in pg.history.task_names}
    pg.weighting.value = "fixed"
    pg.task_weights.value = "1, 0, 0.5, 2"
    assert pg.run()
    assert pg.history.task_weights[-1] == {"digit": 1.0, "parity": 0.0, "ge5": 0.5, "loops": 2.0}


def test_synthetic_data_reports_W_recovery_and_widgets_follow_the_data(tmp_path):
    pg = playground(tmp_path)
    assert pg.structure.layout.display == "none" and pg.num_modules.max == 4
    pg.data.value = "synthetic"
    assert pg.structure.layout.display is None and pg.num_modules.max == 8
    pg.num_modules.value = 3
    pg.structure.value = "star"
    assert pg.run()
    assert pg.history.W_true == [[1, 0, 0], [1, 1, 0], [1, 0, 1]]
    # each row scores its own system's W against W* (yours, then the baseline)
    assert [r["W_auc"] for r in pg.result_rows] == pytest.approx(
        [recovery_report(r.system.coupling_matrices(), pg.history.W_true)["auc"] for r in pg.results])
    pg.num_modules.value = 6
    pg.data.value = "mnist1d"
    assert pg.num_modules.max == 3 and pg.num_modules.value == 3              # the value follows the data's limit


def test_runs_go_to_LAB_RUNS_and_config_round_trips(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "elsewhere"))
    config = PlaygroundConfig(**{**SMALL, "baselines": ()}, strategy="attention", seed=3)
    pg = CouplingPlayground(config)
    assert pg.read_config() == config
    assert pg.run() and pg.run_dirs[0].parent == tmp_path / "elsewhere"
    assert pg.run_dirs[0].name.endswith("-digits-attention")


def test_parsers_and_config_validation():
    assert parse_floats(" 1, 0.5 ", "w") == (1.0, 0.5) and parse_floats("", "w") is None
    assert parse_options("alpha=1.5; t=2") == (("alpha", 1.5), ("t", 2.0))
    with pytest.raises(ValueError, match="name=number"):
        parse_options("alpha")
    with pytest.raises(ValueError, match="digits offers 2 to 4 modules"):
        PlaygroundConfig(num_modules=5)
    with pytest.raises(ValueError, match="unknown loss weighting"):
        PlaygroundConfig(weighting="magic")
    with pytest.raises(ValueError, match="unknown baseline"):
        PlaygroundConfig(baselines=("nope",))
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        PlaygroundConfig(epochs=0)


def test_adversarial_training_options_reach_training_and_are_saved(tmp_path):
    pg = playground(tmp_path)
    assert pg.adversarial.value == "off" and pg.adv_eps.layout.display == "none"     # off by default
    assert pg.run() and "adversarial" not in pg.history.config
    assert "robust" not in pg.result_rows[0]
    pg.adversarial.value = "fgsm"
    assert pg.adv_eps.layout.display is None and pg.adv_ratio.layout.display is None
    pg.adv_eps.value, pg.adv_ratio.value = 0.05, 0.5
    assert pg.run(), pg.message_text
    expected = {"attack": {"kind": "fgsm", "eps": 0.05, "step_size": None, "steps": 10, "random_start": False,
                           "modules": "all", "clamp": [0.0, 1.0]}, "ratio": 0.5}
    assert pg.history.config["adversarial"] == expected                              # yours ...
    assert pg.results[1].history.config["adversarial"] == expected                  # ... and the baseline's
    data, attack = pg.read_config().load_data(), Attack("fgsm", eps=0.05, clamp=(0.0, 1.0))
    assert [r["robust"] for r in pg.result_rows] == pytest.approx(                 # each system, the chosen attack
        [np.mean(list(robust_accuracy(r.system, data.test, attack).values())) for r in pg.results])
    assert pg.result_rows[0]["robust"] == pytest.approx(
        np.mean(list(pg.history.extra["robust_metric"]["metric"].values())))
    config = json.loads((pg.run_dirs[0] / "config.json").read_text())["playground"]
    assert (config["adversarial"], config["adv_eps"], config["adv_ratio"]) == ("fgsm", 0.05, 0.5)
    assert pg.read_config() == PlaygroundConfig(**{**SMALL, "adversarial": "fgsm", "adv_eps": 0.05})
    pg.adv_eps.value = -0.1
    pg.train_button.click()
    assert "adversarial training eps must be a finite number >= 0" in pg.message_text and not pg.running


def test_a_run_from_the_cli_path_plots_like_the_playground_run(tmp_path):
    """The per-step loss curve needs only the History's own facts: the CLI's path (run_strategy) draws it
    exactly as the playground does, and so does the saved file."""
    from lab.compare import run_strategy
    from lab.viz import training_curves
    pg = playground(tmp_path, baselines=())
    assert pg.run()
    config = pg.read_config()
    cli = run_strategy(config.load_data(), config.system_config(), config.train_config(),
                       weighting=config.make_weighting())
    saved = History.load(pg.run_dirs[0] / "history.json")
    assert "steps_per_epoch" not in pg.history.extra                 # a fact of the run, not a panel's note
    assert cli.history.steps_per_epoch == pg.history.steps_per_epoch == saved.steps_per_epoch > 1

    def step_curve(h):
        return next(t for t in training_curves(h).data if t.name == "joint loss (steps)")
    ours, theirs, reloaded = step_curve(pg.history), step_curve(cli.history), step_curve(saved)
    assert len(ours.x) == 2 * pg.history.steps_per_epoch and ours.x[-1] == 2.0
    for other in (theirs, reloaded):
        assert list(other.x) == list(ours.x) and list(other.y) == list(ours.y)
    assert (cli.history.weighting, cli.history.data_name) == (pg.history.weighting, pg.history.data_name) == (
        "equal", "digits")


def test_block_dropdown_offers_gru_and_logistic_and_a_gru_trains_on_mnist1d(tmp_path):
    pg = playground(tmp_path, data="mnist1d", num_modules=3, block="gru", width=8, stages=1, epochs=1)
    assert {"gru", "logistic"} <= set(pg.block.options) and pg.block.value == "gru"
    pg.train_button.click()
    assert pg.wait(120) and pg.history.num_epochs == 1
    assert pg.history.config["system"]["system_config"]["block"] == "gru"
