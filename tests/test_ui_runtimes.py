"""The Export tab's runtime checkboxes and arena table, driven through ``.value`` and ``.click()``."""
from __future__ import annotations

import json

import pytest

from compress_helpers import digits1, trained
from lab.compress import RecipeConfig
from lab.compress.recipe_runs import RecipeRun, record_recipe
from lab.deploy import RUNTIMES
from lab.ui.compress import ExportTab, TabbedPanel
from lab.ui.compress_runs import LoadedModel

QUICK = dict(finetune_epochs=0, latency=False)


@pytest.fixture(scope="module")
def loaded():
    return LoadedModel.of(trained(), digits1(), "mlp", "an mlp trained in the test", version=1)


def export_tab(tmp_path, runs=(), config=RecipeConfig(**QUICK)):
    host = TabbedPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    tab = host.add_tab(ExportTab(host, runs=lambda: list(runs), settings=lambda: config))
    return host, tab


def test_the_ticked_runtimes_meet_in_the_arena_table(tmp_path, loaded):
    config = RecipeConfig(recipe="prune:0.5,int8", **QUICK)
    run_dir = tmp_path / "recipe-run"
    run_dir.mkdir()
    run = record_recipe(RecipeRun("r", config.recipe, "mlp", run_dir=run_dir, model_version=loaded.version),
                        loaded.model, loaded.data, config)
    host, tab = export_tab(tmp_path, [run], config)
    host.use_model(loaded)
    assert [b.description for b in tab.runtime_boxes.values()] == ["ONNX Runtime", "LiteRT", "ExecuTorch"]
    assert tab.ticked() == ("onnx",)                                   # ONNX alone: the export table as before
    tab.runtime_boxes["executorch"].value = True
    tab.export_button.click()
    assert host.wait(300) and host.error is None, host.message_text
    assert tab.export_summary is not None and (run_dir / "model.onnx").is_file()
    rows = tab.arena.rows()
    assert [(r["runtime"], r["precision"]) for r in rows] == [
        ("torch", "fp32"), ("ONNX Runtime", "fp32"), ("ONNX Runtime", "int8"), ("ExecuTorch", "fp32"),
        ("ExecuTorch", "int8")]
    assert float(rows[3]["parity"]) <= 1e-4 and (run_dir / "arena" / "model.int8.pte").is_file()
    saved = json.loads((run_dir / "arena.json").read_text())
    assert saved["exported"] == "prune:0.5 of recipe prune:0.5,int8" and saved["rows"][4]["runtime"] == "ExecuTorch"
    assert "Runtime arena" in tab.arena_info.value and "ExecuTorch" in tab.arena_info.value
    assert "ExecuTorch" in tab.export_text() and host.progress.bar_style == "success"


def test_no_runtime_ticked_or_a_missing_one_is_refused_with_the_reason(tmp_path, loaded, monkeypatch):
    host, tab = export_tab(tmp_path)
    host.use_model(loaded)
    tab.runtime_boxes["onnx"].value = False
    tab.export_button.click()
    assert host.message_text.startswith("Cannot export: tick at least one runtime (ONNX Runtime, LiteRT, ExecuTorch)")
    missing = type(RUNTIMES["executorch"])()
    missing.module = "lab_no_such_runtime_package"
    monkeypatch.setitem(RUNTIMES, "executorch", missing)
    tab.runtime_boxes["executorch"].value = True
    tab.export_button.click()
    assert "ExecuTorch is not installed" in host.message_text and "pip install executorch" in host.message_text
    assert tab.arena is None and not (tmp_path / "runs").exists()
