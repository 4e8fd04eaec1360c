"""The W inspector replays saved runs: list, scrub epochs, heatmap/graph, compare, W* recovery."""
import json
from datetime import datetime, timezone

import numpy as np
import pytest
import torch

from lab.compare import run_strategy
from lab.coupling import SystemConfig, recovery_report
from lab.runs import new_run_dir, save_run
from lab.train import TrainConfig
from lab.ui import WInspector


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory, synthetic):
    """Two saved runs on the synthetic chain task (4 modules, known W*)."""
    root = tmp_path_factory.mktemp("runs")
    paths = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # tiny models: one thread does not stall when the cores are shared
    try:
        for strategy, epochs in (("cross_stitch", 3), ("attention", 2)):
            r = run_strategy(synthetic, SystemConfig(strategy=strategy, widths=(8, 8)),
                             TrainConfig(epochs=epochs, lr=1e-2))
            paths[strategy] = save_run(new_run_dir(f"synthetic-{strategy}", root=root), r.system, r.history)
    finally:
        torch.set_num_threads(threads)
    return root, paths


def heatmap_z(insp, k=0):
    return np.asarray(insp.W_view.figure.data[k].z, dtype=float)


def test_lists_runs_and_scrubs_epochs(saved_runs):
    root, paths = saved_runs
    insp = WInspector(root)
    assert {v for _, v in insp.run_select.options} == {p.name for p in paths.values()}
    insp.run_select.value = paths["cross_stitch"].name
    h = insp.history()
    assert (insp.epoch.min, insp.epoch.max, insp.epoch.value) == (0, 3, 3)
    assert [t.type for t in insp.W_view.figure.data] == ["heatmap", "heatmap"]      # all stages
    np.testing.assert_allclose(heatmap_z(insp, 1), h.W[-1][1])
    insp.epoch.value = 0
    np.testing.assert_allclose(heatmap_z(insp), h.W_init[0])
    assert "before training" in insp.W_view.figure.layout.title.text
    insp.epoch.value = 2
    insp.stage.value = 1
    assert len(insp.W_view.figure.data) == 1
    np.testing.assert_allclose(heatmap_z(insp), h.W[1][1])
    traj = insp.trajectory_view.figure.data[0]
    assert list(traj.x) == [0, 1, 2, 3]
    assert {t.name for t in insp.curves_view.figure.data} >= {"task0 val", "task3 train"}


def test_graph_view_threshold_hides_weak_edges(saved_runs):
    root, paths = saved_runs
    insp = WInspector(root, select=paths["cross_stitch"].name)
    insp.view.value = "graph"
    assert insp.threshold.layout.display is None
    W = insp.history().W_at(-1)[0]
    off = np.abs(W[~np.eye(4, dtype=bool)])
    thr = float(np.median(off))
    insp.threshold.value = round(thr, 2)
    edges = [t for t in insp.W_view.figure.data if t.name and "<-" in t.name]
    assert len(edges) == 12
    assert sum(bool(t.visible) for t in edges) == int((off >= insp.threshold.value).sum())
    insp.threshold.value = 0.0
    assert all(t.visible for t in insp.W_view.figure.data if t.name and "<-" in t.name)
    insp.view.value = "heatmap"
    assert insp.threshold.layout.display == "none"


def test_compare_two_runs_side_by_side(saved_runs):
    root, paths = saved_runs
    insp = WInspector(root, select=paths["cross_stitch"].name)
    insp.compare_select.value = paths["attention"].name
    other = insp.history(paths["attention"].name)
    fig = insp.W_view.figure
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    np.testing.assert_allclose(heatmap_z(insp, 1), other.W[-1][0])                 # epoch 3 -> its last, 2
    assert "(epoch 2)" in fig.layout.annotations[1].text
    insp.view.value = "graph"
    assert sum(1 for t in insp.W_view.figure.data if t.name == "modules") == 2


def test_W_star_recovery_view(saved_runs):
    root, paths = saved_runs
    insp = WInspector(root, select=paths["cross_stitch"].name)
    h = insp.history()
    assert insp.truth_view.figure.layout.meta["recovery"] == recovery_report(h.W_at(-1), np.asarray(h.W_true))


def test_load_from_a_path_upload_and_bad_input(saved_runs, tmp_path):
    root, paths = saved_runs
    insp = WInspector(tmp_path / "empty")
    assert "No saved runs" in insp.message_text and insp.W_view.figure is None
    insp.path_text.value = str(tmp_path / "nowhere")
    insp.load_button.click()
    assert insp.message_text.startswith("Cannot load") and "no history found" in insp.message_text
    (tmp_path / "broken.json").write_text("{not json")
    assert insp.load(tmp_path / "broken.json") is None and "not a readable history" in insp.message_text
    key = insp.load(paths["attention"] / "history.json")
    assert key == str(paths["attention"]) and insp.run_select.value == key and insp.message_text == ""
    content = (paths["cross_stitch"] / "history.json").read_bytes()
    insp.upload.value = ({"name": "mine.json", "type": "application/json", "size": len(content),
                          "content": memoryview(content), "last_modified": datetime.now(timezone.utc)},)
    assert insp.run_select.value == "upload: mine.json"
    assert insp.history().W == json.loads(content)["W"]
    insp.upload.value = ({"name": "bad.json", "type": "application/json", "size": 3,
                          "content": memoryview(b"{}"), "last_modified": datetime.now(timezone.utc)},)
    assert "Cannot read bad.json" in insp.message_text


def test_a_playground_run_replays_in_a_fresh_inspector(tmp_path):
    """A 'kernel restart': the inspector only has the files the playground wrote."""
    from lab.ui import CouplingPlayground, PlaygroundConfig
    pg = CouplingPlayground(PlaygroundConfig(width=8, epochs=2, small_data=True, baselines=("shared",)),
                            runs_root=tmp_path)
    assert pg.run()
    insp = WInspector(tmp_path, select=pg.run_dirs[0].name)
    np.testing.assert_allclose(heatmap_z(insp), pg.history.W_at(-1)[0])
    assert insp.history().extra["playground"]["epochs"] == 2
    assert "cross_stitch" in insp.summary.value
