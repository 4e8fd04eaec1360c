"""``python -m lab couple ... --save`` writes each run folder as it trains: nothing is lost to a NaN loss,
Ctrl-C, or a later strategy failing."""
import json

import numpy as np
import pytest

import lab.compare
import lab.train
from lab.checkpoint import read_checkpoint
from lab.cli import main
from lab.history import History
from lab.runs import load_run

DIGITS = ["couple", "--data", "digits", "--limit", "300", "--widths", "8", "--save"]   # LAB_FAST: 3 epochs


@pytest.fixture
def fail_at(monkeypatch, tmp_path):
    """``fail_at(epoch, error, strategy=None)``: the first training step of ``epoch`` gets a NaN loss
    (error "nan") or raises ``error``; only for ``strategy`` when given."""
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    state = {"evaluations": 0, "strategy": None}
    real_build, real_evaluate, real_loss = lab.compare.build_system, lab.train.evaluate, lab.train.task_loss

    def arm(epoch, error="nan", strategy=None):
        def build(data, config):
            state.update(evaluations=0, strategy=config.strategy)
            return real_build(data, config)

        def evaluate(*args, **kwargs):            # once per epoch (W before training needs no evaluation)
            state["evaluations"] += 1
            return real_evaluate(*args, **kwargs)

        def task_loss(*args):
            loss = real_loss(*args)
            if state["evaluations"] >= epoch - 1 and strategy in (None, state["strategy"]):
                if error == "nan":
                    return loss * float("nan")
                raise error
            return loss

        monkeypatch.setattr(lab.compare, "build_system", build)
        monkeypatch.setattr(lab.train, "evaluate", evaluate)
        monkeypatch.setattr(lab.train, "task_loss", task_loss)

    return arm


def folders(root):
    return sorted(p for p in root.iterdir() if p.is_dir())


def assert_consistent(folder, epochs):
    """history.json, the checkpoint and the weights agree on the epoch (and on W)."""
    history = History.load(folder / "history.json")
    assert history.num_epochs == read_checkpoint(folder / "checkpoint.pt")["epochs"] == epochs
    system, loaded = load_run(folder)
    assert loaded.num_epochs == epochs
    np.testing.assert_allclose(np.asarray(loaded.W[-1] if epochs else loaded.W_init),
                               np.stack([W.detach().numpy() for W in system.coupling_matrices()]), atol=1e-6)
    return history


def test_a_nan_loss_keeps_exactly_the_epochs_its_message_names(tmp_path, fail_at, capsys):
    fail_at(3)
    assert main(DIGITS) == 2
    out, err = capsys.readouterr()
    [folder] = folders(tmp_path)
    assert f"saving cross_stitch run to {folder}" in out                       # said before training
    assert "non-finite loss at epoch 3, step 1" in err and "the history keeps the 2 finished epochs" in err
    assert f"saved in {folder}" in err and "Traceback" not in err
    history = assert_consistent(folder, 2)
    assert history.error.startswith("non-finite loss at epoch 3, step 1")
    config = json.loads((folder / "config.json").read_text())                  # written at the start
    assert config["data"] == "digits" and config["train"]["epochs"] == 3 and config["weighting"] == "fixed"


def test_ctrl_c_keeps_what_was_written(tmp_path, fail_at, capsys):
    fail_at(2, KeyboardInterrupt())
    assert main(DIGITS) == 130
    [folder] = folders(tmp_path)
    err = capsys.readouterr().err
    assert "interrupted" in err and str(folder) in err
    history = assert_consistent(folder, 1)
    assert history.error == "interrupted (KeyboardInterrupt) after 1 finished epochs"


def test_compare_keeps_every_finished_strategy_when_a_later_one_fails(tmp_path, fail_at, capsys):
    fail_at(3, strategy="cross_stitch")
    assert main([*DIGITS, "--compare", "--strategies", "pipeline,shared,cross_stitch,attention"]) == 2
    out = capsys.readouterr().out
    made = {p.name.split("-", 2)[-1]: p for p in folders(tmp_path)}
    assert sorted(made) == ["digits-cross_stitch", "digits-pipeline", "digits-shared"]     # attention never began
    lines = [line for line in out.splitlines() if line.startswith("saving ")]
    assert [line.split()[1] for line in lines] == ["pipeline", "shared", "cross_stitch"]
    for name in ("digits-pipeline", "digits-shared"):
        history = assert_consistent(made[name], 3)
        assert history.error is None and set(history.extra["test_metric"]) == {"digit", "parity", "ge5", "loops"}
    assert "epoch 3" in assert_consistent(made["digits-cross_stitch"], 2).error


def test_weightings_sweep_saves_one_folder_per_run(tmp_path, fail_at, capsys):
    assert main([*DIGITS, "--weightings", "fixed,dwa", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    made = {p.name.split("-", 2)[-1]: p for p in folders(tmp_path)}
    assert sorted(made) == ["digits-cross_stitch-dwa", "digits-cross_stitch-fixed"]
    for weighting in ("fixed", "dwa"):
        folder = made[f"digits-cross_stitch-{weighting}"]
        assert f"saving cross_stitch-{weighting} run to {folder}" in out
        assert f"saved cross_stitch-{weighting} run to {folder}" in out
        assert assert_consistent(folder, 2).config["weighting"] == weighting
