"""The pieces panel configs are made of: one check and one message for the same mistake in every panel."""
import re

import pytest

from lab.train import TrainConfig
from lab.ui import (AdversarialChoice, DataSelection, OptimiserChoice, PlaygroundConfig, RobustnessConfig,
                    TransferPanelConfig)


def message(make) -> str:
    with pytest.raises(ValueError) as err:
        make()
    return str(err.value)


def test_optimiser_choice_builds_and_is_checked_by_train_config():
    choice = OptimiserChoice(epochs=3, lr=0.01, batch_size=16, optimizer="sgd", seed=5)
    assert choice.train_config() == TrainConfig(epochs=3, lr=0.01, batch_size=16, optimizer="sgd", seed=5)
    assert choice.train_config((1.0, 2.0)).task_weights == (1.0, 2.0)
    for bad in (dict(epochs=0), dict(batch_size=0), dict(optimizer="rmsprop")):
        assert message(lambda: OptimiserChoice(**bad)) == message(lambda: TrainConfig(**bad))
    assert message(lambda: OptimiserChoice(lr=float("nan"), label="source")) == \
        "source learning rate must be a positive number, got nan (finite, at most 1e+06)"


@pytest.mark.parametrize("field, value", [("epochs", 0), ("batch_size", 0)])
def test_every_panel_config_gives_the_core_message(field, value):
    core = message(lambda: TrainConfig(**{field: value}))
    assert message(lambda: PlaygroundConfig(**{field: value})) == core
    assert message(lambda: RobustnessConfig(**{field: value})) == core
    source_field = "source_epochs" if field == "epochs" else field
    assert message(lambda: TransferPanelConfig(**{source_field: value})) == core


def test_panel_configs_share_the_data_and_adversarial_checks():
    assert message(lambda: PlaygroundConfig(data="synthetic", structure="spiral")) == \
        message(lambda: RobustnessConfig(data="synthetic", structure="spiral")) == \
        message(lambda: DataSelection("synthetic", structure="spiral"))
    assert message(lambda: PlaygroundConfig(adversarial="fgsm", adv_eps=-1.0)) == \
        message(lambda: RobustnessConfig(adversarial="fgsm", adv_eps=-1.0)) == \
        message(lambda: AdversarialChoice("fgsm", eps=-1.0))
    assert message(lambda: PlaygroundConfig(adversarial="fgsm", adv_ratio=2.0)) == \
        message(lambda: RobustnessConfig(adversarial="fgsm", adv_ratio=2.0))
    assert message(lambda: PlaygroundConfig(width=0)) == message(lambda: RobustnessConfig(width=0)) == \
        message(lambda: TransferPanelConfig(width=0)) == \
        "width and stages must be >= 1 (integers; width at most 16384, stages at most 64), got width=0, stages=2"
    assert re.search("must be a positive number", message(lambda: PlaygroundConfig(lr=-1.0)))


def test_panel_configs_are_made_of_the_pieces():
    pg = PlaygroundConfig(data="synthetic", structure="star", num_modules=3, lr=0.01, epochs=4, seed=2,
                          small_data=True, adversarial="pgd", adv_eps=0.2)
    assert pg.data_selection == DataSelection("synthetic", "star", 3, seed=2, small=True)
    assert pg.optimiser == OptimiserChoice(epochs=4, lr=0.01, batch_size=64, seed=2)
    assert pg.adversarial_choice == AdversarialChoice("pgd", 0.2, 0.5) and pg.adversarial_choice.on
    assert pg.train_config() == pg.optimiser.train_config() and pg.task_names == ("task0", "task1", "task2")
    assert pg.data_kwargs() == {"num_modules": 3, "structure": "star", "seed": 2, "num_samples": 600}
    rc = RobustnessConfig(data="digits", seed=1, small_data=True, epochs=3)
    assert rc.data_selection.load_kwargs() == {"tasks": ("digit", "parity", "ge5", "loops"), "seed": 1,
                                               "limit": 400}
    assert rc.train_config() == TrainConfig(epochs=3, seed=1)
    tc = TransferPanelConfig(source_epochs=3, source_lr=0.01, epochs=2, lr=0.02, seed=4, small_data=True)
    assert tc.source_train_config() == TrainConfig(epochs=3, lr=0.01, seed=4)
    assert (tc.transfer_config().epochs, tc.transfer_config().lr) == (2, 0.02)
    assert tc.data_selection == DataSelection("digits", seed=4, small=True)
    # seeded and sized like `python -m lab couple --data mnist1d --seed 1` (the loader's default size)
    assert PlaygroundConfig(data="mnist1d", num_modules=3, seed=1).data_kwargs() == {
        "tasks": ("digit", "parity", "ge5"), "seed": 1}


def test_data_selection_checks_its_values():
    assert message(lambda: DataSelection("cifar")) == "unknown data 'cifar'; choose from ['digits', 'mnist1d', " \
                                                      "'synthetic']"
    assert message(lambda: DataSelection("digits", num_modules=5)) == \
        "digits offers 2 to 4 modules (one per task), got 5"
    assert message(lambda: DataSelection("synthetic", num_modules=2.5)) == \
        "synthetic offers 2 to 8 modules (one per task), got 2.5"
    assert DataSelection("digits", num_modules=2).task_names == ("digit", "parity")
    assert DataSelection("digits").limit is None and DataSelection("digits", small=True).limit == 400
