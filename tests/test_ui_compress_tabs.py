"""Each tab of the compression panel driven alone, in a bare shell (no other tab), and a new tab added."""
import json
import threading

import ipywidgets as widgets
import pytest

from compress_helpers import digits1, trained
from lab.compress import Preview, RecipeConfig
from lab.compress.recipe_runs import RECIPE_FILE, RecipeRun, record_recipe
from lab.ui import CompressionPanel, ModelSource
from lab.ui.compress import ExportTab, ModelTab, PreviewTab, RecipeTab, Tab, TabbedPanel
from lab.ui.compress_runs import LoadedModel

QUICK = dict(finetune_epochs=0, latency=False)


def shell(tmp_path) -> TabbedPanel:
    return TabbedPanel(runs_root=tmp_path / "runs", update_interval=0.0)


@pytest.fixture(scope="module")
def loaded():
    """The model a Model tab would hand over: a trained MLP on 500 digits, scored and measured."""
    return LoadedModel.of(trained(), digits1(), "mlp", "an mlp trained in the test", version=1)


def test_model_tab_alone_trains_and_hands_the_model_to_the_shell(tmp_path):
    host = shell(tmp_path)
    tab = host.add_tab(ModelTab(host, ModelSource(epochs=2, limit=200)))
    assert host.tabs.titles == ("1 Model",) and tab.train_button is host.train_button
    host.train_button.click()                                 # the default action: the first tab's job
    assert host.wait(60) and host.error is None, host.message_text
    assert host.loaded.label == "mlp" and len(host.loaded.data.test) == 40 and host.loaded.version == 1
    assert host.loaded.metrics == {"digit": host.loaded.metric} and host.loaded.dense_flops == 100_400
    assert f"{100 * host.loaded.metric:.2f}%" in tab.model_info.value
    assert host.status.value.startswith("ready: mlp") and host.progress.bar_style == "success"
    tab.source_kind.value = "run"                             # nothing saved: refused, with the reason
    assert not host.start() and host.message_text.startswith("Cannot load the run: no saved run on the digits")


def test_preview_tab_alone_scores_the_model_it_is_given(tmp_path, loaded):
    host = shell(tmp_path)
    tab = host.add_tab(PreviewTab(host, sparsity=0.5, bits=4))
    tab.sparsity.value = 0.6                                  # no model yet: a hint, nothing computed
    assert "no model to preview yet" in host.message_text and tab.previews == 0
    host.use_model(loaded)                                    # shown at once, at the sliders' setting
    assert tab.preview_row["sparsity"] == pytest.approx(0.6) and tab.preview_row["bits"] == 4
    tab.sparsity.value = 0.9
    direct = Preview(loaded.model, loaded.data)(0.9, 4)
    assert tab.preview_row["accuracy"] == direct.accuracy and tab.preview_row["bytes"] == direct.bytes
    assert tab.preview_row["dense_bytes"] == loaded.dense_bytes and host.message_text == ""


def test_recipe_tab_alone_runs_and_saves_a_recipe(tmp_path, loaded):
    host = shell(tmp_path)
    tab = host.add_tab(RecipeTab(host, RecipeConfig(recipe="prune:0.5,fakequant:4", **QUICK)))
    tab.recipe_button.click()                                 # no model: refused before anything runs
    assert host.message_text.startswith("Cannot run the recipe: there is no model yet") and not tab.runs
    host.use_model(loaded)
    assert host.run("recipe"), host.message_text
    run = tab.runs[-1]
    assert [r["step"] for r in tab.recipe_rows] == ["fp32", "prune:0.5", "fakequant:4"]
    assert run.run_dir.parent == tmp_path / "runs" and run.model_version == 1 and len(run.models) == 3
    assert json.loads((run.run_dir / RECIPE_FILE).read_text())["recipe"] == "prune:0.5,fakequant:4"
    assert host.status.value.startswith("done: recipe prune:0.5,fakequant:4")


def test_export_tab_alone_exports_a_recipe_run_made_by_core(tmp_path, loaded):
    config = RecipeConfig(recipe="prune:0.5,int8", **QUICK)
    run_dir = tmp_path / "recipe-run"
    run_dir.mkdir()
    run = record_recipe(RecipeRun("r", config.recipe, "mlp", run_dir=run_dir, model_version=loaded.version),
                        loaded.model, loaded.data, config)
    host = shell(tmp_path)
    tab = host.add_tab(ExportTab(host, runs=lambda: [run], settings=lambda: config))
    host.use_model(loaded)
    tab.export_button.click()
    assert host.wait(120) and host.error is None, host.message_text
    s = tab.export_summary
    assert s.path == run_dir / "model.onnx" and (run_dir / "model.int8-dynamic.onnx").is_file()
    assert [r["model"] for r in s.rows] == ["torch eager (prune:0.5)", "ONNX Runtime", "torch eager (int8)",
                                            "ONNX Runtime int8:dynamic"]
    assert json.loads((run_dir / "export.json").read_text())["exported"] == "prune:0.5 of recipe prune:0.5,int8"
    assert "parity holds" in tab.export_info.value and tab.export_text().startswith(str(s.path))


class _CountTab(Tab):
    """A tab added to the panel: its own widget and job (what a later "W" tab does)."""

    title = "W"
    action = "count"

    def __init__(self, host):
        super().__init__(host)
        self.count = widgets.IntText(0)
        self.widget = widgets.VBox([self.count])
        self.seen: list = []

    def prepare(self):
        if self.count.value < 0:
            raise ValueError("count must be >= 0")
        return self._job

    def _job(self, stop: threading.Event) -> None:
        self.seen.append(self.host.require_model().label)
        self.host.status.value = f"counted {self.count.value}"

    def on_model(self, loaded):
        self.count.value += 1


def test_a_tab_is_added_to_the_panel_with_its_widget_and_job(tmp_path, loaded):
    cp = CompressionPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    w = cp.add_tab(_CountTab(cp))
    assert cp.tabs.titles[-2:] == ("5 W", "6 W") and cp.tabs.children[-1] is w.widget   # after the real W tab
    cp.use_model(loaded)                                      # every tab hears of the new model
    assert w.count.value == 1 and cp.preview_row["sparsity"] == pytest.approx(0.8)
    assert cp.run("count") and w.seen == ["mlp"] and cp.status.value == "counted 1"
    w.count.value = -1
    assert not cp.run("count") and cp.message_text == "Cannot count: count must be >= 0"
    with pytest.raises(ValueError, match=r"action must be one of \['model', 'recipe', 'export', 'w', 'count'\]"):
        cp.run("nothing")
    with pytest.raises(ValueError, match="two tabs run the action 'count'"):
        cp.add_tab(_CountTab(cp))
