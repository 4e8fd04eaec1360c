"""The detection panel driven like a learner would: set ``.value``, click, read the state (no browser)."""
import pytest

from lab.detection.summary import verdict
from lab.ui.detection import ALL, DetectionPanel


def test_one_coupling_then_all_fills_table_curves_crops_and_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    panel = DetectionPanel(runs_root=tmp_path)
    panel.coupling.value, panel.lam.value, panel.epochs.value = "pipeline", 0.5, 2
    assert panel.run(), panel.message_text
    assert [r["coupling"] for r in panel.rows] == ["pipeline"] and panel.rows[0]["lambda"] == 0.5
    assert "pipeline lambda=0.5" in panel.results and "class_acc" in panel.table.value
    assert len(panel.curves.data) == 3 and len(panel.view.data) == 4 * 6     # 3 task curves; 6 canvases x 4
    assert "pipeline: what the classifier sees" in panel.view.layout.title.text
    assert "train pipeline and another coupling" in panel.verdict_lines[0]
    panel.coupling.value = ALL
    panel.train_button.click()
    assert panel.wait(300) and panel.error is None, panel.message_text
    assert [r["coupling"] for r in panel.rows[1:]] == ["independent", "pipeline", "cross_stitch",
                                                       "pipeline_cross_stitch"]
    assert len(panel.curves.data) == 3 * 4             # pipeline at lambda 0.5 again: its curves are replaced
    assert panel.status.value.startswith("done: 5 runs") and len(panel.results) == 4
    assert "pipeline vs cross_stitch" in panel.verdict.value
    assert "pipeline_cross_stitch vs pipeline" in panel.verdict.value


@pytest.mark.parametrize("field,value,message", [("seed", -3, "seed"), ("epochs", 0, "epochs")])
def test_bad_settings_are_refused_before_training(tmp_path, field, value, message):
    panel = DetectionPanel(runs_root=tmp_path)
    if field == "epochs":
        panel.epochs.min = 0
    getattr(panel, field).value = value
    assert not panel.run() and panel.rows == []
    assert message in panel.message_text and "Cannot train" in panel.message_text


def test_the_detach_box_reaches_the_system(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    panel = DetectionPanel(runs_root=tmp_path)
    panel.coupling.value, panel.detach.value, panel.epochs.value = "pipeline", True, 1
    assert panel.run()
    assert panel.results["pipeline lambda=1 detached"].system.detection.detach_box


def test_verdict_compares_only_runs_at_the_same_lambda():
    rows = [{"coupling": "pipeline", "lambda": 1.0, "detection": 0.80, "mean_iou": 0.8},
            {"coupling": "cross_stitch", "lambda": 1.0, "detection": 0.50, "mean_iou": 0.7},
            {"coupling": "pipeline_cross_stitch", "lambda": 1.0, "detection": 0.805, "mean_iou": 0.82},
            {"coupling": "independent", "lambda": 2.0, "detection": 0.4, "mean_iou": 0.7}]
    lines = verdict(rows)
    assert lines[0].startswith("lambda 1: pipeline vs cross_stitch: +30.0 points")
    assert "pipeline_cross_stitch vs pipeline: no clear difference" in lines[0]
    assert lines[1] == "lambda 2: train pipeline and another coupling at this lambda to compare"
