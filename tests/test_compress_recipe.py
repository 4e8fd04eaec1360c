import json

import pytest
import torch

from compress_helpers import QUICK, digits1, trained
from lab.cli import main
from lab.compress import STEPS, FitConfig, Preview, RecipeOptions, parse_recipe, run_recipe
from lab.cost import evaluate_model

OPTIONS = RecipeOptions(finetune=FitConfig(epochs=1, lr=5e-4), measure=QUICK)


def test_parse_recipe_reads_values_flags_and_options():
    specs = parse_recipe("prune:0.9:layer:epochs=2, kmeans:16 ,fakequant:4:tensor:affine,int8:static")
    assert [s.name for s in specs] == ["prune", "kmeans", "fakequant", "int8"]
    assert specs[0].value == "0.9" and specs[0].options == {"layer": True, "epochs": "2"}
    assert specs[2].options == {"tensor": True, "affine": True} and specs[3].value == "static"
    assert str(specs[0]) == "prune:0.9:layer:epochs=2"


@pytest.mark.parametrize("recipe,message", [
    ("prune:0.9,squash:2", r"unknown recipe step 'squash'; choose from \['prune'"),
    ("int8,prune:0.5", "must be the last step"),
    ("", "the recipe is empty"),
])
def test_bad_recipes_are_refused_with_a_clear_message(recipe, message):
    with pytest.raises(ValueError, match=message):
        parse_recipe(recipe)


@pytest.mark.parametrize("recipe,message", [
    ("prune:1.2", r"sparsity must lie in \[0, 1\)"),
    ("prune", "needs a value"),
    ("fakequant:1", "bits must be an integer from 2 to 16"),
    ("kmeans:1", "clusters must be an integer >= 2"),
    ("prune:0.5:colour=red", r"does not take option\(s\) \['colour'\]"),
])
def test_bad_step_values_are_refused(recipe, message):
    with pytest.raises(ValueError, match=message):
        run_recipe(trained(), recipe, digits1(), OPTIONS)


def test_a_step_that_does_not_apply_to_the_model_is_refused():
    conv_only = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten())
    conv_only.input_shape = (1, 8, 8)
    with pytest.raises(ValueError, match="does not apply to this model"):
        run_recipe(conv_only, "int8", None, OPTIONS)
    norm_only = torch.nn.Sequential(torch.nn.BatchNorm2d(1))
    norm_only.input_shape = (1, 8, 8)
    for recipe in ("kmeans:4", "prune:0.5", "fakequant:4"):
        with pytest.raises(ValueError, match="does not apply"):
            run_recipe(norm_only, recipe, None, OPTIONS)


def test_steps_compose_in_any_order_with_one_report_each():
    data = digits1()
    model = trained()
    # a later step that fine-tunes retrains the free weights (undoing sharing), so epochs=0 there
    for recipe in ("prune:0.8,kmeans:8,fakequant:6", "fakequant:6,kmeans:8,prune:0.8:epochs=0"):
        result = run_recipe(model, recipe, data, OPTIONS)
        assert [r.step for r in result.reports] == ["fp32"] + recipe.split(",")
        final = result.model
        rows = [row[row != 0] for i in (1, 3, 5) for row in final[i].weight]
        assert max(len(torch.unique(r)) for r in rows) <= 8          # shared values survive per channel
        assert result.reports[-1].nonzeros < 0.25 * result.reports[0].params
        assert result.reports[-1].bytes < result.reports[0].bytes / 10
    assert evaluate_model(model, data.test, data.tasks) == result.reports[0].metrics   # input model unchanged


def test_recipe_files_in_yaml_and_json(tmp_path):
    (tmp_path / "r.yaml").write_text("steps:\n  - prune: {value: 0.5, layer: true}\n  - fakequant:8\n")
    (tmp_path / "r.json").write_text(json.dumps(["channels:0.25", {"kmeans": {"value": 4}}]))
    assert [str(s) for s in parse_recipe(str(tmp_path / "r.yaml"))] == ["prune:0.5:layer", "fakequant:8"]
    assert [str(s) for s in parse_recipe(tmp_path / "r.json")] == ["channels:0.25", "kmeans:4"]
    with pytest.raises(ValueError, match="does not exist"):
        parse_recipe(str(tmp_path / "missing.yaml"))


def test_preview_prunes_and_quantizes_without_touching_the_model():
    model, data = trained(), digits1()
    pv = Preview(model, data)
    try:
        plain = pv(0.0)
        assert plain.accuracy == pytest.approx(evaluate_model(model, data.test, data.tasks)["digit"])
        small = pv(0.9, bits=4)
        assert small.nonzeros == round(0.1 * 50_200) and small.ratio > 10
        again = pv(0.0)                                        # resets from the saved weights
        assert again.accuracy == plain.accuracy and again.bytes == plain.bytes
    finally:
        pv.close()
    with pytest.raises(ValueError, match="bits must be"):
        Preview(model, data)(0.5, bits=1)


