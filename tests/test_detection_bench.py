"""The detection benchmark: its plan, summary and paired differences on hand rows, and the command on --tiny."""
import json

import pytest

from bench.detection import main, paired, plan, summarise


def _row(coupling, seed, detection, lam=1.0, detach=False):
    return {"coupling": coupling, "lambda": lam, "detach": detach, "seed": seed, "class_acc": detection,
            "mean_iou": 0.8, "iou50": 1.0, "iou75": 0.5, "detection": detection, "proposal_iou": 0.8, "params": 100, "train_s": 1.0}


def test_plan_covers_every_coupling_and_lambda_plus_the_detached_pipelines():
    runs = plan(("independent", "pipeline", "pipeline_cross_stitch"), (0.5, 2.0), detach=True)
    assert len(runs) == 3 * 2 + 2
    assert runs[-2:] == [("pipeline", 1.0, True), ("pipeline_cross_stitch", 1.0, True)]


def test_summary_and_paired_differences_on_hand_rows():
    rows = [_row("pipeline", 0, 0.8), _row("pipeline", 1, 0.6), _row("cross_stitch", 0, 0.5),
            _row("cross_stitch", 1, 0.5)]
    summary = {s["coupling"]: s for s in summarise(rows)}
    assert summary["pipeline"]["detection"] == pytest.approx(0.7)
    assert summary["pipeline"]["detection_sd"] == pytest.approx(0.1414, abs=1e-4)
    mean, sd, n = paired(rows, "pipeline", "cross_stitch", 1.0)
    assert (mean, n) == (pytest.approx(20.0), 2) and sd == pytest.approx(14.142, abs=1e-3)
    assert paired(rows, "pipeline", "independent", 1.0) is None


def test_the_command_runs_tiny_and_refuses_bad_lambda(tmp_path, capsys):
    assert main(["--tiny", "--json", str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "independent" in out and "pipeline" in out and "detection" in out and "paired differences" in out
    saved = json.loads((tmp_path / "b.json").read_text())
    assert len(saved["rows"]) == 2 and {r["coupling"] for r in saved["summary"]} == {"independent", "pipeline"}
    assert main(["--lams", "-1"]) == 2 and "lambda must be >= 0" in capsys.readouterr().err
    assert main(["--couplings", "rpn"]) == 2
