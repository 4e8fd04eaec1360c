import pytest
import torch

from lab.checkpoint import CheckpointCallback, load_checkpoint, load_weights, read_checkpoint, save_checkpoint
from lab.coupling import SystemConfig, build_system
from lab.runs import list_runs, load_run, new_run_dir, save_run
from lab.train import TrainConfig, train


@pytest.mark.parametrize("strategy", ["cross_stitch", "attention", "pipeline"])
def test_round_trip_gives_identical_outputs(digits, tmp_path, strategy):
    system = build_system(digits, SystemConfig(strategy=strategy, widths=(16, 16), block="cnn"))
    train(system, digits, TrainConfig(epochs=1), progress=False)
    path = save_checkpoint(system, tmp_path / "model.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp file left behind
    loaded = load_checkpoint(path)
    x = digits.test.x[:20]
    system.eval()
    for task, out in system(x).items():
        assert torch.equal(out, loaded(x)[task])


def test_checkpoint_from_a_different_architecture_is_refused(digits, tmp_path):
    a = build_system(digits, SystemConfig(widths=(16, 16)))
    b = build_system(digits, SystemConfig(widths=(32, 16)))
    save_checkpoint(a, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="different architecture"):
        load_weights(b, tmp_path / "a.pt")
    load_weights(build_system(digits, SystemConfig(widths=(16, 16))), tmp_path / "a.pt")


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path):
    truncated = tmp_path / "bad.pt"
    truncated.write_bytes(b"PK\x03\x04 not a real zip")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        read_checkpoint(truncated)
    with pytest.raises(ValueError, match="no checkpoint file"):
        read_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a lab checkpoint"):
        read_checkpoint(foreign)


class Exploit:
    def __reduce__(self):
        return (print, ("arbitrary code ran",))


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "lab.checkpoint/1", "payload": Exploit()}, path)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        read_checkpoint(path)


def test_interrupted_write_keeps_the_old_checkpoint(digits, tmp_path, monkeypatch):
    system = build_system(digits, SystemConfig(widths=(16, 16)))
    path = save_checkpoint(system, tmp_path / "m.pt")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(system, path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_runs_are_saved_listed_and_reloaded(digits, tmp_path):
    system = build_system(digits, SystemConfig(widths=(16, 16)))
    run_dir = new_run_dir("digits cross stitch", root=tmp_path)
    history = train(system, digits, TrainConfig(epochs=2), callbacks=[CheckpointCallback(run_dir)], progress=False)
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "history.json").is_file()
    save_run(run_dir, system, history)
    assert list_runs(tmp_path) == [run_dir]
    loaded_system, loaded_history = load_run(run_dir)
    assert loaded_history.W == history.W
    x = digits.test.x[:5]
    torch.testing.assert_close(loaded_system(x)["digit"], system.eval()(x)["digit"])
