"""Core jobs the compression panel and ``python -m lab compress`` share: the export plan of a recipe,
the data split of a saved run, recipe runs saved step by step and reloaded, the export table."""
import json

import pytest
import torch

from compress_helpers import digits1, trained
from lab.cli import main
from lab.compress import RecipeConfig, parse_recipe
from lab.compress.recipe_runs import (RECIPE_FILE, RecipeRun, export_plan, load_recipe_run, record_recipe,
                                      saved_recipe_runs)
from lab.cost import Report
from lab.data import load_digits_tasks
from lab.export_report import export_row, export_rows
from lab.history import History
from lab.runs import DIGITS_SMALL_LIMIT, run_data_kwargs
from lab.ui import CompressionPanel, DATA_CHOICES

QUICK = dict(finetune_epochs=0, latency=False)


# --- export plan ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe, plan", [
    ("prune:0.9,kmeans:16,int8", (2, ("dynamic",))),          # int8 = int8:dynamic
    ("prune:0.9,int8:dynamic", (1, ("dynamic",))),
    ("prune:0.9,kmeans:16,int8:static", (2, ("static",))),
    ("int8:qat", (0, ("static",))),                          # QAT's model is calibrated: ORT static
    ("prune:0.9,fakequant:4", (2, ())),                      # fake-quantized weights are still float
    ("prune:0.9,kmeans:16", (2, ())),                        # no terminal step: the last model
])
def test_export_plan_names_the_last_float_model_and_the_onnx_int8_mode(recipe, plan):
    assert export_plan(recipe) == plan
    assert export_plan(parse_recipe(recipe)) == plan         # parsed steps give the same plan
    finished = RecipeRun("r", recipe, "mlp", reports=[Report(step="x")] * (len(parse_recipe(recipe)) + 1))
    assert finished.last_float_index() == plan[0]


def test_export_plan_of_a_stopped_run_exports_its_last_model_without_int8():
    assert export_plan("prune:0.9,kmeans:16,int8", done=1) == (1, ())
    assert export_plan("prune:0.9,kmeans:16,int8", done=0) == (0, ())
    with pytest.raises(ValueError, match="done must count finished steps, 0 to 3, got 4"):
        export_plan("prune:0.9,kmeans:16,int8", done=4)


def test_export_plan_picks_a_float_model_of_a_real_run():
    config = RecipeConfig(recipe="prune:0.5,int8", **QUICK)
    run = record_recipe(RecipeRun("r", config.recipe, "mlp"), trained(), digits1(), config)
    i, modes = export_plan(config.recipe)
    is_int8 = [any("quantized" in type(m).__module__ for m in model.modules()) for model in run.models]
    assert is_int8 == [False, False, True] and i == 1 and modes == ("dynamic",)


# --- the data split of a saved run --------------------------------------------------------------------
def _history(config, tasks=("digit", "parity")):
    return History(task_names=list(tasks), strategy="cross_stitch", config=config)


def test_run_data_kwargs_reads_the_split_recorded_by_train(tmp_path):
    kwargs = run_data_kwargs(tmp_path, _history({"data": "digits", "train": {"seed": 1},
                                                  "data_info": {"seed": 3, "limit": 300}}))
    assert kwargs == {"tasks": ("digit", "parity"), "seed": 3, "limit": 300}
    kwargs = run_data_kwargs(tmp_path, _history({"train": {"seed": 1}, "data_info": {"seed": 2, "limit": None}}))
    assert kwargs["seed"] == 2 and kwargs["limit"] is None


def test_run_data_kwargs_of_older_runs_falls_back_to_the_seed_and_small_data(tmp_path):
    old = {"data": "digits", "train": {"seed": 5}, "data_info": {"seed": 5}}      # no limit recorded yet
    assert run_data_kwargs(tmp_path, _history(old)) == {"tasks": ("digit", "parity"), "seed": 5, "limit": None}
    (tmp_path / "config.json").write_text(json.dumps({"playground": {"small_data": True}}))
    assert run_data_kwargs(tmp_path, _history(old))["limit"] == DIGITS_SMALL_LIMIT
    assert DIGITS_SMALL_LIMIT == DATA_CHOICES["digits"].fast_size     # the playground's small digits subset


def test_run_data_kwargs_rebuild_the_split_a_run_was_trained_on(tmp_path, monkeypatch):
    from lab.runs import load_run

    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    assert main(["couple", "--data", "digits", "--limit", "200", "--seed", "2", "--widths", "8",
                 "--epochs", "1", "--save"]) == 0
    run_dir = next(tmp_path.iterdir())
    _, history = load_run(run_dir, with_model=False)
    kwargs = run_data_kwargs(run_dir, history)
    assert (kwargs["seed"], kwargs["limit"]) == (2, 200)
    again, trained_on = load_digits_tasks(**kwargs), load_digits_tasks(seed=2, limit=200)
    torch.testing.assert_close(again.test.x, trained_on.test.x, rtol=0, atol=0)
    assert not torch.equal(load_digits_tasks(seed=0, limit=200).test.x, trained_on.test.x)