def test_every_step_is_listed_with_help():
    assert set(STEPS) == {"prune", "channels", "gradual", "kmeans", "fakequant", "int8", "distill", "ensemble",
                          "edges", "modules", "budget", "student", "prune_layers", "kmeans_layers"}
    assert all(s.help.startswith(s.name) for s in STEPS.values())


def test_cli_compress_prints_the_table_step_by_step(capsys, tmp_path):
    code = main(["compress", "--model", "mlp", "--recipe", "prune:0.8,kmeans:8,int8", "--limit", "400",
                 "--epochs", "3", "--finetune-epochs", "1", "--no-latency", "--export", str(tmp_path / "m.onnx")])
    out = capsys.readouterr().out
    assert code == 0
    for text in ("fp32 ", "prune:0.8 ", "kmeans:8 ", "int8 ", "x_smaller", "torch-int8-dynamic",
                 "onnx-int8:dynamic", "max abs diff logits"):
        assert text in out
    assert (tmp_path / "m.onnx").exists()


def test_cli_compress_reports_bad_input(capsys):
    assert main(["compress", "--recipe", "prune:2", "--limit", "100", "--epochs", "1"]) == 2
    assert "sparsity must lie in [0, 1)" in capsys.readouterr().err


@pytest.mark.slow
def test_mobilenet_v3_small_goes_through_every_step_that_applies():
    from lab.models import build_model

    model = build_model("mobilenet_v3_small", input_shape=(1, 8, 8)).eval()   # digits, resized to 32x32 RGB
    options = RecipeOptions(finetune=FitConfig(epochs=0), measure=QUICK)
    x = torch.rand(2, 1, 8, 8)
    result = run_recipe(model, "channels:0.5,prune:0.5,fakequant:4,kmeans:4,int8:static", digits1(), options,
                        keep_models=True)
    assert result.model(x).shape == (2, 10)
    sizes = [r.bytes for r in result.reports]
    assert sizes[1] < sizes[0] / 2 and sizes[4] < sizes[1] / 4
    dynamic = run_recipe(result.models[-2], "int8:dynamic", digits1(), options)     # its Linear classifier
    assert dynamic.model(x).shape == (2, 10) and dynamic.reports[-1].runtime == "torch-int8-dynamic"


def test_cli_compresses_the_latest_saved_coupled_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    assert main(["compress", "--run", "latest", "--no-latency"]) == 2
    assert f"no saved cross_stitch run under {tmp_path}" in capsys.readouterr().err
    assert main(["couple", "--data", "digits", "--limit", "300", "--widths", "16,16", "--epochs", "1", "--save"]) == 0
    assert main(["couple", "--data", "synthetic", "--epochs", "1", "--save"]) == 0   # newest run: wrong tasks
    digits_run = sorted(p for p in tmp_path.iterdir() if "digits" in p.name)[0]
    synthetic_run = sorted(p for p in tmp_path.iterdir() if "synthetic" in p.name)[0]
    capsys.readouterr()
    # 'latest' is the newest cross_stitch run *on the digits*, judged by its history, not the newest folder
    assert main(["compress", "--run", "latest", "--limit", "300", "--recipe", "prune:0.5", "--finetune-epochs", "1",
                 "--no-latency"]) == 0
    assert f"the newest usable cross_stitch run on the digits: {digits_run.name}" in capsys.readouterr().out
    assert main(["compress", "--run", str(synthetic_run), "--limit", "300", "--recipe", "prune:0.5",
                 "--no-latency"]) == 2
    assert "takes systems trained on the digits tasks" in capsys.readouterr().err
    code = main(["compress", "--run", str(digits_run), "--limit", "300", "--recipe", "prune:0.5",
                 "--finetune-epochs", "1", "--no-latency"])
    out = capsys.readouterr().out
    assert code == 0 and f"loaded cross_stitch system from {digits_run}" in out and "prune:0.5 " in out
    # without --limit the run's own split (seed 0, 300 digits) is used, recorded in its history
    code = main(["compress", "--run", str(digits_run), "--recipe", "prune:0.5", "--finetune-epochs", "1",
                 "--no-latency"])
    assert code == 0 and "scoring on the run's own split (seed 0, limit 300)" in capsys.readouterr().out


def test_run_recipe_reports_each_step_and_stops_between_steps():
    import threading

    model, data = trained(), digits1()
    stop = threading.Event()
    seen = []

    def on_step(report, done, total):
        seen.append((report.step, done, total))
        if done == 1:
            stop.set()                       # pressed during step 1: step 2 never starts

    result = run_recipe(model, "prune:0.5:epochs=0,kmeans:8:epochs=0,fakequant:4", data, OPTIONS, stop=stop,
                        on_step=on_step, keep_models=True)
    assert seen == [("fp32", 0, 3), ("prune:0.5:epochs=0", 1, 3)]
    assert result.stopped and [r.step for r in result.reports] == ["fp32", "prune:0.5:epochs=0"]
    assert len(result.models) == 2 and result.model is result.models[-1]
    full = run_recipe(model, "prune:0.5:epochs=0", data, OPTIONS, stop=threading.Event())
    assert not full.stopped and len(full.reports) == 2
