import pytest
import torch

from lab.adversarial import (AdversarialTraining, Attack, attack_split, input_range, perturb, robust_accuracy,
                             robust_evaluate)
from lab.compare import compare_robustness
from lab.coupling import SystemConfig, build_system
from lab.metrics import evaluate
from lab.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(digits):
    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(32, 32)))
    train(system, digits, TrainConfig(epochs=30, lr=3e-3), progress=False)
    return system


def joint(result):
    return sum(result["loss"].values())


def test_fgsm_raises_the_loss_of_a_trained_model_and_stays_in_the_ball(trained, digits):
    attack = Attack("fgsm", eps=0.1, clamp=(0.0, 1.0))
    clean = evaluate(trained, digits.test, trained.tasks)
    adv_split = attack_split(trained, digits.test, attack)
    adv = evaluate(trained, adv_split, trained.tasks)
    assert joint(adv) > joint(clean) * 1.5
    assert sum(adv["metric"].values()) < sum(clean["metric"].values())
    delta = adv_split.x - digits.test.x
    assert delta.abs().max() <= 0.1 + 1e-6 and delta.abs().max() > 0.09
    assert adv_split.x.min() >= 0 and adv_split.x.max() <= 1


def test_pgd_with_more_steps_is_at_least_as_strong_as_fgsm(trained, digits):
    fgsm = robust_evaluate(trained, digits.test, Attack("fgsm", eps=0.05, clamp=(0, 1)), seed=0)
    pgd = robust_evaluate(trained, digits.test, Attack("pgd", eps=0.05, steps=10, clamp=(0, 1)), seed=0)
    pgd_rs = robust_evaluate(trained, digits.test, Attack("pgd", eps=0.05, steps=10, random_start=True,
                                                           clamp=(0, 1)), seed=0)
    assert joint(pgd) >= joint(fgsm) and joint(pgd_rs) >= joint(fgsm)
    assert sum(pgd["metric"].values()) <= sum(fgsm["metric"].values())


def test_robust_accuracy_is_the_clean_metric_at_eps_zero(trained, digits):
    clean = evaluate(trained, digits.test, trained.tasks)["metric"]
    assert robust_accuracy(trained, digits, Attack("pgd", eps=0.0)) == clean      # MultiTaskData -> its test split
    assert set(robust_accuracy(trained, digits.test, Attack("fgsm", eps=0.2))) == set(digits.task_names)


def test_perturb_is_seeded_and_leaves_the_model_alone(trained, digits):
    x, y = digits.test.x[:32], {k: v[:32] for k, v in digits.test.y.items()}
    attack = Attack("pgd", eps=0.1, steps=3, random_start=True, clamp=(0, 1))
    trained.train()
    for p in trained.parameters():
        p.grad = None
    a, b, c = perturb(trained, x, y, attack, seed=1), perturb(trained, x, y, attack, seed=1), perturb(
        trained, x, y, attack, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert trained.training and all(p.grad is None for p in trained.parameters())
    trained.eval()


def test_attacking_one_modules_input_leaves_the_others_clean(synthetic):
    system = build_system(synthetic, SystemConfig(strategy="cross_stitch", widths=(16,)))
    x, y = synthetic.test.x[:40], {k: v[:40] for k, v in synthetic.test.y.items()}
    x_adv = perturb(system, x, y, Attack("fgsm", eps=0.3, modules=(1, 3)))
    changed = (x_adv - x).abs().amax(dim=(0, 2))
    assert changed[1] == pytest.approx(0.3) and changed[3] == pytest.approx(0.3)
    assert changed[0] == 0 and changed[2] == 0
    assert input_range(synthetic) is None
    with pytest.raises(ValueError, match=r"modules \[4\] do not exist"):
        perturb(system, x, y, Attack("fgsm", eps=0.1, modules=(4,)))


def test_adversarial_training_mixes_the_batch_and_is_recorded(digits):
    def run(adversarial):
        system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16,)))
        return train(system, digits, TrainConfig(epochs=1), adversarial=adversarial, progress=False)
    plain = run(None)
    assert run(AdversarialTraining(Attack("fgsm", eps=0.1), ratio=0.0)).step_loss == plain.step_loss
    mixed = run(AdversarialTraining(Attack("fgsm", eps=0.1, clamp=(0, 1)), ratio=0.5))
    assert mixed.step_loss != plain.step_loss and mixed.step_loss[0] > plain.step_loss[0]
    assert mixed.config["adversarial"] == {"attack": Attack("fgsm", eps=0.1, clamp=(0, 1)).to_dict(), "ratio": 0.5}

    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16,)))
    x, y = digits.train.x[:10], {k: v[:10] for k, v in digits.train.y.items()}
    out = AdversarialTraining(Attack("fgsm", eps=0.1), ratio=0.3).mix(system, x, y)
    assert not torch.equal(out[:3], x[:3]) and torch.equal(out[3:], x[3:])