# --- recipe runs saved step by step and reloaded ------------------------------------------------------
def test_record_recipe_saves_after_every_step_and_reloads(tmp_path):
    config = RecipeConfig(recipe="prune:0.5,kmeans:8,fakequant:4", **QUICK)
    run_dir = tmp_path / "20260101-000000-compress-mlp"
    run_dir.mkdir()
    run = RecipeRun("1: mlp", config.recipe, "mlp", run_dir=run_dir)
    on_disk = []

    def on_step(report, done, total):              # called before the save: the file holds the steps before
        path = run_dir / RECIPE_FILE
        on_disk.append(len(json.loads(path.read_text())["reports"]) if path.is_file() else 0)

    record_recipe(run, trained(), digits1(), config, model_description="an mlp", on_step=on_step)
    assert on_disk == [0, 1, 2, 3] and len(run.models) == 4 and not run.stopped
    back = load_recipe_run(run_dir)
    assert back.reports == run.reports and (back.recipe, back.model_label, back.label) == (run.recipe, "mlp", "1: mlp")
    saved = json.loads((run_dir / RECIPE_FILE).read_text())
    assert len(saved["reports"]) == 4 and saved["config"] == config.to_dict() and saved["model_description"] == "an mlp"
    assert saved_recipe_runs(tmp_path) == [run_dir]


def test_a_failing_step_is_recorded_with_the_steps_before_it(tmp_path):
    # what depends on an earlier step can only fail when it runs (bad values are refused before any step)
    config = RecipeConfig(recipe="prune:0.99:epochs=0,kmeans:64", **QUICK)
    run = RecipeRun("r", config.recipe, "mlp", run_dir=tmp_path)
    with pytest.raises(ValueError, match="clusters=64 is more than"):
        record_recipe(run, trained(), digits1(), config)
    back = load_recipe_run(tmp_path)
    assert run.error.startswith("step 'kmeans:64': clusters=64 is more than") and back.error == run.error
    assert [r.step for r in back.reports] == ["fp32", "prune:0.99:epochs=0"]


def test_a_run_saved_by_the_cli_lands_on_the_panels_pareto_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    onnx = tmp_path / "out" / "m.onnx"
    onnx.parent.mkdir()
    assert main(["compress", "--model", "mlp", "--recipe", "prune:0.5:epochs=0,int8", "--limit", "200",
                 "--epochs", "1", "--no-latency", "--save", "--export", str(onnx)]) == 0
    out = capsys.readouterr().out
    (run_dir,) = saved_recipe_runs(tmp_path)
    assert run_dir.name.endswith("-compress-mlp") and f"recipe run saved in {run_dir} (2 of 2 steps)" in out
    saved = load_recipe_run(run_dir)
    assert [r.step for r in saved.reports] == ["fp32", "prune:0.5:epochs=0", "int8"]
    cp = CompressionPanel(runs_root=tmp_path / "panel", update_interval=0.0)
    run = cp.load_saved(run_dir)                               # a kernel that never ran a recipe
    assert run.reports == saved.reports and run.label == "1: mlp prune:0.5:epochs=0,int8 (saved)"
    assert [r["step"] for r in cp.recipe_rows] == ["fp32", "prune:0.5:epochs=0", "int8"]
    assert [t.name for t in cp.pareto_view.figure.data][0] == run.label
    # --export: the panel's export table (same rows), written beside the run as the panel does
    export = json.loads((run_dir / "export.json").read_text())
    assert [r["model"] for r in export["rows"]] == ["torch eager (prune:0.5:epochs=0)", "ONNX Runtime",
                                                    "torch eager (int8)", "ONNX Runtime int8:dynamic"]
    assert export["exported"] == "prune:0.5:epochs=0 of recipe prune:0.5:epochs=0,int8"
    assert "ONNX Runtime int8:dynamic" in out and (tmp_path / "out" / "m.int8-dynamic.onnx").is_file()


# --- the export table -----------------------------------------------------------------------------------
def test_export_rows_compare_every_runtime_with_eager_torch():
    torch_fp32 = Report(step="kmeans:16", metric=0.9, saved_bytes=2000, latency_ms=0.04, runtime="torch")
    ort = Report(step="onnx", metric=0.9, file_bytes=4000, latency_ms=0.01, runtime="onnxruntime")
    ort8 = Report(step="onnx-int8:dynamic", metric=0.88, file_bytes=1000, latency_ms=0.02, runtime="onnxruntime-int8")
    torch8 = Report(step="int8", metric=0.89, saved_bytes=900, latency_ms=None, runtime="torch-int8-dynamic")
    rows = export_rows(torch_fp32, [ort, ort8], torch8)
    assert [r["model"] for r in rows] == ["torch eager (kmeans:16)", "ONNX Runtime", "torch eager (int8)",
                                          "ONNX Runtime int8:dynamic"]
    assert [r["x_faster"] for r in rows] == [1.0, pytest.approx(4.0), None, pytest.approx(2.0)]
    assert rows[1]["KB"] == 4.0 and rows[3]["acc_%"] == pytest.approx(88.0) and rows[2]["us"] is None
    assert export_row("x", ort, Report(step="t"))["x_faster"] is None        # no torch time: no ratio
    assert len(export_rows(torch_fp32, [ort])) == 2
