"""Learning-rate schedules and restoring the best validation epoch (``lab.train_schedule``)."""
import math

import pytest
import torch

from lab.coupling import SystemConfig, build_system
from lab.history import History, RunFolderError
from lab.metrics import evaluate
from lab.train import Callback, TrainConfig, train
from lab.train_schedule import BestEpoch, make_lr_scheduler, validation_score


def _train(digits, epochs=4, **options):
    system = build_system(digits, SystemConfig(widths=(8,)))
    return system, train(system, digits, TrainConfig(epochs=epochs, **options), progress=False)


def test_no_schedule_keeps_the_learning_rate(digits):
    _, history = _train(digits, epochs=3)
    assert history.epoch_lr == [1e-3] * 3


def test_cosine_schedule_follows_the_formula(digits):
    _, history = _train(digits, epochs=4, lr=0.01, lr_schedule="cosine")
    expected = [0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert history.epoch_lr == pytest.approx(expected)


def test_step_schedule_decays_every_step_epochs(digits):
    _, history = _train(digits, epochs=5, lr=0.01, lr_schedule="step", lr_step_epochs=2, lr_gamma=0.5)
    assert history.epoch_lr == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    _, default = _train(digits, epochs=6, lr=0.01, lr_schedule="step")        # a third of the run, gamma 0.1
    assert default.epoch_lr == pytest.approx([0.01, 0.01, 0.001, 0.001, 1e-4, 1e-4])


def test_schedule_scales_the_coupling_group_too():
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.1}], lr=0.01)
    scheduler = make_lr_scheduler(opt, "step", epochs=2, step_epochs=1, gamma=0.5)
    opt.step()
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005, 0.05])
    assert make_lr_scheduler(opt, "none", epochs=3) is None


class Snapshots(Callback):
    """The system's weights after every epoch (what a checkpoint holds); after epoch ``damage_after`` it
    scrambles the modules' weights, so the later epochs validate worse than the earlier ones."""

    def __init__(self, damage_after=None):
        self.states, self.damage_after = {}, damage_after

    def on_epoch_end(self, system, history):
        self.states[history.epochs[-1]] = {k: v.detach().clone() for k, v in system.state_dict().items()}
        if history.epochs[-1] == self.damage_after:
            gen = torch.Generator().manual_seed(0)
            with torch.no_grad():
                for p in system.module_parameters():
                    p.copy_(torch.randn(p.shape, generator=gen) * 3)


def test_restore_best_loads_the_best_validation_epoch(digits):
    system = build_system(digits, SystemConfig(widths=(16,)))
    snapshots = Snapshots(damage_after=3)
    history = train(system, digits, TrainConfig(epochs=5, lr=0.01, restore_best=True), callbacks=[snapshots],
                    progress=False)
    scores = [validation_score({"metric": {t: history.val_metric[t][i] for t in history.task_names},
                                "loss": {t: history.val_loss[t][i] for t in history.task_names}})
              for i in range(history.num_epochs)]
    best = history.epochs[max(range(len(scores)), key=lambda i: (scores[i], -i))]
    assert history.restored_epoch == best != history.epochs[-1]     # a case where the last epoch is not the best
    for k, v in system.state_dict().items():
        assert torch.equal(v, snapshots.states[best][k]), k
    val = evaluate(system, digits.val, system.tasks)["metric"]
    assert history.final_metrics() == pytest.approx(val)             # the metrics of the weights returned


def test_without_restore_best_the_last_epoch_stays(digits):
    system, history = _train(digits, epochs=2)
    assert history.restored_epoch is None
    assert history.final_metrics() == {t: history.val_metric[t][-1] for t in history.task_names}


def test_best_epoch_prefers_metric_then_loss_then_earlier():
    model = torch.nn.Linear(1, 1)
    best = BestEpoch()
    results = [({"m": 0.5}, 1.0), ({"m": 0.7}, 1.0), ({"m": 0.7}, 0.9), ({"m": 0.7}, 0.9), ({"m": float("nan")}, 0.1)]
    for epoch, (metric, loss) in enumerate(results, start=1):
        model.weight.data.fill_(epoch)
        best.update(epoch, model, {"metric": metric, "loss": {"m": loss}})
    assert best.epoch == 3
    model.weight.data.fill_(0)
    assert best.restore(model) == 3 and float(model.weight.detach()) == 3.0
    assert BestEpoch().restore(model) is None


def test_history_keeps_lr_and_restored_epoch(digits, tmp_path):
    _, history = _train(digits, epochs=3, lr_schedule="cosine", restore_best=True)
    loaded = History.load(history.save(tmp_path / "history.json"))
    assert loaded.epoch_lr == pytest.approx(history.epoch_lr) and loaded.restored_epoch == history.restored_epoch
    bad = history.to_dict() | {"restored_epoch": 9}
    with pytest.raises(RunFolderError, match="restored_epoch must be one of the recorded epochs"):
        History.from_dict(bad)
    with pytest.raises(RunFolderError, match="epoch_lr must be a list of numbers"):
        History.from_dict(history.to_dict() | {"epoch_lr": ["fast"]})


@pytest.mark.parametrize("options, message", [
    ({"lr_schedule": "warmup"}, "unknown learning-rate schedule 'warmup'"),
    ({"lr_schedule": "cosine", "lr_step_epochs": 2}, "belong to lr_schedule 'step'"),
    ({"lr_schedule": "step", "lr_gamma": 0.0}, "lr_gamma must be"),
    ({"lr_schedule": "step", "lr_step_epochs": 0}, "lr_step_epochs must be"),
    ({"restore_best": "yes"}, "restore_best must be True or False")])
def test_bad_schedule_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)