def test_compare_robustness_gives_one_row_per_strategy(digits):
    rows = compare_robustness(digits, ["independent", "cross_stitch"], Attack("fgsm", eps=0.1, clamp=(0, 1)),
                              SystemConfig(widths=(16,)), TrainConfig(epochs=2), seeds=[0, 1])
    assert [r["strategy"] for r in rows] == ["independent", "cross_stitch"]
    for r in rows:
        assert r["robust_mean"] <= r["clean_mean"] and r["drop"] == pytest.approx(r["clean_mean"] - r["robust_mean"])
        assert {"clean_digit", "robust_digit", "robust_loops", "robust_mean_sd"} <= set(r) and r["seeds"] == 2


def test_bad_attack_input_is_refused(digits):
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        Attack("fgsm", eps=-0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        Attack("pgd", steps=0)
    with pytest.raises(ValueError, match="unknown attack 'cw'"):
        Attack("cw")
    with pytest.raises(ValueError, match="clamp"):
        Attack(clamp=(1, 0))
    with pytest.raises(ValueError, match="ratio"):
        AdversarialTraining(Attack(), ratio=1.5)
    system = build_system(digits, SystemConfig(widths=(8,)))
    with pytest.raises(ValueError, match="share one input"):
        perturb(system, digits.test.x[:4], {k: v[:4] for k, v in digits.test.y.items()}, Attack(modules=(0,)))
    with pytest.raises(ValueError, match="unknown strategies"):
        compare_robustness(digits, ["magic"], Attack(), SystemConfig(), TrainConfig(epochs=1))
    assert Attack("pgd", eps=0.1, steps=4).alpha == pytest.approx(0.0625)
    assert Attack("fgsm", eps=0.1).alpha == 0.1 and Attack("fgsm", eps=0.1).num_steps == 1


def test_cli_adversarial_training_reports_robust_metrics(capsys):
    from lab.cli import main
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "1", "--compare", "--strategies",
                 "independent,cross_stitch", "--adversarial", "pgd", "--attack-steps", "2", "--eps", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "adversarial training pgd(eps=0.05, steps=2) ratio 0.5" in out
    assert "test metric under attack pgd(eps=0.05, steps=2) (inputs clamped to [0.0, 1.0])" in out
    robust = out.split("under attack")[1]
    assert "robust_mean" in robust and "\nindependent " in robust and "\ncross_stitch " in robust


def test_cli_attack_on_one_module_of_synthetic_data_and_bad_attacks(capsys):
    from lab.cli import main
    assert main(["couple", "--data", "synthetic", "--limit", "200", "--widths", "8", "--epochs", "1",
                 "--attack", "fgsm", "--attack-modules", "0", "--eps", "0.5"]) == 0
    assert "fgsm(eps=0.5, modules=[0])" in capsys.readouterr().out
    assert main(["couple", "--attack", "fgsm", "--eps", "-1"]) == 2
    assert "eps must be a finite number >= 0" in capsys.readouterr().err
    assert main(["couple", "--attack", "pgd", "--attack-steps", "0"]) == 2
    assert "steps must be an integer >= 1" in capsys.readouterr().err
    assert main(["couple", "--attack", "fgsm", "--attack-modules", "1"]) == 2
    assert "needs per-module inputs" in capsys.readouterr().err


def test_compare_robustness_trains_once_for_several_attacks(digits):
    attacks = [Attack("fgsm", eps=0.0), Attack("fgsm", eps=0.2, clamp=(0, 1))]
    rows = compare_robustness(digits, ["cross_stitch"], attacks, SystemConfig(widths=(16,)), TrainConfig(epochs=2))
    assert [r["attack"] for r in rows] == ["fgsm(eps=0)", "fgsm(eps=0.2)"]
    assert rows[0]["robust_mean"] == rows[0]["clean_mean"] == rows[1]["clean_mean"]
    assert rows[1]["robust_mean"] < rows[1]["clean_mean"]


def test_robustness_and_weighting_benchmarks_run_on_a_tiny_setting(capsys):
    from bench import robustness, weighting
    assert robustness.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("robustness on digits") and out.count("independent") == 3 and "clean:" in out
    assert "pgd(eps=0.1, steps=2)" in out
    assert weighting.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("weightings on digits") and out.count("cross_stitch") == 3 and "± " in out
    assert robustness.main(["--limit", "100", "--attacks", "cw:0.1"]) == 2
    assert "unknown attack 'cw'" in capsys.readouterr().err
