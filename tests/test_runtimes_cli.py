"""``python -m lab deploy``: the runtime arena from the command line (one table; clear one-line errors)."""
from __future__ import annotations

import json
import os

import pytest

from lab.cli import main
from lab.deploy import RUNTIMES

FAST = ["--epochs", "3", "--limit", "300", "--batches", "1,8", "--rounds", "1", "--repeats", "2"]


@pytest.fixture(scope="module")
def converter():
    if os.environ.get("LAB_SKIP_CONVERTER") == "1":
        pytest.skip("LAB_SKIP_CONVERTER=1: the LiteRT converter environment is not made")
    from lab.deploy import litert_env

    return litert_env.ensure()


def test_deploy_prints_one_table_for_three_runtimes(capsys, tmp_path, converter):
    out_dir = tmp_path / "arena"
    assert main(["deploy", "--model", "mlp", "--runtimes", "onnx,litert,executorch", "--precisions", "fp32",
                 "--out", str(out_dir), *FAST]) == 0
    out = capsys.readouterr().out
    table = out[out.index("\nruntime ") + 1:]
    for row in ["torch ", "ONNX Runtime ", "LiteRT ", "ExecuTorch "]:
        assert f"\n{row}" in table
    for column in ["KB", "parity", "acc_%", "us@1", "x@1", "us@8", "x@8", "mem_KB"]:
        assert column in table.splitlines()[0]
    assert {p.name for p in out_dir.iterdir()} >= {"model.onnx", "model.tflite", "model.b8.tflite", "model.pte",
                                                   "arena.json"}
    saved = json.loads((out_dir / "arena.json").read_text())
    assert [r["runtime"] for r in saved["rows"]] == ["torch", "ONNX Runtime", "LiteRT", "ExecuTorch"]
    assert all(float(r["parity"]) <= 1e-4 for r in saved["rows"][1:])


def test_deploy_a_saved_coupled_run_checks_every_task_output(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    assert main(["couple", "--data", "digits", "--strategy", "cross_stitch", "--epochs", "1", "--limit", "300",
                 "--widths", "16,16", "--save"]) == 0
    capsys.readouterr()
    assert main(["deploy", "--run", "latest", "--runtimes", "executorch", "--precisions", "fp32", "--no-latency",
                 "--limit", "300", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "outputs: digit, parity, ge5, loops" in out and "\nExecuTorch  fp32" in out
    saved = json.loads((tmp_path / "c" / "arena.json").read_text())
    assert saved["label"] == "cross_stitch" and len(saved["rows"]) == 2 and float(saved["rows"][1]["parity"]) <= 1e-4


@pytest.mark.parametrize("argv, message", [
    (["--runtimes", "onnx,tflite"], "unknown runtime(s) tflite; choose from onnx, litert, executorch"),
    (["--batches", "1,2000"], "batch sizes must be integers from 1 to 1024"),
    (["--precisions", "int4"], "precisions must be some of"),
    (["--recipe", "prune:2"], "sparsity must lie in [0, 1)"),
])
def test_bad_deploy_input_is_one_line_before_any_work(capsys, tmp_path, argv, message):
    assert main(["deploy", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_a_missing_runtime_is_refused_with_how_to_install(capsys, tmp_path, monkeypatch):
    missing = type(RUNTIMES["litert"])()
    missing.module = "lab_no_such_runtime_package"
    monkeypatch.setitem(RUNTIMES, "litert", missing)
    assert main(["deploy", "--runtimes", "onnx,litert", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "LiteRT is not installed" in err and "pip install ai-edge-litert==2.3.0" in err


@pytest.mark.slow
def test_the_runtime_benchmark_runs_on_a_tiny_setting(capsys):
    from bench import runtimes

    assert runtimes.main(["--models", "cross_stitch", "--runtimes", "executorch", "--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Machine: ") and "### cross_stitch" in out and "load average at the end" in out
    assert "best at batch 1: ExecuTorch" in out and "goal: best runtime >= 30x eager at batch 1" in out
    assert "outputs: digit, parity, ge5, loops" in out


def test_deploy_after_a_recipe_exports_its_last_float_model(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    assert main(["deploy", "--model", "mlp", "--recipe", "prune:0.5,int8", "--runtimes", "executorch",
                 "--precisions", "fp32", "--no-latency", "--epochs", "3", "--limit", "300",
                 "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "compressed with prune:0.5,int8: exporting prune:0.5" in out
    saved = json.loads((tmp_path / "r" / "arena.json").read_text())
    assert saved["exported"] == "prune:0.5 of recipe prune:0.5,int8" and float(saved["rows"][1]["parity"]) <= 1e-4
