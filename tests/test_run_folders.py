"""Run folders: safe concurrent names, one scan that skips malformed folders with a note (used by the W
inspector, the compression panel and ``compress --run latest``), and 'latest' judged by the history."""
import json
import shutil
import threading

import numpy as np
import pytest

from lab.checkpoint import read_checkpoint, save_checkpoint
from lab.compare import run_strategy
from lab.coupling import SystemConfig, build_system
from lab.history import History, RunFolderError
from lab.runs import MAX_SLUG_BYTES, find_runs, latest_run, load_run, new_run_dir, run_slug, scan_runs
from lab.train import TrainConfig

GOOD = "20260101-000000-digits-cross_stitch"


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, digits):
    """One tiny cross-stitch run on the digits, saved as it trained."""
    root = tmp_path_factory.mktemp("good")
    run_strategy(digits, SystemConfig(strategy="cross_stitch", widths=(8,)), TrainConfig(epochs=2),
                 run_dir=root / GOOD)
    return root / GOOD


def copy_run(good_run, root, name):
    return shutil.copytree(good_run, root / name)


def edit_history(folder, change):
    d = json.loads((folder / "history.json").read_text())
    change(d)
    (folder / "history.json").write_text(json.dumps(d))


@pytest.fixture
def messy_root(tmp_path, good_run):
    """A runs folder holding one usable run and every kind of malformed folder, all newer than it."""
    root = tmp_path / "runs"
    root.mkdir()
    copy_run(good_run, root, GOOD)
    copy_run(good_run, root, "20260102-000000-bad_json")
    (root / "20260102-000000-bad_json" / "history.json").write_text("{not json")
    copy_run(good_run, root, "20260102-000001-foreign")
    (root / "20260102-000001-foreign" / "history.json").write_text(json.dumps({"format": "other/2", "x": 1}))
    copy_run(good_run, root, "20260102-000002-missing_keys")
    edit_history(root / "20260102-000002-missing_keys", lambda d: d.pop("task_names"))
    copy_run(good_run, root, "20260102-000003-wrong_W")
    edit_history(root / "20260102-000003-wrong_W", lambda d: d["W"][-1].__setitem__(0, [[1.0, 0.0], [0.0, 1.0]]))
    no_history = copy_run(good_run, root, "20260102-000004-no_history")
    (no_history / "history.json").unlink()
    save_checkpoint(load_run(good_run)[0], no_history / "checkpoint.pt")     # an old-style checkpoint: no history
    copy_run(good_run, root, "20260102-000005-no_checkpoint")
    (root / "20260102-000005-no_checkpoint" / "checkpoint.pt").unlink()
    leftover = copy_run(good_run, root, "20260102-000006-tmp_leftover")
    (leftover / ".history.json.999999999.x.tmp").write_text("{half")
    (root / "20260102-000007-notes.txt").write_text("not a run")
    (root / "20260102-000008-compress-mlp").mkdir()                          # a recipe run: not a coupled run
    (root / "20260102-000008-compress-mlp" / "recipe.json").write_text("{}")
    return root


BAD = {"20260102-000000-bad_json": "bad JSON", "20260102-000001-foreign": "not a lab history",
       "20260102-000002-missing_keys": "task_names", "20260102-000003-wrong_W": "2 x 2",
       "20260102-000004-no_history": "no history.json", "20260102-000007-notes.txt": "plain file"}


def test_new_run_dir_never_collides_under_threads(tmp_path):
    made, errors = [], []

    def worker():
        for _ in range(30):
            try:
                made.append(new_run_dir("same name", root=tmp_path))
            except Exception as err:        # noqa: BLE001 - any error fails the test below
                errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(made)) == 240 and all(p.is_dir() and p.parent == tmp_path for p in made)


@pytest.mark.parametrize("name, expected", [
    ("Größe-β", "Größe-β"), ("digits cross stitch", "digits-cross-stitch"), ("", "run"), ("...", "run"),
    ("../../etc/passwd", "etc-passwd"), ("a/b\\c", "a-b-c"), ("tab\there\x00nul\nnewline", "tab-here-nul-newline"),
    (".hidden", "hidden"), ("a..b", "a.b"), ("日本語 run", "日本語-run")])
def test_run_names_keep_letters_and_neutralise_paths(tmp_path, name, expected):
    assert run_slug(name) == expected
    path = new_run_dir(name, root=tmp_path)
    assert path.parent == tmp_path and path.name.endswith(f"-{expected}") and path.is_dir()


