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


def test_history_owns_the_facts_of_the_run(synthetic, tmp_path):
    """steps per epoch, weighting and its options, the data and the adversarial settings are typed fields
    written by train(), and survive a save and a reload."""
    from lab.adversarial import AdversarialTraining, Attack
    system = build_system(synthetic, SystemConfig(strategy="cross_stitch", widths=(8,)))
    adversarial = AdversarialTraining(Attack("fgsm", eps=0.1), 0.5)
    history = train(system, synthetic, TrainConfig(epochs=1, batch_size=100), weighting=make_weighting("dwa",
                    temperature=3.0), adversarial=adversarial, progress=False)
    assert history.steps_per_epoch == -(-len(synthetic.train) // 100)
    assert len(history.step_loss) == history.steps_per_epoch
    assert (history.weighting, history.weighting_options) == ("dwa", {"temperature": 3.0})
    assert history.task_names == list(synthetic.task_names)
    assert history.data_name == synthetic.name and history.data_info["structure"] == "chain"
    assert history.data_info["seed"] == 0
    assert history.adversarial == adversarial.to_dict()
    loaded = History.load(history.save(tmp_path / "h.json"))
    assert (loaded.steps_per_epoch, loaded.weighting, loaded.weighting_options, loaded.data_name,
            loaded.data_info, loaded.adversarial) == (history.steps_per_epoch, "dwa", {"temperature": 3.0},
                                                      synthetic.name, history.data_info, history.adversarial)
    plain = train(build_system(synthetic, SystemConfig(strategy="independent", widths=(8,))), synthetic,
                  TrainConfig(epochs=1, task_weights=(1, 2, 3, 4)), progress=False)
    assert (plain.weighting, plain.weighting_options, plain.adversarial) == ("fixed", {"weights": [1, 2, 3, 4]}, None)


def test_old_history_files_load_with_defaults_or_their_recorded_config(tmp_path):
    import json
    old = {"format": "lab.history/1", "task_names": ["a", "b"], "strategy": "cross_stitch",
           "config": {"weighting": "gradnorm", "data": "digits", "data_info": {"seed": 1, "limit": 400}},
           "extra": {"steps_per_epoch": 7}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    h = History.load(tmp_path / "old.json")
    assert (h.steps_per_epoch, h.weighting, h.weighting_options, h.data_name, h.data_info, h.adversarial) == (
        7, "gradnorm", {}, "digits", {"seed": 1, "limit": 400}, None)
    bare = {"format": "lab.history/1", "task_names": ["a"]}
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    h = History.load(tmp_path / "bare.json")
    assert (h.steps_per_epoch, h.weighting, h.weighting_options, h.data_name, h.data_info, h.adversarial) == (
        None, "", {}, "", {}, None)


@pytest.mark.parametrize("name, options", [
    ("equal", {}), ("fixed", {"weights": [1.0, 0.5]}), ("fixed", {"weights": {"a": 1.0, "b": 2.0}}),
    ("uncertainty", {"init": 0.5}), ("gradnorm", {"alpha": 1.0, "lr": 0.01}), ("dwa", {"temperature": 4.0}),
    ("pcgrad", {"weights": None, "seed": 3})])
def test_every_weighting_exposes_options_that_rebuild_it(name, options):
    import json
    from lab.weighting import WEIGHTINGS
    weighting = make_weighting(name, **options)
    assert weighting.options == options and json.loads(json.dumps(weighting.to_dict())) == {
        "name": name, "options": options}
    assert make_weighting(name, **weighting.options).options == options
    defaults = WEIGHTINGS[name]()
    assert make_weighting(name, **defaults.options).options == defaults.options


def attention_mean_W(system, x, batch_size=50):
    """Mean over the examples of x of W(x) per stage, computed stage by stage from the coupling's own
    formula (independent of CoupledSystem.coupling_matrices)."""
    coupling, sums = system.coupling, None
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            h = [xb[:, m] for m in range(system.num_modules)] if system.num_inputs else [xb] * system.num_modules
            batch = []
            for s in range(system.num_stages):
                h = [system.stacks[m][s].eval()(h[m]) for m in range(system.num_modules)]
                W = coupling.weights(s, h)                                          # (B, n, n)
                batch.append(W.double().sum(0))
                h = list(torch.einsum("bij,jb...->ib...", W, torch.stack(h)).unbind(0))
            sums = batch if sums is None else [a + b for a, b in zip(sums, batch)]
    return [(total / len(x)).numpy() for total in sums]


def test_attention_W_is_recorded_as_the_mean_over_the_validation_split():
    """The validation split (1600 examples) is larger than one evaluation batch (1024), so a W left
    behind by the last forward pass would be the mean of the last 576 examples only."""
    from lab.data import load_synthetic
    data = load_synthetic(num_modules=3, structure="chain", seed=0, num_samples=8000)
    assert len(data.val) > 1024
    system = build_system(data, SystemConfig(strategy="attention", widths=(16, 16), seed=0))
    with torch.no_grad():
        for q in system.coupling.query:                # make W depend on the input from the start
            q.weight.normal_(0, 0.5)
    before = attention_mean_W(system, data.val.x)
    history = train(system, data, TrainConfig(epochs=1, batch_size=256, lr=3e-3), progress=False)
    for s in range(system.num_stages):
        np.testing.assert_allclose(history.W_init[s], before[s], atol=1e-6)
    system.eval()
    after = attention_mean_W(system, data.val.x)
    for s in range(system.num_stages):
        np.testing.assert_allclose(history.W_at(-1)[s], after[s], atol=1e-6)
    # a forward on one odd batch changes the last-forward W, not what the split's W is measured as
    system(data.train.x[:3])
    odd = system.coupling_matrices()
    measured = system.coupling_matrices(data.val, batch_size=7)
    assert not np.allclose(odd[0].numpy(), after[0], atol=1e-4)
    for s in range(system.num_stages):
        np.testing.assert_allclose(measured[s].numpy(), after[s], atol=1e-6)
        torch.testing.assert_close(system.coupling_matrices()[s], odd[s])     # measuring leaves no trace
