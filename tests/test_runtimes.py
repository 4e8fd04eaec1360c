"""Edge runtimes side by side (lab.deploy): ONNX Runtime, LiteRT and ExecuTorch behind one interface.

Each runtime: export → load → parity on a tiny model and a tiny coupled system (every output), int8
accuracy within a stated tolerance of fp32 on the digits, bytes counted from disk; batch sizes per
runtime; missing runtime and unconvertible model errors. LiteRT conversion runs in the converter
environment (lab.deploy.litert_env), made on first use; LAB_SKIP_CONVERTER=1 skips what needs it.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn

from compress_helpers import digits1, trained
from lab.coupling import SystemConfig, build_system
from lab.deploy import RUNTIMES, BatchSizeError, ConversionError, RuntimeNotInstalled, parse_runtimes
from lab.deploy.arena import ArenaConfig, compare_outputs, run_arena, time_interleaved
from lab.deploy.base import blame_operator, torch_outputs
from lab.models import build_model

INT8_TOLERANCE = 0.03          # int8 accuracy may drop at most 3 points below fp32 on the digits
QUICK_ARENA = dict(batches=(1, 4), rounds=1, repeats=2, warmup=1)


@pytest.fixture(scope="session")
def converter():
    """The LiteRT converter environment (created on first use: minutes, once per machine)."""
    if os.environ.get("LAB_SKIP_CONVERTER") == "1":
        pytest.skip("LAB_SKIP_CONVERTER=1: the LiteRT converter environment is not made")
    from lab.deploy import litert_env

    return litert_env.ensure()


@pytest.fixture(params=list(RUNTIMES))
def runtime(request):
    if request.param == "litert":
        request.getfixturevalue("converter")
    return RUNTIMES[request.param]


def test_the_registry_holds_three_runtimes_and_parses_lists():
    assert list(RUNTIMES) == ["onnx", "litert", "executorch"]
    assert parse_runtimes("onnx, executorch") == ("onnx", "executorch")
    with pytest.raises(ValueError, match="unknown runtime.*tflite; choose from onnx, litert, executorch"):
        parse_runtimes("onnx,tflite")
    with pytest.raises(ValueError, match="named twice"):
        parse_runtimes("onnx,onnx")
    with pytest.raises(ValueError, match="at least one runtime"):
        parse_runtimes(" , ")


def test_fp32_and_int8_files_keep_parity_and_accuracy(tmp_path, runtime):
    model, data = trained(), digits1()
    arena = run_arena(model, tmp_path, data, ArenaConfig(runtimes=(runtime.name,), **QUICK_ARENA))
    eager, fp32, int8 = arena.entries
    assert (eager.runtime, fp32.precision, int8.precision) == ("torch", "fp32", "int8")
    assert fp32.max_abs_diff["logits"] <= 1e-4 and fp32.metric == pytest.approx(eager.metric, abs=0.005)
    assert int8.metric >= fp32.metric - INT8_TOLERANCE and int8.agreement["logits"] >= 0.9
    for e in (fp32, int8):
        assert e.artifact.path.exists() and e.artifact.path.suffix == runtime.suffix
        assert e.bytes == sum(os.path.getsize(p) for p in e.artifact.files)
    assert int8.bytes < 0.4 * fp32.bytes
    assert all(set(e.latency_us) == {1, 4} and all(v > 0 for v in e.speedup.values()) for e in arena.entries)
    rows = arena.rows()
    assert [r["precision"] for r in rows] == ["fp32", "fp32", "int8"] and "us@4" in rows[0]
    odd = runtime.load(fp32.artifact).run(data.test.x[:7].numpy())      # a batch the timing never used
    assert odd["logits"].shape == (7, 10)
    np.testing.assert_allclose(odd["logits"], torch_outputs(model, data.test.x[:7])["logits"], atol=1e-4)


def test_a_coupled_system_exports_every_task_as_an_output(tmp_path, runtime, digits):
    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16, 16), seed=0)).eval()
    art = runtime.export(system, tmp_path / f"coupled{runtime.suffix}", digits.test.x[:2])
    assert art.output_names == system.task_names and len(system.task_names) > 1
    x = digits.test.x[:5]
    got = runtime.load(art).run(x.numpy())
    diffs, agree = compare_outputs(torch_outputs(system, x), got, set(system.task_names))
    assert set(diffs) == set(system.task_names) and max(diffs.values()) <= 1e-4
    assert min(agree.values()) == 1.0


class _Inverse(nn.Module):
    """A layer no runtime here converts: a batched matrix inverse."""

    input_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(torch.linalg.inv(x[:, 0] + 8 * torch.eye(8)).flatten(1))


def test_an_unconvertible_model_names_the_runtime_and_the_operator(tmp_path, runtime):
    with pytest.raises(ConversionError, match=rf"^{runtime.label} cannot convert this model: operator "
                                              r"aten\.linalg_inv"):
        runtime.export(_Inverse().eval(), tmp_path / f"inv{runtime.suffix}", torch.rand(2, 1, 8, 8))


def test_a_missing_runtime_says_how_to_install_it_before_any_work(tmp_path, monkeypatch):
    missing = type(RUNTIMES["executorch"])()
    missing.module = "lab_no_such_runtime_package"
    with pytest.raises(RuntimeNotInstalled, match=r"ExecuTorch is not installed .*pip install executorch==1\.5\.1"):
        missing.export(build_model("mlp"), tmp_path / "m.pte", torch.rand(2, 1, 8, 8))
    monkeypatch.setitem(RUNTIMES, "executorch", missing)
    with pytest.raises(RuntimeNotInstalled, match="pip install executorch"):
        run_arena(build_model("mlp"), tmp_path / "arena", None, ArenaConfig(runtimes=("onnx", "executorch")))
    assert not (tmp_path / "arena").exists()


def test_batch_sizes_per_runtime(tmp_path, converter):
    model, x = build_model("mlp", seed=0).eval(), torch.rand(300, 1, 8, 8)
    onnx = RUNTIMES["onnx"].export(model, tmp_path / "m.onnx", x[:2])
    assert RUNTIMES["onnx"].load(onnx).run(x.numpy())["logits"].shape == (300, 10)        # any batch
    et = RUNTIMES["executorch"].export(model, tmp_path / "m.pte", x[:2])
    runner = RUNTIMES["executorch"].load(et)
    assert runner.run(x.numpy())["logits"].shape == (300, 10)
    with pytest.raises(BatchSizeError, match="batches of 1 to 1024"):
        runner.run(np.zeros((1025, 1, 8, 8), np.float32))
    arts = RUNTIMES["litert"].export_batches(model, tmp_path / "m.tflite", x[:2], batches=(1, 3))
    assert [a.path.name for a in arts.values()] == ["m.tflite", "m.b3.tflite"] and arts[3].fixed_batch == 3
    lite = RUNTIMES["litert"].load(arts[3])
    assert lite.run(x[:7].numpy())["logits"].shape == (7, 10)                             # run() chunks
    with pytest.raises(BatchSizeError, match="converted for batch 3 only; got 2"):
        lite.bind(x[:2].numpy())


def test_interleaved_timing_takes_ratios_within_each_round():
    calls = {"ref": lambda: sum(range(2000)), "fast": lambda: None}
    us, ratio = time_interleaved(calls, "ref", rounds=3, repeats=5, warmup=1)
    assert ratio["ref"] == 1.0 and ratio["fast"] > 1.0 and us["fast"] < us["ref"]


def test_arena_config_and_operator_names_are_checked():
    with pytest.raises(ValueError, match="batch sizes must be integers from 1 to 1024"):
        ArenaConfig(runtimes=("onnx",), batches=(0,))
    with pytest.raises(ValueError, match="precisions must be some of"):
        ArenaConfig(runtimes=("onnx",), precisions=("int4",))
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        ArenaConfig(runtimes=("onnx",), rounds=0)
    with pytest.raises(ValueError, match="atol must be a finite number > 0"):
        ArenaConfig(runtimes=("onnx",), atol=float("nan"))
    assert blame_operator("No ONNX function found for <OpOverload(op='prims.erf_inv', overload='default')>") \
        == "prims.erf_inv.default"
    assert blame_operator("Operator torch._ops.aten.linalg_inv_ex.default is not in Core ATen") \
        == "aten.linalg_inv_ex.default"
    assert blame_operator("something else went wrong") is None


def test_litert_without_its_converter_environment_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_LITERT_ENV", str(tmp_path / "no-env"))
    monkeypatch.setenv("LAB_SKIP_CONVERTER", "1")
    with pytest.raises(RuntimeNotInstalled, match=r"LiteRT converter environment .*no-env is missing .*make converter"):
        RUNTIMES["litert"].export(build_model("mlp"), tmp_path / "m.tflite", torch.rand(2, 1, 8, 8))
    assert not (tmp_path / "no-env").exists()