def test_very_long_names_are_shortened_not_an_os_error(tmp_path):
    a, b = "x" * 1000, "x" * 999 + "y"
    pa, pb = new_run_dir(a, root=tmp_path), new_run_dir(b, root=tmp_path)
    assert len(pa.name.encode()) < 255 and len(run_slug("é" * 400).encode()) <= MAX_SLUG_BYTES
    assert pa.name != pb.name and run_slug(a) != run_slug(b)                  # a hash keeps them apart


def test_scan_skips_every_malformed_folder_with_a_note(messy_root):
    runs, notes = scan_runs(messy_root)
    assert [r.name for r in runs] == ["20260102-000006-tmp_leftover", "20260102-000005-no_checkpoint", GOOD]
    assert {n.path.name: n.problem for n in notes}.keys() == BAD.keys()
    for note in notes:
        assert BAD[note.path.name] in note.problem and str(note).startswith(note.path.name)
    assert not (messy_root / "20260102-000006-tmp_leftover" / ".history.json.999999999.x.tmp").exists()
    usable, notes = find_runs(messy_root, need_checkpoint=True)
    assert [r.name for r in usable] == ["20260102-000006-tmp_leftover", GOOD]
    assert "no checkpoint.pt" in {n.path.name: n.problem for n in notes}["20260102-000005-no_checkpoint"]


@pytest.mark.parametrize("folder", sorted(k for k in BAD if not k.endswith(".txt")))
def test_load_run_raises_one_error_type_naming_the_file(messy_root, folder):
    with pytest.raises(RunFolderError) as err:
        load_run(messy_root / folder)
    assert str(messy_root / folder) in str(err.value) and BAD[folder] in str(err.value)
    assert isinstance(err.value, ValueError)


def test_history_load_errors_name_the_file_and_the_problem(tmp_path, good_run):
    path = tmp_path / "h.json"
    cases = {"[]": "expected a JSON object", '{"format": "lab.history/1", "task_names": []}': "task_names",
             '{"format": "lab.history/1", "task_names": ["a"], "epochs": [1], "epoch_time": [0.1], '
             '"task_weights": [{"a": 1}], "W": []}': "one snapshot per",
             b"\xff\xfe": "not a readable history"}
    for text, problem in cases.items():
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with pytest.raises(RunFolderError, match=problem) as err:
            History.load(path)
        assert str(path) in str(err.value)
    with pytest.raises(RunFolderError, match="no such file"):
        History.load(tmp_path / "missing.json")
    edit = json.loads((good_run / "history.json").read_text())
    edit["val_metric"]["digit"] = edit["val_metric"]["digit"][:1]
    path.write_text(json.dumps(edit))
    with pytest.raises(RunFolderError, match=r"val_metric\['digit'\] must hold one number per recorded epoch"):
        History.load(path)


def test_a_checkpoint_of_another_shape_is_refused_clearly(tmp_path, good_run, digits):
    folder = copy_run(good_run, tmp_path, "run")
    payload = read_checkpoint(folder / "checkpoint.pt")
    other = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16,)))
    import torch
    torch.save({**payload, "state_dict": other.state_dict()}, folder / "checkpoint.pt")
    with pytest.raises(RunFolderError, match="not fit its architecture"):
        load_run(folder)


def test_the_inspector_builds_on_a_messy_runs_folder_and_says_what_it_skipped(messy_root):
    from lab.ui import WInspector

    insp = WInspector(messy_root)
    assert [v for _, v in insp.run_select.options] == ["20260102-000006-tmp_leftover",
                                                        "20260102-000005-no_checkpoint", GOOD]
    assert insp.message_text.startswith("Skipped 6 folder(s)")
    for name in BAD:
        assert name in insp.message_text and name in insp.message.value
    assert insp.shown_run == "20260102-000006-tmp_leftover" and insp.W_view.figure is not None
    insp.run_select.value = "20260102-000005-no_checkpoint"                  # needs only the history
    assert insp.shown_run == "20260102-000005-no_checkpoint"


def test_the_inspector_never_shows_the_old_W_under_a_new_name(messy_root):
    from lab.ui import WInspector

    insp = WInspector(messy_root, select=GOOD)
    assert insp.shown_run == GOOD and insp.W_view.figure is not None
    # the no-checkpoint run is rewritten on disk (e.g. by another kernel) into something unreadable
    (messy_root / "20260102-000005-no_checkpoint" / "history.json").write_text("{half written")
    insp.histories.pop("20260102-000005-no_checkpoint")
    insp.run_select.value = "20260102-000005-no_checkpoint"
    assert insp.W_view.figure is None and insp.shown_run is None and insp.summary.value == ""
    assert insp.message_text.startswith("Cannot load run 20260102-000005-no_checkpoint")
    insp.epoch.value = 0                                                       # no redraw of the old run
    assert insp.W_view.figure is None
    # a run that recorded no W at all: nothing shown either, not the previous run's W
    insp.run_select.value = GOOD
    assert insp.W_view.figure is not None
    insp.add(History(task_names=["digit"], strategy="cross_stitch"), "no W yet")
    assert insp.W_view.figure is None and insp.shown_run is None and "recorded no W" in insp.message_text
    insp.refresh()                                                             # the broken run leaves the list
    assert "20260102-000005-no_checkpoint" not in [v for _, v in insp.run_select.options]


