"""The weighting arena: Delta m %, mean ranks, the conflicting synthetic tasks and a tiny end-to-end run."""
import math
import statistics

import pytest
import torch

from lab.benchmarks.arena import (BASELINE, TUNED, delta_m, mean_ranks, paired_difference, run_arena,
                                  scale_targets, summarize_arena)
from lab.data.synthetic import load_synthetic
from lab.coupling import SystemConfig
from lab.train import TrainConfig


def test_delta_m_on_hand_made_metrics():
    assert delta_m({"a": 0.9, "b": 0.5}, {"a": 0.8, "b": 0.5}) == pytest.approx(6.25)       # (12.5 % + 0) / 2
    assert delta_m({"a": 0.4, "b": 0.5}, {"a": 0.8, "b": 0.5}) == pytest.approx(-25.0)
    assert delta_m({"r2": 0.0}, {"r2": -0.1}) == pytest.approx(100.0)                       # |B| for negative r2
    with pytest.raises(ValueError, match="same tasks"):
        delta_m({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="baseline metric of \\['a'\\] is 0"):
        delta_m({"a": 1.0}, {"a": 0.0})


def test_mean_ranks_average_over_tasks_and_share_ties():
    table = {"x": {"t1": 0.9, "t2": 0.1}, "y": {"t1": 0.5, "t2": 0.5}, "z": {"t1": 0.5, "t2": 0.9}}
    assert mean_ranks(table) == {"x": (1 + 3) / 2, "y": (2.5 + 2) / 2, "z": (2.5 + 1) / 2}


def test_scale_targets_multiplies_one_regression_target():
    base = load_synthetic(num_samples=200, kind="regression")
    first, other = base.task_names[0], base.task_names[1]
    data = scale_targets(base, {first: 10.0})
    torch.testing.assert_close(data.train.y[first], 10 * base.train.y[first])
    torch.testing.assert_close(data.test.y[other], base.test.y[other])
    assert torch.equal(data.train.x, base.train.x) and data.info["target_scale"] == {first: 10.0}
    with pytest.raises(ValueError, match="not a regression task"):
        scale_targets(data, {"nope": 2.0})
    with pytest.raises(ValueError, match="finite non-zero"):
        scale_targets(data, {first: 0.0})


def test_paired_difference_of_hand_made_seeds():
    mean, sd, p = paired_difference([2.0, 3.0, 4.5], [1.0, 1.5, 2.5])        # differences 1, 1.5, 2
    assert (mean, sd) == (pytest.approx(1.5), pytest.approx(0.5))
    t = 1.5 / (0.5 / math.sqrt(3))                                           # 5.196, 2 degrees of freedom:
    assert p == pytest.approx(1 - t / math.sqrt(2 + t * t))                  # two-sided p of Student t(2)
    assert paired_difference([1.0], [0.0]) == (1.0, 0.0, pytest.approx(float("nan"), nan_ok=True))
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([1.0], [])


def test_tiny_arena_scores_every_run_against_independent_modules(digits):
    rows = run_arena(digits, SystemConfig(widths=(8,)), TrainConfig(epochs=1), ["shared", "cross_stitch"],
                     ["equal", "upgrad"], seeds=[0, 1], tune_candidates=2)
    assert len(rows) == 2 + 2 * 2 * 3
    baseline = [r for r in rows if r["strategy"] == BASELINE]
    assert statistics.fmean(r["delta_m"] for r in baseline) == pytest.approx(0.0, abs=1e-9)   # by definition
    tuned = [r for r in rows if r["weighting"] == TUNED]
    assert len(tuned) == 4 and all(len(r["tuned_weights"]) == 4 for r in tuned)
    summary = summarize_arena(rows, digits.task_names)
    assert [(s["strategy"], s["weighting"]) for s in summary][:3] == [(BASELINE, "equal"), ("shared", "equal"),
                                                                      ("shared", "upgrad")]
    assert all(s["seeds"] == 2 and " ± " in s["delta_m %"] and 1 <= s["mean rank"] <= 7 for s in summary)
    assert [s["vs equal (paired)"] == "" for s in summary][:3] == [True, True, False]   # equal is the reference
    assert all(len(r["task_weights"]) == 1 and set(r["task_weights"][0]) == set(digits.task_names) for r in rows)
    assert all(set(r["val"]) == set(digits.task_names) for r in rows)
    again = run_arena(digits, SystemConfig(widths=(8,)), TrainConfig(epochs=1), ["shared"], ["upgrad"], seeds=[1])
    first = next(r for r in rows if (r["strategy"], r["weighting"], r["seed"]) == ("shared", "upgrad", 1))
    assert again[1]["digit"] == first["digit"]                                                  # same seed, same run


def test_arena_refuses_bad_input_before_training(digits):
    config, train = SystemConfig(widths=(8,)), TrainConfig(epochs=1)
    with pytest.raises(ValueError, match="unknown weightings \\['magic'\\]"):
        run_arena(digits, config, train, ["shared"], ["magic"], [0])
    with pytest.raises(ValueError, match="baseline"):
        run_arena(digits, config, train, ["independent"], ["equal"], [0])
    with pytest.raises(ValueError, match="cagrad: c"):
        run_arena(digits, config, train, ["shared"], ["cagrad"], [0], options={"cagrad": {"c": -1}})


def test_arena_bench_runs_tiny_and_exits_2_on_bad_input(capsys):
    from bench import arena
    assert arena.main(["--tiny", "--arenas", "conflict"]) == 0
    out = capsys.readouterr().out
    assert "## conflict" in out and "delta_m %" in out and "vs equal (paired)" in out and "fixed_tuned" in out and "upgrad" in out
    assert arena.main(["--tiny", "--arenas", "nope"]) == 2
    assert "unknown arenas" in capsys.readouterr().err
