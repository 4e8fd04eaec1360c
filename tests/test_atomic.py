"""One atomic-write helper for every file the lab keeps: temp file + fsync + os.replace + fsync of the folder."""
import json
import math
import os
import subprocess
import sys
import time

import pytest
import torch

from lab import atomic
from lab.atomic import (atomic_write_bytes, atomic_write_json, atomic_write_text, is_temp_name,
                        remove_stale_temp_files)
from lab.history import History


@pytest.fixture
def spy(monkeypatch):
    """Record every os.replace (src, dst) and how many fsyncs ran."""
    calls = {"replace": [], "fsync": 0}
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst):
        calls["replace"].append((os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst)

    def fsync(fd):
        calls["fsync"] += 1
        return real_fsync(fd)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def written_atomically(calls, path) -> bool:
    """``path`` was put in place by os.replace from a temp file of this process in the same folder."""
    for src, dst in calls["replace"]:
        if os.path.abspath(dst) == os.path.abspath(path):
            name = os.path.basename(src)
            return (os.path.dirname(os.path.abspath(src)) == os.path.dirname(os.path.abspath(path))
                    and name.startswith(f".{os.path.basename(path)}.{os.getpid()}.") and name.endswith(".tmp"))
    return False


def test_bytes_text_and_json_variants_replace_atomically_and_fsync(tmp_path, spy):
    path = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(path, b"old")
    assert spy["fsync"] >= 2                       # the file and its folder
    atomic_write_text(path, "néw")
    assert path.read_text(encoding="utf-8") == "néw" and written_atomically(spy, path)
    assert atomic_write_json(tmp_path / "x.json", {"a": [1.0, float("nan")], "b": float("-inf")}) == ["a[1]", "b"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1.0, None], "b": None}
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["f.bin"]          # no temp file left


def test_a_failing_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "keep.txt", "old")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_every_writer_uses_the_helper(tmp_path, spy, digits):
    """History, checkpoint, config, recipe-run JSON and packed files all go through lab.atomic."""
    from lab.checkpoint import save_checkpoint
    from lab.formats.packed import write_packed
    from lab.coupling import SystemConfig, build_system
    from lab.runs import write_config
    from lab.compress.recipe_config import RecipeConfig
    from lab.compress.recipe_runs import RecipeRun, save_recipe_run

    History(task_names=["a"]).save(tmp_path / "history.json")
    save_checkpoint(build_system(digits, SystemConfig(widths=(8,))), tmp_path / "checkpoint.pt")
    write_config(tmp_path, {"lr": 1e-3})
    save_recipe_run(RecipeRun("1", "prune:0.5", "mlp", run_dir=tmp_path), RecipeConfig(recipe="prune:0.5"))
    write_packed({"w": torch.ones(3, 3)}, tmp_path / "m.packed")
    for name in ("history.json", "checkpoint.pt", "config.json", "recipe.json", "m.packed"):
        assert written_atomically(spy, tmp_path / name), name
    assert spy["fsync"] >= 10


