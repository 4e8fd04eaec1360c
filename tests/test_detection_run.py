"""Training the detection couplings on L = L_det + lambda (L_cls + L_loc): loss falls, runs save and load,
compression recipes apply, ONNX export (roi_align included) matches torch, and the ``detect`` CLI."""
import pytest
import torch

from lab.cli import main
from lab.data import load_detection
from lab.detection import (DETECTION_COUPLINGS, DetectionConfig, DetectionSettings, DetectionSystem,
                           classifier_windows, compare_detection, run_detection)
from lab.metrics import evaluate
from lab.train import TrainConfig

QUICK_TRAIN = TrainConfig(epochs=3, batch_size=16, lr=3e-3)


@pytest.fixture(scope="module")
def data():
    return load_detection(seed=0, limit=150)


@pytest.mark.parametrize("coupling", list(DETECTION_COUPLINGS))
def test_every_coupling_trains_and_its_loss_falls(coupling, data):
    result = run_detection(data, DetectionConfig(coupling, channels=8), QUICK_TRAIN, DetectionSettings(lam=1.0))
    assert len(result.history.step_loss) == 3 * 6
    fresh = DetectionSystem(DetectionConfig(coupling, channels=8), data.tasks, data.input_shape)
    before, after = (evaluate(s, data.train, data.tasks)["loss"] for s in (fresh, result.system))
    assert all(after[t] < before[t] for t in before)                    # every task's loss on the training split
    assert sum(after.values()) < 0.98 * sum(before.values())            # and the joint loss (lambda = 1)
    assert set(result.metrics) == {"class_acc", "mean_iou", "iou50", "iou75", "detection", "proposal_iou"}
    assert len(result.history.W) == 3 and len(result.history.W_init) == 2
    assert result.history.strategy == coupling and result.history.extra["detection"]["lam"] == 1.0
    if coupling.endswith("cross_stitch"):
        assert result.history.W[-1] != result.history.W_init        # W is learned


def test_lambda_weights_the_second_stage_and_zero_leaves_the_classifier_untrained(data):
    trained = run_detection(data, DetectionConfig("pipeline", channels=8), QUICK_TRAIN, DetectionSettings(lam=1.0))
    assert trained.history.task_weights[-1] == {"proposal": 1.0, "digit": 1.0, "box": 1.0}
    off = run_detection(data, DetectionConfig("pipeline", channels=8), QUICK_TRAIN, DetectionSettings(lam=0.0))
    assert off.history.task_weights[-1] == {"proposal": 1.0, "digit": 0.0, "box": 0.0}
    fresh = DetectionSystem(DetectionConfig("pipeline", channels=8), data.tasks, data.input_shape)
    torch.testing.assert_close(off.system.heads[1]["digit"].weight, fresh.heads[1]["digit"].weight)
    assert not torch.equal(trained.system.heads[1]["digit"].weight, fresh.heads[1]["digit"].weight)


def test_the_lab_weightings_apply(data):
    result = run_detection(data, DetectionConfig("cross_stitch", channels=8), QUICK_TRAIN,
                           DetectionSettings(weighting="uncertainty"))
    assert result.history.weighting == "uncertainty"
    assert set(result.history.task_weights[-1]) == {"proposal", "digit", "box"}


def test_same_seed_same_numbers(data):
    a = run_detection(data, DetectionConfig("pipeline_cross_stitch", channels=8), QUICK_TRAIN)
    b = run_detection(data, DetectionConfig("pipeline_cross_stitch", channels=8), QUICK_TRAIN)
    assert a.history.step_loss == b.history.step_loss and a.metrics == b.metrics


