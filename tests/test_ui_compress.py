"""The compression panel driven like a learner would: set widget values, click, read what it shows."""
import json
import re
from dataclasses import replace

import pytest
import torch
from ui_helpers import wait_for

from lab.compress import Preview, train_reference
from lab.compress.recipe_runs import RECIPE_FILE
from lab.compress.reference import REFERENCE_FIT, digit_data
from lab.cost import count_flops, evaluate_model, example_input, fixed_threads
from lab.runs import load_run
from lab.ui import (
    CompressionPanel,
    CouplingPlayground,
    ModelSource,
    PlaygroundConfig,
    RecipeConfig,
    load_recipe_run,
    parse_bits,
)
from lab.ui.compress import CURVE_SPARSITIES

LIMIT = 400                                   # digits subset: 240 train / 80 val / 80 test
QUICK = dict(finetune_epochs=1, latency=False)


def panel(root, source=None, **recipe) -> CompressionPanel:
    return CompressionPanel(source or ModelSource(epochs=5, limit=LIMIT), RecipeConfig(**{**QUICK, **recipe}),
                            runs_root=root, update_interval=0.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The reference MLP (5 epochs, 400 digits, seed 0) trained through the Train / load button."""
    cp = panel(tmp_path_factory.mktemp("compress") / "runs")
    cp.train_button.click()
    assert cp.wait(60) and cp.error is None, cp.message_text
    return cp


def test_train_button_trains_the_seeded_reference_in_the_background(trained):
    cp = trained
    data = digit_data(0, LIMIT)
    with fixed_threads(1):                                       # the panel trains with one thread, bit for bit
        again = train_reference("mlp", data, replace(REFERENCE_FIT, epochs=5), seed=0)
    torch.testing.assert_close(cp.loaded.model.state_dict(), again.state_dict(), rtol=0, atol=0)   # same seed
    assert cp.loaded.label == "mlp" and len(cp.loaded.data.test) == 80
    assert cp.loaded.metric == pytest.approx(evaluate_model(again, data.test, data.tasks)["digit"])
    assert cp.status.value.startswith(f"ready: mlp, test accuracy {100 * cp.loaded.metric:.2f}%")
    assert "50,610 parameters" in cp.model_info.value and "100.4 kFLOPs" in cp.model_info.value
    assert cp.progress.bar_style == "success" and cp.progress.value == cp.progress.max == 5 * 4
    assert cp.preview_row["sparsity"] == pytest.approx(0.8) and cp.preview_row["bits"] == 8   # shown at once


def test_preview_sliders_match_a_direct_preview_call(trained):
    cp = trained
    cp.bits.value = "4"
    cp.granularity.value = "tensor"
    before = cp.previews
    cp.sparsity.value = 0.9                                      # the slider: one Preview call, no curve again
    assert cp.previews == before + 1
    model, data = cp.loaded.model, cp.loaded.data
    pv = Preview(model, data, granularity="tensor")
    direct = pv(0.9, 4)
    row = cp.preview_row
    assert (row["bits"], row["granularity"]) == (4, "tensor")
    assert row["accuracy"] == direct.accuracy and row["bytes"] == direct.bytes
    assert row["ratio"] == pytest.approx(direct.ratio) and row["nonzeros"] == direct.nonzeros
    assert (row["flops"], row["effective_flops"]) == count_flops(pv.work, example_input(model, data, 1))
    assert row["effective_flops"] < 0.2 * row["flops"]           # 90% of the weights are zero
    pv.close()
    assert f"{direct.bytes:,}" in cp.preview_info.value and f"{100 * direct.accuracy:.2f}" in cp.preview_info.value
    # the figure: the cached curve at 4 bits per tensor plus the slider's point, a diamond at the slider
    fw = cp.preview_view.figure
    curve, marker, size_curve, size_marker = fw.data
    assert list(curve.x) == sorted(set(CURVE_SPARSITIES) | {0.8, 0.9})    # 0.8 was visited at 4 bits too
    assert list(marker.x) == [0.9] and marker.y[0] == pytest.approx(100 * direct.accuracy)
    assert list(size_marker.y) == [direct.bytes]
    assert "4-bit per tensor" in fw.layout.title.text
    # bits change: the curve is measured once per setting; going back costs one call
    before = cp.previews
    cp.bits.value = "2"
    assert cp.previews == before + len(CURVE_SPARSITIES) + 1
    cp.bits.value = "4"
    assert cp.previews == before + len(CURVE_SPARSITIES) + 2
    cp.bits.value = "float"
    assert cp.preview_row["bits"] is None and cp.preview_row["accuracy"] == pytest.approx(
        Preview(model, data)(0.9, None).accuracy)
    cp.granularity.value, cp.bits.value, cp.sparsity.value = "channel", "8", 0.8


def test_preview_bad_values_are_explained(tmp_path, trained):
    with pytest.raises(ValueError, match=re.escape("sparsity must lie in [0, 1)")):
        trained.preview(1.0)
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 16, got 17"):
        trained.preview(0.5, 17)
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 16 or 'float', got 'eight'"):
        parse_bits("eight")
    assert parse_bits("float") is None and parse_bits("4") == 4 and parse_bits(16) == 16
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 16, got 1"):
        parse_bits(1)
    fresh = panel(tmp_path / "runs")
    fresh.sparsity.value = 0.5                                   # no model yet: a hint, nothing computed
    assert "no model to preview yet" in fresh.message_text and fresh.previews == 0
    with pytest.raises(ValueError, match="there is no model yet"):
        fresh.preview()
    fresh.recipe_button.click()
    assert fresh.message_text.startswith("Cannot run the recipe: there is no model yet") and not fresh.running


def test_recipe_fills_the_table_saves_reports_and_accumulates_on_the_pareto_plot(trained):
    cp = trained
    cp.recipe.value = "prune:0.8,kmeans:16,int8"
    cp.recipe_button.click()
    assert cp.wait(60) and cp.error is None, cp.message_text
    run = cp.runs[-1]
    assert [r.step for r in run.reports] == ["fp32", "prune:0.8", "kmeans:16", "int8"] and not run.stopped
    assert [r["step"] for r in cp.recipe_rows] == ["fp32", "prune:0.8", "kmeans:16", "int8"]
    assert cp.recipe_rows[1]["nonzero"] < 0.25 * cp.recipe_rows[0]["nonzero"]
    assert cp.recipe_rows[2]["KB"] == pytest.approx(run.reports[2].bytes / 1000)
    assert cp.recipe_rows[-1]["runtime"] == "torch-int8-dynamic"
    assert cp.status.value.startswith(f"done: recipe prune:0.8,kmeans:16,int8: "
                                      f"{run.reports[0].bytes / run.reports[-1].bytes:.1f}x smaller")
    assert "kmeans:16" in cp.recipe_table.value and "torch-int8-dynamic" in cp.recipe_text()
    # saved as JSON next to the run, and reloadable after a kernel restart
    saved = json.loads((run.run_dir / RECIPE_FILE).read_text())
    assert saved["recipe"] == "prune:0.8,kmeans:16,int8" and saved["config"]["finetune_epochs"] == 1
    assert [r["bytes"] for r in saved["reports"]] == [r.bytes for r in run.reports]
    assert load_recipe_run(run.run_dir).reports == run.reports
    # a second recipe: a second series on the Pareto plot, the front marks the non-dominated steps
    cp.recipe.value = "prune:0.95:epochs=0,fakequant:4"
    assert cp.compress(), cp.message_text
    fw = cp.pareto_view.figure
    series = [t for t in fw.data if not t.name.startswith("Pareto")]
    assert [t.name for t in series] == [r.label for r in cp.runs[-2:]]
    assert list(series[-1].x) == [r.bytes for r in cp.runs[-1].reports]
    assert list(series[-1].y) == pytest.approx([100 * r.metric for r in cp.runs[-1].reports])
    assert fw.layout.xaxis.type == "log" and list(series[-1].text)[1] == "prune:0.95:epochs=0 (torch)"
    front = fw.data[-1]
    points = [(x, y) for t in series for x, y in zip(t.x, t.y)]
    for x, y in zip(front.x, front.y):                           # nothing is smaller and more accurate
        assert not any(xo <= x and yo >= y and (xo < x or yo > y) for xo, yo in points)
    smallest = min(points)                                       # the smallest model is always on the front
    assert smallest[0] == min(front.x)


@pytest.mark.parametrize("recipe, reason", [
    ("prun:0.9", "Cannot run the recipe: unknown recipe step 'prun'; choose from ['prune'"),
    ("int8,prune:0.5", "Cannot run the recipe: step 'int8' turns the model into an integer graph, so it must be the "
                       "last step"),
    # values are checked before any step runs (issue 8: a clear error before any work)
    ("prune:1.0", "Cannot run the recipe: step 'prune': sparsity must lie in [0, 1)"),
    ("prune:0.5:epochs=0,fakequant:1", "Cannot run the recipe: step 'fakequant': bits must be an integer from 2 to 16, "
                                       "got '1'"),
    # what depends on earlier steps can only fail when it runs: the steps before it are kept
    ("prune:0.99:epochs=0,kmeans:64", "The recipe failed at step 'kmeans:64': clusters=64 is more than the"),
])
def test_bad_recipes_show_a_readable_message(trained, recipe, reason):
    cp = trained
    runs = list(cp.runs)
    cp.recipe.value = recipe
    cp.recipe_button.click()
    assert cp.wait(30)
    assert cp.message_text.startswith(reason), cp.message_text
    assert "Traceback" not in cp.message.value and cp.runs == runs          # nothing added to the plot
    cp.recipe.value = "prune:0.8,kmeans:16,int8"


def test_weights_change_recomputes_f_without_rerunning(trained):
    cp = trained
    cp.recipe.value = "prune:0.8,kmeans:16,int8"
    if not cp.runs or cp.runs[-1].recipe != cp.recipe.value:
        assert cp.compress()
    run = cp.runs[-1]
    ref, last = run.reports[0], run.reports[-1]
    cp.weights.value = "0, 1"                                    # f = S/S0 only
    assert cp.recipe_rows[-1]["f"] == pytest.approx(last.bytes / ref.bytes)
    cp.weights.value = "1, x"
    assert "Cannot use these weights" in cp.message_text
    cp.weights.value = "1, 1, 0"
    assert cp.message_text == "" and cp.recipe_rows[-1]["f"] == pytest.approx(
        last.flops / ref.flops + last.bytes / ref.bytes)


def test_export_writes_the_onnx_file_and_reports_parity(trained):
    cp = trained
    cp.recipe.value = "prune:0.8,kmeans:16,int8"
    if not cp.runs or cp.runs[-1].recipe != cp.recipe.value:
        assert cp.compress()
    run = cp.runs[-1]
    cp.latency.value = True
    try:
        cp.export_button.click()
        assert cp.wait(60) and cp.error is None, cp.message_text
    finally:
        cp.latency.value = False
    s = cp.export_summary
    assert s.path == run.run_dir / "model.onnx" and s.path.is_file()
    assert s.bytes == s.path.stat().st_size and set(s.max_abs_diff) == {"logits"}
    assert s.max_abs_diff["logits"] <= s.atol == 1e-4
    assert [r["model"] for r in s.rows] == ["torch eager (kmeans:16)", "ONNX Runtime", "torch eager (int8)",
                                            "ONNX Runtime int8:dynamic"]
    assert (run.run_dir / "model.int8-dynamic.onnx").is_file()
    assert s.rows[1]["acc_%"] == pytest.approx(100 * run.reports[2].metric, abs=1e-6)   # ORT = torch on the test split
    torch_us, ort_us = s.rows[0]["us"], s.rows[1]["us"]
    assert s.rows[1]["x_faster"] == pytest.approx(torch_us / ort_us) and s.rows[0]["x_faster"] == 1.0
    assert "parity holds" in cp.export_info.value and "logits" in cp.export_text()
    assert json.loads((run.run_dir / "export.json").read_text())["max_abs_diff"] == s.max_abs_diff


def test_stop_ends_a_recipe_between_steps_and_keeps_what_was_done(trained):
    cp = trained
    cp.recipe.value = ",".join(f"prune:{s}:epochs=150" for s in (0.5, 0.6, 0.7, 0.8))
    previous = cp.live_run
    cp.recipe_button.click()
    wait_for(lambda: cp.live_run is not previous and len(cp.live_run.reports) >= 2)    # the first step is done
    cp.recipe_button.click()                                     # a second run while one runs is refused
    assert "already running" in cp.message_text
    cp.stop_button.click()
    assert cp.wait(60) and cp.error is None, cp.message_text
    run = cp.runs[-1]
    assert run.stopped and 2 <= len(run.reports) < 5
    assert cp.status.value.startswith(f"stopped: recipe {cp.recipe.value} ended after {len(run.reports) - 1}/4 steps")
    assert json.loads((run.run_dir / RECIPE_FILE).read_text())["stopped"] is True
    assert cp.progress.bar_style == "warning"
    cp.recipe.value = "prune:0.8,kmeans:16,int8"


def test_stop_while_training_keeps_no_half_trained_model(tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_FAST", raising=False)                # no 5-epoch cap: a long run to stop
    cp = panel(tmp_path / "runs", ModelSource(epochs=1000, limit=LIMIT))
    cp.train_button.click()
    wait_for(lambda: cp.progress.value >= 8)
    cp.stop_button.click()
    assert cp.wait(60) and cp.error is None
    assert cp.loaded is None and cp.status.value.startswith("stopped: mlp trained")
    assert "half-trained reference is not kept" in cp.status.value


def test_a_saved_coupled_run_is_compressed_and_exported(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    empty = CompressionPanel(ModelSource(kind="run", run="latest"), RecipeConfig(**QUICK))
    empty.train_button.click()                                   # nothing saved yet: told what to do
    assert empty.message_text.startswith("Cannot load the run: no saved run on the digits tasks")
    # a tiny cross-stitch run saved the way a learner makes one: the playground (small data, LAB_FAST)
    pg = CouplingPlayground(PlaygroundConfig(strategy="cross_stitch", baselines=(), width=16, epochs=2,
                                             small_data=True))
    assert pg.run(), pg.message_text
    cp = CompressionPanel(ModelSource(kind="run", run="latest"), RecipeConfig(**QUICK), update_interval=0.0)
    assert cp.run_select.value == str(pg.run_dirs[0]) and cp.reference_box.layout.display == "none"
    assert cp.train(), cp.message_text
    system, _ = load_run(pg.run_dirs[0])
    data = cp.loaded.data
    assert cp.loaded.label == "cross_stitch" and len(data.test) == 80 and list(data.task_names) == [
        "digit", "parity", "ge5", "loops"]
    metrics = evaluate_model(system, data.test, data.tasks)
    assert cp.loaded.metric == pytest.approx(sum(metrics.values()) / 4)
    assert cp.loaded.metric == pytest.approx(pg.result_rows[0]["mean"])
    cp.sparsity.value = 0.7                                      # the preview prunes the modules, not W
    direct = Preview(system, data)(0.7, 8)
    assert cp.preview_row["accuracy"] == direct.accuracy and cp.preview_row["bytes"] == direct.bytes
    cp.recipe.value = "prune:0.7,int8"
    assert cp.compress(), cp.message_text
    assert [r.step for r in cp.runs[-1].reports] == ["fp32", "prune:0.7", "int8"]
    assert cp.runs[-1].run_dir.parent == tmp_path / "runs" and "compress-cross_stitch" in cp.runs[-1].run_dir.name
    assert cp.export(), cp.message_text
    assert set(cp.export_summary.max_abs_diff) == {"digit", "parity", "ge5", "loops"}
    assert max(cp.export_summary.max_abs_diff.values()) <= 1e-4


@pytest.mark.parametrize("widget, value, reason", [
    ("finetune_lr", 0.0, "Cannot run the recipe: fine-tuning learning rate must be a positive number, got 0.0"),
    ("weights", "1", "Cannot run the recipe: objective weights are flops, bytes[, latency]: 2 or 3 numbers, "
                     "got [1.0]"),
    ("weights", "1, -1", "Cannot run the recipe: cost weight bytes must be a finite number >= 0, got -1.0"),
    ("recipe", "", "Cannot run the recipe: the recipe is empty"),
])
def test_bad_recipe_settings_are_refused_before_anything_runs(trained, widget, value, reason):
    cp = trained
    old, runs = getattr(cp, widget).value, list(cp.runs)
    getattr(cp, widget).value = value
    try:
        cp.recipe_button.click()
        assert not cp.running and cp.message_text.startswith(reason), cp.message_text
        assert cp.runs == runs
    finally:
        getattr(cp, widget).value = old


def test_model_source_values_are_checked():
    with pytest.raises(ValueError, match=r"unknown reference network 'resnet'; choose from \['mlp', 'lenet'"):
        ModelSource(network="resnet")
    with pytest.raises(ValueError, match="choose a saved run"):
        ModelSource(kind="run")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        ModelSource(epochs=0)
    with pytest.raises(ValueError, match="limit .* must be None or >= 50 examples, got 10"):
        ModelSource(limit=10)
    assert RecipeConfig.defaults(fast=True).finetune_epochs == 2
    assert RecipeConfig.defaults(fast=False).finetune_epochs == 8


def test_saved_recipe_runs_come_back_after_a_restart(trained, tmp_path):
    saved = [r for r in trained.runs if r.models and not r.stopped][0]
    fresh = panel(tmp_path / "runs")                             # a new kernel: no model, no runs
    run = fresh.load_saved(saved.run_dir)
    assert run.reports == saved.reports and run.recipe == saved.recipe and run.label.endswith("(saved)")
    assert [r["step"] for r in fresh.recipe_rows] == [r.step for r in saved.reports]
    assert [t.name for t in fresh.pareto_view.figure.data][0] == run.label
    with pytest.raises(ValueError, match="holds no recipe.json"):
        fresh.load_saved(tmp_path)
