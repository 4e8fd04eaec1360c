"""The compression panel's W tab driven like a user: slider ``.value``, button ``.click()``, Stop."""
import json

import numpy as np
import pytest

from compress_helpers import digits1, trained
from lab.compress.edge_preview import EdgePreview
from lab.compress.recipe_runs import RECIPE_FILE
from lab.ui import CompressionPanel
from lab.ui.compress import TabbedPanel, WTab
from lab.ui.compress_runs import LoadedModel
from w_helpers import redundant_data, trained_system


@pytest.fixture(scope="module")
def coupled():
    return LoadedModel.of(trained_system(), redundant_data(), "cross_stitch", "a cross-stitch system", version=1)


def test_the_w_tab_waits_for_a_cross_stitch_system(tmp_path):
    host = TabbedPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    tab = host.add_tab(WTab(host))
    host.use_model(LoadedModel.of(trained(), digits1(), "mlp", "an mlp", version=1))
    assert tab.threshold.disabled and tab.edges_button.disabled and tab.previews == 0
    assert "cross-stitch" in tab.w_info.value and "Sequential without a coupling" in tab.w_info.value
    assert not host.run("w") and host.message_text.startswith("Cannot apply the W step: the W tab acts on the coupling")


def test_a_threshold_move_re_scores_without_fine_tuning_and_hides_edges_in_the_graph(tmp_path, coupled):
    host = TabbedPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    tab = host.add_tab(WTab(host))
    host.use_model(coupled)
    assert not tab.threshold.disabled and tab.preview_row["edges_kept"] == 24 and tab.previews == 1
    assert tab.preview_row["metrics"] == pytest.approx(coupled.metrics)          # threshold 0: nothing removed
    t = round(0.4 * tab.threshold.max, 3)
    tab.threshold.value = t
    direct = EdgePreview(coupled.model, coupled.data)(t)
    assert tab.preview_row["edges_kept"] == direct.edges_kept < 24 and tab.preview_row["threshold"] == t
    assert tab.preview_row["metrics"] == direct.metrics and tab.preview_row["bytes"] == direct.bytes
    W = coupled.model.coupling_matrices()[tab.stage.value]
    edges = [t_ for t_ in tab.graph_view.figure.data if " <- " in (t_.name or "")]
    visible = [e.name for e in edges if e.visible]
    expected = [f"{i}:task{i} <- {j}:task{j}" for i in range(4) for j in range(4) if i != j and abs(float(W[i, j])) >= t]
    assert visible == expected and f"{direct.edges_kept}/24" in tab.w_info.value
    assert tab.previews == 2 and tab.preview_seconds is not None


def test_the_buttons_apply_a_w_step_in_the_background_and_the_result_joins_the_pareto_plot(tmp_path, coupled):
    cp = CompressionPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    cp.use_model(coupled)
    tab = cp.w_tab
    tab.finetune_epochs.value = 1
    tab.module_button.click()                                   # remove the module W needs least, in a thread
    assert cp.wait(120) and cp.error is None, cp.message_text
    run = tab.w_runs[-1]
    assert run.reports[-1].extra["removed"] == [3] and run.recipe == "modules:1:epochs=1"
    assert cp.runs[-1] is run and len(cp.pareto_figure().data) >= 1                    # on the Recipe tab's plot
    assert json.loads((run.run_dir / RECIPE_FILE).read_text())["recipe"] == "modules:1:epochs=1"
    assert cp.status.value.startswith("done: modules:1: removed module(s) [3]")
    after = np.asarray([t for t in tab.heatmap_view.figure.data if t.name == "after stage 1"][0].z)
    assert (after[:, 3] == 0).all() and (after[3] == 0).all() and (after[:3, :3] != 0).any()   # module 3 is gone
    assert tab.heatmap_figure() is not None
    cp.edge_threshold.value = round(0.5 * cp.edge_threshold.max, 3)
    assert cp.apply_w("edges") and cp.w_runs[-1].recipe == f"edges:threshold={cp.edge_threshold.value:g}:epochs=1"
    kept = cp.w_runs[-1].reports[-1].extra["edges_kept"]
    assert kept == cp.w_preview_row["edges_kept"] and cp.runs[-1] is cp.w_runs[-1]


def test_stop_ends_the_fine_tuning_and_keeps_nothing(tmp_path, coupled):
    host = TabbedPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    seen = []
    tab = host.add_tab(WTab(host, on_run=seen.append))
    host.use_model(coupled)
    tab.finetune_epochs.value = 500
    tab.edges_button.click()
    host.stop()
    assert host.wait(60) and host.error is None
    assert host.status.value.startswith("stopped: W step edges:threshold=0") and not tab.w_runs and not seen
    assert host.progress.bar_style == "warning"
