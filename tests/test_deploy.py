import os

import pytest
import torch

from compress_helpers import QUICK, digits1, trained
from lab.coupling import SystemConfig, build_system
from lab.deploy import (OnnxParityError, assert_parity, check_onnx, deploy, export_onnx, onnx_bytes, ort_session,
                        quantize_onnx)
from lab.models import build_model


@pytest.mark.parametrize("name", ["mlp", "lenet", "dscnn"])
def test_onnx_export_matches_torch(tmp_path, name):
    model = build_model(name, seed=1).eval()
    result = export_onnx(model, tmp_path / f"{name}.onnx")
    check_onnx(result.path)
    diffs = assert_parity(model, result.path, torch.rand(7, 1, 8, 8))   # another batch size: dynamic axis
    assert list(diffs) == ["logits"] and diffs["logits"] <= 1e-5
    assert result.bytes == os.path.getsize(result.path)


def test_a_coupled_system_exports_every_task_as_a_named_output(tmp_path, digits):
    system = build_system(digits, SystemConfig(strategy="attention", widths=(16, 16), block="cnn")).eval()
    result = export_onnx(system, tmp_path / "coupled.onnx")
    assert result.output_names == system.task_names
    session = ort_session(result.path)
    assert [o.name for o in session.get_outputs()] == list(system.task_names)
    diffs = assert_parity(system, session, digits.test.x[:5])
    assert set(diffs) == set(system.task_names) and max(diffs.values()) <= 1e-5


@pytest.mark.slow
def test_mobilenet_v3_small_exports_with_parity(tmp_path):
    model = build_model("mobilenet_v3_small", input_shape=(3, 64, 64), seed=0).eval()
    result = export_onnx(model, tmp_path / "mnet.onnx", torch.rand(1, 3, 64, 64))
    check_onnx(result.path)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert assert_parity(model, result.path, x, atol=1e-4)["logits"] <= 1e-4
    assert result.bytes > 4 * 1_500_000                                  # 1.5M float32 weights


def test_external_data_is_counted_in_the_size(tmp_path):
    model = build_model("mlp").eval()
    result = export_onnx(model, tmp_path / "split.onnx", single_file=False)
    files = [p.name for p in result.files]
    assert files == ["split.onnx", "split.onnx.data"]
    assert onnx_bytes(result.path) == sum(os.path.getsize(p) for p in result.files) > 200_000
    assert assert_parity(model, result.path, torch.rand(3, 1, 8, 8))["logits"] <= 1e-5


def test_parity_failure_names_the_output_and_the_difference(tmp_path):
    model = build_model("mlp", seed=0).eval()
    result = export_onnx(model, tmp_path / "m.onnx")
    other = build_model("mlp", seed=1).eval()
    with pytest.raises(OnnxParityError, match=r"output 'logits' differs from torch by max abs [0-9.e-]+ \(tolerance 0.0001\)"):
        assert_parity(other, result.path, torch.rand(4, 1, 8, 8))


def test_onnx_runtime_int8_files_are_smaller_and_stay_accurate(tmp_path):
    model, data = trained(), digits1()
    reports = deploy(model, tmp_path / "mlp.onnx", data, quantize=("dynamic", "static"), config=QUICK)
    fp32, dyn, static = reports
    assert [r.step for r in reports] == ["onnx", "onnx-int8:dynamic", "onnx-int8:static"]
    assert fp32.file_bytes == os.path.getsize(tmp_path / "mlp.onnx")
    assert dyn.bytes < 0.35 * fp32.bytes and static.bytes < 0.4 * fp32.bytes
    assert dyn.metric > fp32.metric - 0.02 and static.metric > fp32.metric - 0.02
    assert fp32.extra["max_abs_diff"]["logits"] <= 1e-4


def test_static_onnx_quantization_needs_calibration_of_the_right_shape(tmp_path):
    model = build_model("mlp").eval()
    result = export_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"calibration inputs of shape \(N, 1, 8, 8\); got \(5, 64\)"):
        quantize_onnx(result.path, tmp_path / "q.onnx", "static", torch.rand(5, 64))
    with pytest.raises(ValueError, match="end in .onnx"):
        export_onnx(model, tmp_path / "m.pt")