def test_a_saved_run_loads_with_its_W_and_a_recipe_compresses_it(data, tmp_path):
    from lab.compress import FitConfig, RecipeOptions, run_recipe
    from lab.cost import MeasureConfig
    from lab.runs import load_run
    result = run_detection(data, DetectionConfig("pipeline_cross_stitch", channels=8), QUICK_TRAIN,
                           run_dir=tmp_path / "run")
    system, history = load_run(tmp_path / "run")
    assert isinstance(system, DetectionSystem) and history.num_epochs == 3
    assert history.W[-1] == [W.tolist() for W in system.coupling_matrices()]
    x = data.test.x[:6]
    for k, v in result.system.eval()(x).items():
        torch.testing.assert_close(system.eval()(x)[k], v)
    options = RecipeOptions(finetune=FitConfig(epochs=1, lr=5e-4), measure=MeasureConfig(latency=False, memory=False))
    compressed = run_recipe(system, "channels:0.5,prune:0.5,int8", data, options)
    assert [r.step for r in compressed.reports] == ["fp32", "channels:0.5", "prune:0.5", "int8"]
    assert compressed.reports[1].params < compressed.reports[0].params
    assert set(compressed.model(x)) == {"proposal", "digit", "box"}
    for recipe in ("edges:0.5", "modules:1", "budget:0.5"):          # W-guided steps need the lab's stage-wise W
        with pytest.raises(ValueError, match="DetectionSystem mixes its modules its own way"):
            run_recipe(system, recipe, data, options)


@pytest.mark.parametrize("coupling", list(DETECTION_COUPLINGS))
def test_onnx_export_with_roi_align_matches_torch(coupling, data, tmp_path):
    from lab.deploy.onnx import assert_parity, check_onnx, export_onnx
    system = DetectionSystem(DetectionConfig(coupling, channels=8, seed=1), data.tasks, data.input_shape).eval()
    exported = export_onnx(system, tmp_path / f"{coupling}.onnx", data.test.x[:2])
    check_onnx(exported.path)
    assert exported.output_names == ("proposal", "digit", "box")
    diffs = assert_parity(system, exported.path, data.test.x[:10])       # a batch size other than the example's
    assert set(diffs) == {"proposal", "digit", "box"} and max(diffs.values()) <= 1e-4


def test_the_classifier_sees_the_proposal_window_in_pipelines_and_the_canvas_otherwise(data):
    x = data.test.x[:3]
    for coupling in ("independent", "pipeline"):
        system = DetectionSystem(DetectionConfig(coupling, channels=8), data.tasks, data.input_shape)
        windows, crops = classifier_windows(system, x, size=16)
        assert crops.shape == (3, 1, 16, 16)
        if coupling == "pipeline":
            torch.testing.assert_close(windows, system.eval()(x)["proposal"])
        else:
            torch.testing.assert_close(windows, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3))


def test_compare_detection_refuses_unknown_couplings(data):
    with pytest.raises(ValueError, match=r"unknown detection coupling\(s\) \['rpn'\]"):
        compare_detection(data, ["pipeline", "rpn"], DetectionConfig(), QUICK_TRAIN)


def test_detect_cli_compares_every_coupling_and_saves(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_FAST", "1")
    monkeypatch.setenv("LAB_RUNS", str(tmp_path))
    assert main(["detect", "--compare", "--couplings", "independent,pipeline_cross_stitch", "--limit", "40",
                 "--epochs", "2", "--channels", "8", "--lam", "0.5", "--save"]) == 0
    out = capsys.readouterr().out
    for word in ["\nindependent ", "\npipeline_cross_stitch ", "class_acc", "mean_iou", "iou75", "detection",
                 "lambda 0.5", "final W of pipeline_cross_stitch", "saved pipeline_cross_stitch run"]:
        assert word in out
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.parametrize("argv,message", [
    (["--lam", "-1"], "lambda must be >= 0"),
    (["--lam", "nan"], "finite"),
    (["--compare", "--couplings", "pipeline,rpn"], "unknown --couplings ['rpn']"),
    (["--couplings", "pipeline"], "--couplings goes with --compare"),
    (["--crop", "5"], "use crop = 8"),
    (["--lam", "2", "--weighting", "dwa"], "leave lambda at 1"),
    (["--coupling", "rpn"], "invalid choice"),
])
def test_detect_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(["detect", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
