"""The MNIST-1D paper-table benchmark runs end to end on a tiny setting (its numbers live in docs/BENCHMARKS.md)."""
import json

import pytest

from bench import mnist1d_table
from lab.benchmarks.mnist1d_table import PAPER, ROWS, coupled_rows, summarize, tiny_rows


def test_tiny_table_and_coupled_comparison_run(capsys, tmp_path):
    out_file = tmp_path / "records.json"
    assert mnist1d_table.main(["--tiny", "--seeds", "0,1", "--coupled", "--coupled-modules", "logistic,gru",
                               "--coupled-epochs", "1", "--json", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy at the best validation epoch" in out and "paper digit %" in out
    records = json.loads(out_file.read_text())
    assert [(r["module"], r["seed"]) for r in records["table"]] == [(m, s) for m in ROWS for s in (0, 1)]
    assert {(r["module"], r["strategy"]) for r in records["coupled"]} == {
        (m, s) for m in ("logistic", "gru") for s in ("independent", "cross_stitch")}
    for r in records["table"] + records["coupled"]:
        assert 0.0 <= r["test_digit"] <= 1.0 and 1 <= r["epoch"] <= 2 and r["cpu_s"] >= 0
    assert all(r["epoch"] == 1 for r in records["coupled"])          # --coupled-epochs 1


def test_every_paper_row_has_settings_that_select_on_validation():
    assert set(ROWS) == set(PAPER) == {"logistic", "mlp", "cnn", "gru"}
    assert all(r.train.restore_best and r.system.block == name for name, r in ROWS.items())
    assert all(r.train.epochs <= 15 for r in coupled_rows(ROWS, 15).values())
    assert all(max(r.system.widths) <= 8 for r in tiny_rows().values())


def test_summary_shows_mean_and_sd_in_percent():
    records = [{"module": "cnn", "strategy": "shared", "seed": s, "test_digit": v, "test_mean": v, "val_mean": v,
                "epoch": 3, "params": 10, "seconds": 1.0, "cpu_s": 1.0} for s, v in enumerate([0.9, 0.94, 0.98])]
    (row,) = summarize(records, ("digit",))
    assert row["test digit %"] == "94.0 ± 4.0" and row["paper digit %"] == "94" and row["seeds"] == 3


@pytest.mark.parametrize("argv, message", [(["--modules", "rnn"], "unknown or no modules"),
                                           (["--seeds", "-1"], "--seeds"), (["--skip-table"], "--coupled"),
                                           (["--coupled", "--coupled-epochs", "0"], "--coupled-epochs")])
def test_bad_options_exit_2(capsys, argv, message):
    assert mnist1d_table.main(["--tiny", *argv]) == 2
    assert message in capsys.readouterr().err
