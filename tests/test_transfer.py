import pytest
import torch

from lab.coupling import SystemConfig, build_system
from lab.data import shift_domain
from lab.train import TrainConfig, train
from lab.transfer import (TRANSFER_MODES, TransferConfig, compare_transfer, parse_shift, shifted, trainable_parts,
                          transfer)


@pytest.fixture(scope="module")
def trained(digits):
    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16, 16), dropout=0.1))
    train(system, digits, TrainConfig(epochs=3, lr=3e-3), progress=False)
    return system


@pytest.fixture(scope="module")
def target(digits):
    return shift_domain(digits, "rotation", 30)


def state(system):
    return {k: v.detach().clone() for k, v in system.state_dict().items()}


@pytest.mark.parametrize("mode,prefix", [("coupling", "coupling."), ("heads", "heads."), ("modules", "stacks.")])
def test_transfer_changes_only_the_chosen_parts(trained, target, digits, mode, prefix):
    original = state(trained)
    result = transfer(trained, target, mode, TransferConfig(epochs=2, lr=1e-2), source=digits)
    after = state(result.system)
    changed = {k for k in after if not torch.equal(after[k], original[k])}
    assert changed, "adaptation trained nothing"
    assert all(k.startswith(prefix) for k in changed), f"{mode} also changed {sorted(changed)}"
    if mode == "coupling":
        assert changed == {"coupling.W.0", "coupling.W.1"}
    assert all(torch.equal(v, original[k]) for k, v in state(trained).items()), "the caller's system was modified"
    assert all(p.requires_grad for p in result.system.parameters())
    assert result.trainable_parameters == sum(p.numel() for p in trainable_parts(trained, mode))
    assert result.total_parameters == trained.num_parameters()


def test_transfer_reports_before_and_after_on_both_domains(trained, target, digits):
    from lab.metrics import evaluate
    result = transfer(trained, target, "all", TransferConfig(epochs=3, lr=3e-3), source=digits)
    assert result.before["target"] == evaluate(trained, target.test, trained.tasks)["metric"]
    assert result.before["source"] == evaluate(trained, digits.test, trained.tasks)["metric"]
    assert result.after["target"] == evaluate(result.system, target.test, trained.tasks)["metric"]
    assert result.summary()["target_after"] > result.summary()["target_before"]   # fine-tuning helps on target
    rows = result.rows()
    assert len(rows) == 2 * len(digits.tasks) and {r["domain"] for r in rows} == {"source", "target"}
    assert rows[0]["change"] == pytest.approx(rows[0]["after"] - rows[0]["before"])
    assert result.history.num_epochs == 3 and result.history.extra["transfer"]["mode"] == "all"


def test_transfer_budget_in_steps_and_examples(trained, target):
    result = transfer(trained, target, "heads", TransferConfig(epochs=10, max_steps=3, limit=50, batch_size=16))
    assert len(result.history.step_loss) == 3 and not result.history.stopped  # a budget, not a Stop
    assert "source" not in result.after
    full = transfer(trained, target, "heads", TransferConfig(epochs=1, limit=50, batch_size=16))
    assert len(full.history.step_loss) == 4          # ceil(50 / 16)


def test_compare_transfer_skips_coupling_for_fixed_W(digits, target):
    independent = build_system(digits, SystemConfig(strategy="independent", widths=(8,)))
    results = compare_transfer(independent, target, config=TransferConfig(epochs=1))
    assert [r.mode for r in results] == ["heads", "modules", "all"]
    assert results[0].trainable_parameters < results[1].trainable_parameters < results[2].trainable_parameters


def test_bad_transfer_input_is_refused(trained, digits, target):
    independent = build_system(digits, SystemConfig(strategy="independent", widths=(8,)))
    with pytest.raises(ValueError, match="'independent' strategy has no coupling parameters"):
        transfer(independent, target, "coupling")
    with pytest.raises(ValueError, match="unknown transfer mode 'W'"):
        transfer(trained, target, "W")
    with pytest.raises(ValueError, match="do not match the system's heads"):
        transfer(trained, target.select_tasks(["digit", "parity"]), "heads")
    with pytest.raises(ValueError, match="max_steps"):
        TransferConfig(max_steps=0)
    with pytest.raises(ValueError, match="KIND:AMOUNT"):
        parse_shift("rotation")
    with pytest.raises(ValueError, match="unknown domain shift"):
        shifted(digits, "sepia:1")
    assert parse_shift("noise:0.3").amount == 0.3 and set(TRANSFER_MODES) == {"coupling", "heads", "modules", "all"}


def test_cli_transfer_to_a_shifted_domain(capsys):
    from lab.cli import main
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "1", "--compare", "--strategies",
                 "independent,cross_stitch", "--transfer-to", "rotation:30", "--transfer-epochs", "1"]) == 0
    out = capsys.readouterr().out
    section = out.split("transfer digits -> digits[rotation=30]")[1]
    lines = [line.split() for line in section.splitlines()[3:] if line.strip()]
    assert [(line[0], line[1]) for line in lines] == [("independent", m) for m in ("heads", "modules", "all")] + [
        ("cross_stitch", m) for m in ("coupling", "heads", "modules", "all")]
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "1", "--transfer-to", "rotation:30",
                 "--transfer-mode", "coupling,heads"]) == 0


def test_cli_transfer_errors(capsys):
    from lab.cli import main
    assert main(["couple", "--transfer-to", "rotation"]) == 2
    assert "KIND:AMOUNT" in capsys.readouterr().err
    assert main(["couple", "--transfer-to", "rotation:30", "--transfer-mode", "W"]) == 2
    assert "unknown transfer mode(s) ['W']" in capsys.readouterr().err
    assert main(["couple", "--strategy", "independent", "--transfer-to", "noise:0.2", "--transfer-mode",
                 "coupling"]) == 2
    assert "['independent'] have no coupling parameters" in capsys.readouterr().err


def test_step_cap_does_not_set_the_callers_stop_event():
    import threading

    from lab.coupling import SystemConfig, build_system
    from lab.data import load_digits_tasks, shift_domain
    from lab.transfer import TransferConfig, transfer

    data = load_digits_tasks(seed=0, limit=200)
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(8, 8)))
    stop = threading.Event()
    result = transfer(system, shift_domain(data, "rotation", 30), "coupling", TransferConfig(epochs=3, max_steps=2),
                      stop=stop)
    assert not stop.is_set() and not result.history.stopped
    assert len(result.history.step_loss) == 2