def test_stale_temp_files_are_removed_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".history.json.{dead}.abc.tmp"
    live = tmp_path / f".history.json.{os.getpid()}.def.tmp"
    old = tmp_path / f".checkpoint.pt.{os.getpid()}.ghi.tmp"
    staged = tmp_path / f".model.onnx.{dead}.jkl.tmp"
    for p in (stale, live, old):
        p.write_text("half")
    staged.mkdir()
    (staged / "model.onnx").write_text("half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    (tmp_path / "history.json").write_text("{}")
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted([stale.name, old.name, staged.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["history.json", live.name])
    assert is_temp_name(live.name) and not is_temp_name("history.json") and not is_temp_name("run.tmp")


def test_non_finite_values_never_reach_json_as_bare_nan(tmp_path):
    from lab.runs import write_config

    h = History(task_names=["a", "b"], epochs=[1], train_loss={"a": [float("nan")], "b": [0.5]},
                train_metric={"a": [0.1], "b": [0.2]}, val_loss={"a": [1.0], "b": [float("inf")]},
                val_metric={"a": [0.1], "b": [0.2]}, task_weights=[{"a": 1.0, "b": 1.0}],
                W=[[[[1.0, float("nan")], [0.0, 1.0]]]], W_init=[[[1.0, 0.0], [0.0, 1.0]]], epoch_time=[0.1])
    path = h.save(tmp_path / "history.json")
    text = path.read_text()

    def refuse(constant):
        raise AssertionError(f"bare {constant} in the JSON")

    d = json.loads(text, parse_constant=refuse)                      # strict JSON: any parser reads it
    assert d["W"][0][0][0][1] is None and d["train_loss"]["a"] == [None]
    assert "non-finite" in d["error"] and "W[0][0][0][1]" in d["error"] and "val_loss.b[0]" in d["error"]
    loaded = History.load(path)                                      # nulls come back as NaN
    assert math.isnan(loaded.W[0][0][0][1]) and math.isnan(loaded.train_loss["a"][0])
    assert math.isnan(loaded.W_array()[0, 0, 0, 1]) and loaded.W_true is None and "non-finite" in loaded.error
    write_config(tmp_path, {"train": {"lr": float("nan")}})
    assert json.loads((tmp_path / "config.json").read_text(), parse_constant=refuse) == {"train": {"lr": None}}
    # an error recorded before (e.g. the NaN loss) is kept, not replaced
    h.error = "non-finite loss at epoch 2, step 1"
    assert History.load(h.save(tmp_path / "h2.json")).error == h.error


def test_recipe_run_json_is_strict(tmp_path):
    from lab.cost import Report
    from lab.compress.recipe_config import RecipeConfig
    from lab.compress.recipe_runs import RecipeRun, load_recipe_run, save_recipe_run

    run = RecipeRun("1", "prune:0.5", "mlp", [Report(step="fp32", metric=float("nan"))], run_dir=tmp_path)
    path = save_recipe_run(run, RecipeConfig(recipe="prune:0.5"))
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert load_recipe_run(tmp_path).reports[0].metric is None


def test_a_failing_export_keeps_the_previous_onnx_files(tmp_path, monkeypatch):
    from lab.deploy import export_onnx, onnx_files
    from lab.models import build_model

    model = build_model("mlp", seed=0).eval()
    single = export_onnx(model, tmp_path / "m.onnx").path
    split = export_onnx(model, tmp_path / "s.onnx", single_file=False).path
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["m.onnx", "s.onnx", "s.onnx.data"]

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    for path, kwargs in ((single, {}), (split, {"single_file": False})):
        with pytest.raises(RuntimeError, match="exporter crashed"):
            export_onnx(model, path, **kwargs)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before    # intact, no temp left
    monkeypatch.undo()
    export_onnx(model, split)                         # now one file: the old weights file goes too
    assert [p.name for p in onnx_files(split)] == ["s.onnx"] and not (tmp_path / "s.onnx.data").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "s.onnx"]


def test_a_failing_onnx_quantization_keeps_the_previous_int8_file(tmp_path):
    from lab.deploy import export_onnx, quantize_onnx
    from lab.models import build_model

    path = export_onnx(build_model("mlp", seed=0).eval(), tmp_path / "m.onnx").path
    out = quantize_onnx(path, tmp_path / "m.int8.onnx", "dynamic")
    before = out.read_bytes()
    with pytest.raises(ValueError, match="calibration"):
        quantize_onnx(path, out, "static", calibration=torch.rand(4, 3))
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.int8.onnx", "m.onnx"]


def test_module_has_one_writer():
    """The temp-file + replace dance lives in lab.atomic only."""
    import pathlib

    import lab
    root = pathlib.Path(lab.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name not in ("atomic.py", "litert_convert.py")      # the converter env's script: no lab there
                 and ("mkstemp(" in p.read_text() or "os.replace(" in p.read_text())]
    assert offenders == []
    assert atomic.TEMP_SUFFIX == ".tmp"
