import pytest
import torch

from compress_helpers import QUICK, digits1
from lab.compress import DistillConfig, EnsembleConfig, FitConfig, distill, ensemble, kd_loss
from lab.coupling import SystemConfig, build_system
from lab.cost import count_flops
from lab.models import build_model
from lab.train import TrainConfig, train


def test_kd_loss_is_zero_kl_when_student_equals_teacher_and_mixes_with_alpha():
    logits = torch.randn(8, 10, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (8,))
    same = kd_loss(logits, logits, y, temperature=4.0, alpha=0.5)
    assert same["kd"].abs() < 1e-6
    other = kd_loss(torch.zeros(8, 10), logits, y, temperature=2.0, alpha=0.3)
    torch.testing.assert_close(other["loss"], 0.3 * other["kd"] + 0.7 * other["ce"])


def test_distillation_from_a_coupled_system_lowers_the_students_kl(digits):
    teacher = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(32, 32)))
    train(teacher, digits, TrainConfig(epochs=8, lr=3e-3), progress=False)
    student = build_model("mlp", digits.input_shape, 10, hidden=(16,))
    cfg = DistillConfig(temperature=4.0, alpha=0.9, task="digit", train=FitConfig(epochs=10, lr=3e-3))
    trained_student, report = distill(student, cfg, teacher=teacher, data=digits, measure_config=QUICK)
    assert report.extra["kl_after"] < 0.5 * report.extra["kl_before"]
    assert set(report.metrics) == {"digit"} and report.params < teacher.num_parameters() / 2
    # matching the teacher beats training the same student on the labels alone, as measured by KL
    alone = distill(student, DistillConfig(alpha=0.0, task="digit", train=cfg.train), teacher=teacher,
                    data=digits, measure_config=QUICK)[1]
    assert report.extra["kl_after"] < alone.extra["kl_after"]


def test_distillation_refuses_bad_settings(digits):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        DistillConfig(temperature=0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        DistillConfig(alpha=1.5)
    with pytest.raises(ValueError, match="unknown task 'colour'"):
        distill(build_model("mlp"), DistillConfig(task="colour"), teacher=build_model("mlp"), data=digits)


def test_an_ensemble_counts_the_cost_of_every_member():
    data = digits1()
    small = build_model("mlp", hidden=(16,))
    model, report = ensemble(small, EnsembleConfig(3, FitConfig(epochs=3, lr=3e-3)), data=data, measure_config=QUICK)
    one = sum(p.numel() for p in small.parameters())
    assert report.params == 3 * one
    assert report.flops == 3 * count_flops(small, torch.zeros(1, 1, 8, 8))[0]
    members = [m(data.test.x) for m in model.members]
    torch.testing.assert_close(model(data.test.x), torch.stack(members).mean(0))
    assert not torch.equal(members[0], members[1])
    with pytest.raises(ValueError, match="members >= 2"):
        EnsembleConfig(1)
