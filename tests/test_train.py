import threading

import numpy as np
import pytest
import torch

from lab.coupling import SystemConfig, build_system, recovery_report
from lab.history import History
from lab.train import Callback, FunctionCallback, NonFiniteLossError, TrainConfig, train
from lab.weighting import Fixed, make_weighting


def cross_stitch(data, **kw):
    return build_system(data, SystemConfig(strategy="cross_stitch", widths=(16, 16), **kw))


def test_W_gets_gradients_and_moves(digits):
    system = cross_stitch(digits)
    W0 = [W.clone() for W in system.coupling_matrices()]
    out = system(digits.train.x[:32])
    sum(torch.nn.functional.cross_entropy(out[t], digits.train.y[t][:32]) for t in digits.task_names).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in system.coupling.W)
    history = train(system, digits, TrainConfig(epochs=3, lr=3e-3), progress=False)
    assert any(not torch.allclose(a, b) for a, b in zip(W0, system.coupling_matrices()))
    assert history.num_epochs == 3
    assert history.W_array().shape == (3, 2, 4, 4)
    assert np.asarray(history.W_init).shape == (2, 4, 4)
    np.testing.assert_allclose(history.W_at(-1)[1], system.coupling_matrices()[1].numpy(), rtol=1e-6)
    assert set(history.val_metric) == set(digits.task_names)
    assert len(history.step_loss) == 3 * int(np.ceil(len(digits.train) / 64))
    assert history.val_loss["digit"][-1] < history.val_loss["digit"][0]


def test_same_seed_gives_identical_history(digits):
    def run(seed):
        system = cross_stitch(digits, seed=seed, dropout=0.2)
        return train(system, digits, TrainConfig(epochs=2, seed=seed), progress=False)
    a, b, c = run(1), run(1), run(2)
    assert a.step_loss == b.step_loss and a.W == b.W and a.val_metric == b.val_metric
    assert a.step_loss != c.step_loss


def test_training_does_not_disturb_global_rng(digits):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(cross_stitch(digits), digits, TrainConfig(epochs=1), progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_callbacks_see_steps_and_epochs(digits):
    steps, epochs = [], []

    class Recorder(Callback):
        def on_train_start(self, system, history):
            self.started = True

        def on_train_end(self, system, history):
            self.ended = history.num_epochs

    rec = Recorder()
    train(cross_stitch(digits), digits, TrainConfig(epochs=2, batch_size=100), progress=False,
          callbacks=[rec, FunctionCallback(on_step=steps.append, on_epoch=lambda s, h: epochs.append(h.num_epochs))])
    assert rec.started and rec.ended == 2 and epochs == [1, 2]
    assert steps[-1].epoch == 2 and steps[-1].step == steps[-1].steps_per_epoch and steps[-1].global_step == len(steps)
    assert set(steps[0].losses) == set(digits.task_names)


def test_stop_flag_ends_training_after_the_current_step(digits):
    stop = threading.Event()

    def stop_at_step_5(info):
        if info.global_step == 5:
            stop.set()

    history = train(cross_stitch(digits), digits, TrainConfig(epochs=50, batch_size=32), stop=stop,
                    callbacks=[FunctionCallback(on_step=stop_at_step_5)], progress=False)
    assert history.stopped and len(history.step_loss) == 5
    assert history.num_epochs == 1 and len(history.W) == 1  # the partial epoch is still recorded


def test_non_finite_loss_names_epoch_and_step_and_keeps_history(digits):
    system = cross_stitch(digits)
    kept = History(task_names=[])

    def poison(info):
        if info.epoch == 2 and info.step == 2:
            with torch.no_grad():
                system.heads[0]["digit"][1].weight.fill_(float("nan"))

    with pytest.raises(NonFiniteLossError, match="epoch 2, step 3") as err:
        train(system, digits, TrainConfig(epochs=4), callbacks=[FunctionCallback(on_step=poison)],
              history=kept, progress=False)
    assert err.value.history is kept and kept.num_epochs == 1 and "digit" in kept.error


def test_fixed_task_weights_scale_the_joint_loss(digits):
    weighting = Fixed((1.0, 0.0, 0.0, 0.0))
    history = train(cross_stitch(digits), digits, TrainConfig(epochs=1, batch_size=len(digits.train)),
                    weighting=weighting, progress=False)
    assert history.task_weights == [{"digit": 1.0, "parity": 0.0, "ge5": 0.0, "loops": 0.0}]
    assert history.step_loss[0] == pytest.approx(history.train_loss["digit"][0], rel=1e-5)


def test_bad_training_input_is_refused(digits, synthetic):
    with pytest.raises(ValueError, match="3 task weights for 4 tasks"):
        train(cross_stitch(digits), digits, TrainConfig(epochs=1, task_weights=(1, 1, 1)), progress=False)
    with pytest.raises(ValueError, match=">= 0"):
        train(cross_stitch(digits), digits, TrainConfig(epochs=1, task_weights=(1, -1, 1, 1)), progress=False)
    with pytest.raises(ValueError, match="do not match the system's heads"):
        train(cross_stitch(digits), digits.select_tasks(["digit", "parity", "loops", "ge5"]), TrainConfig(epochs=1),
              progress=False)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr must be"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(ValueError, match="unknown weighting"):
        make_weighting("magic")


def test_history_round_trip(digits, tmp_path):
    history = train(cross_stitch(digits), digits, TrainConfig(epochs=2), progress=False)
    path = history.save(tmp_path / "h.json")
    loaded = History.load(path)
    assert loaded == history
    assert loaded.W_array().shape == (2, 2, 4, 4)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable history"):
        History.load(path)


def test_cross_stitch_recovers_a_known_sparse_coupling():
    """Learned off-diagonal |W| scores W*_ij != 0 with ROC-AUC >= 0.95 (fixed seed, a few seconds)."""
    from lab.data import load_synthetic
    data = load_synthetic(num_modules=5, structure="random", density=0.3, seed=3, num_samples=2000)
    assert 0 < int((data.W_true - torch.eye(5)).sum()) < 20
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(32, 32), seed=0))
    train(system, data, TrainConfig(epochs=12, lr=3e-3, seed=0), progress=False)
    report = recovery_report(system.coupling_matrices(), data.W_true)
    print("W recovery:", report)
    assert report["auc"] >= 0.95
    assert report["spearman"] > 0.3


def test_recovery_report_on_a_hand_made_case():
    W_true = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    perfect = torch.tensor([[1.0, 0.8, 0.1], [0.0, 1.0, 0.2], [0.1, 0.6, 1.0]])
    r = recovery_report([perfect], W_true)
    assert r["auc"] == 1.0 and r["precision_at_k"] == 1.0 and r["k"] == 2
    worst = recovery_report([1 - perfect], W_true)
    assert worst["auc"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        recovery_report([torch.eye(2)], W_true)
