"""The tuning benchmarks run end to end on a tiny setting (their numbers live in docs/BENCHMARKS.md)."""
import pytest

from bench import tune_frontier, tune_throughput, tune_vs_recipes


@pytest.mark.slow
def test_frontier_benchmark_runs(capsys):
    result = tune_frontier.main(["--quick"])
    row = result["rows"][0]
    assert row["trials"] == 2 and row["val_ratio"] > 1 and result["summary"]["picked"] == 1
    assert "prune_layers:" in row["recipe"] and "chosen on validation" in capsys.readouterr().out


@pytest.mark.slow
def test_tuner_vs_recipes_benchmark_runs(capsys):
    result = tune_vs_recipes.main(["--quick"])
    sides = [r["side"] for r in result["rows"]]
    assert sides == ["hand grid (gradual + kmeans)", "tuner, equal trials", "tuner, equal time"]
    assert result["rows"][1]["settings"] == result["rows"][0]["settings"] == 1
    assert "hand_front_beaten" in capsys.readouterr().out


def test_front_and_dominance_helpers():
    points = [(97.0, 5000), (96.0, 4000), (95.0, 4500), (97.0, 6000)]
    assert tune_vs_recipes.front(points) == [(96.0, 4000), (97.0, 5000)]
    assert tune_vs_recipes.best_ratio(points, 97.2, 200_000, 0.5) == 40.0


@pytest.mark.slow
def test_throughput_benchmark_runs(capsys):
    result = tune_throughput.main(["--quick"])
    (row,) = result["rows"]
    assert row["storage"] == "sqlite" and row["trials"] == 2 and row["vs_1_worker"] == 1.0
    assert "trials_per_min" in capsys.readouterr().out