def test_the_compression_panel_builds_on_a_messy_runs_folder(messy_root):
    from lab.ui import CompressionPanel, ModelSource, RecipeConfig

    cp = CompressionPanel(ModelSource(kind="run", run="latest"), RecipeConfig(recipe="prune:0.5"),
                          runs_root=messy_root)
    assert [v for _, v in cp.run_select.options] == [str(messy_root / "20260102-000006-tmp_leftover"),
                                                      str(messy_root / GOOD)]
    assert cp.run_select.value == str(messy_root / "20260102-000006-tmp_leftover")
    for name in [*BAD, "20260102-000005-no_checkpoint"]:
        assert name in cp.message_text and name in cp.message.value
    assert "no checkpoint.pt" in cp.message_text


def test_latest_is_the_newest_usable_run_of_the_strategy_by_its_history(tmp_path, good_run, digits):
    root = tmp_path / "runs"
    root.mkdir()
    for name in (GOOD, f"{GOOD}-2", f"{GOOD}-9", f"{GOOD}-10", "20260101-000001-digits-cross_stitch-pcgrad"):
        copy_run(good_run, root, name)
    edit_history(root / "20260101-000001-digits-cross_stitch-pcgrad", lambda d: d["config"].update(weighting="pcgrad"))
    newer = {"20260101-000002-digits-shared": ("shared", "digits"),
             "20260101-000003-synthetic-cross_stitch": ("cross_stitch", "synthetic"),
             "20260101-000004-whatever": ("cross_stitch", "digits")}
    for name, (strategy, data) in newer.items():
        copy_run(good_run, root, name)
        edit_history(root / name, lambda d, s=strategy, x=data: (d.update(strategy=s), d["config"].update(data=x)))
    (root / "20260101-000004-whatever" / "checkpoint.pt").write_bytes(b"truncated")   # newest, but unusable
    found, notes = latest_run(root, strategy="cross_stitch", data="digits")
    assert found.path.name == "20260101-000001-digits-cross_stitch-pcgrad"
    assert [n.path.name for n in notes] == ["20260101-000004-whatever"] and "not a readable checkpoint" in \
        notes[0].problem
    assert found.history.strategy == "cross_stitch" and found.system.strategy == "cross_stitch"
    shutil.rmtree(root / "20260101-000001-digits-cross_stitch-pcgrad")
    assert latest_run(root, strategy="cross_stitch", data="digits")[0].path.name == f"{GOOD}-10"   # -10 after -9
    assert latest_run(root, strategy="shared", data="digits")[0].path.name == "20260101-000002-digits-shared"
    assert latest_run(root, strategy="attention")[0] is None
    from lab.ui import latest_digits_run
    assert latest_digits_run("cross_stitch", root=root).name == f"{GOOD}-10"


def test_compress_run_latest_skips_malformed_folders_and_says_so(messy_root, monkeypatch, capsys):
    from lab.cli import main

    monkeypatch.setenv("LAB_RUNS", str(messy_root))
    code = main(["compress", "--run", "latest", "--recipe", "prune:0.5", "--finetune-epochs", "1", "--no-latency"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "the newest usable cross_stitch run on the digits: 20260102-000006-tmp_leftover" in out
    for name in [*BAD, "20260102-000005-no_checkpoint"]:
        assert name in out


def test_load_run_takes_the_checkpoints_history_when_history_json_lags(tmp_path, good_run):
    """A kill between writing checkpoint.pt and history.json: the pair still agrees."""
    folder = copy_run(good_run, tmp_path, "run")
    edit_history(folder, lambda d: [d[k].pop() for k in ("epochs", "W", "epoch_time", "task_weights")]
                 + [v.pop() for k in ("train_loss", "train_metric", "val_loss", "val_metric") for v in d[k].values()])
    assert History.load(folder / "history.json").num_epochs == 1
    system, history = load_run(folder)
    assert history.num_epochs == read_checkpoint(folder / "checkpoint.pt")["epochs"] == 2
    np.testing.assert_allclose(history.W_at(-1)[0], system.coupling_matrices()[0].detach().numpy(), atol=1e-6)
    assert load_run(folder, with_model=False)[1].num_epochs == 1        # history.json alone: never ahead
