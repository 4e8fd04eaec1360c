"""Core result tables and robust-metric curves (what the panels show, callable without widgets)."""
import pytest
import torch

from lab.adversarial import Attack, input_range, robust_accuracy
from lab.compare import compare_strategies
from lab.coupling import SystemConfig
from lab.history import History
from lab.result_tables import robustness_rows, strategy_rows, transfer_rows
from lab.robust_curves import AttackSettings, RobustCurves, eps_grid, eps_key
from lab.train import TrainConfig
from lab.transfer import TransferResult


@pytest.fixture(scope="module")
def results(synthetic):
    return compare_strategies(synthetic, SystemConfig(widths=(8,)), TrainConfig(epochs=1),
                              ["independent", "cross_stitch"])


def test_strategy_rows_line_up_the_results(results, synthetic):
    rows = strategy_rows(results, 3, ["yours", "baseline"])
    assert [list(r) for r in rows] == [["run", "strategy", "epochs", *synthetic.task_names, "mean", "W_auc",
                                        "params", "train_s"]] * 2
    for row, r, role in zip(rows, results, ["yours", "baseline"]):
        assert (row["run"], row["strategy"], row["epochs"]) == (role, r.strategy, "1/3")
        assert row["mean"] == pytest.approx(sum(r.test_metric.values()) / 4)
        assert row["W_auc"] == r.recovery["auc"] and row["params"] == r.system.num_parameters()
    results[0].history.extra["robust_metric"] = {"metric": {"task0": 0.5, "task1": 0.25}}
    try:
        assert strategy_rows(results, 1)[0]["robust"] == 0.375 and "run" not in strategy_rows(results, 1)[0]
    finally:
        del results[0].history.extra["robust_metric"]
    with pytest.raises(ValueError, match="1 roles for 2 results"):
        strategy_rows(results, 1, ["yours"])


def test_robustness_and_transfer_rows_on_hand_made_numbers():
    done, stopped = History(task_names=["a", "b"], epochs=[1, 2]), History(task_names=["a", "b"], epochs=[1])
    stopped.stopped = True
    rows = robustness_rows({"x": {"a": 1.0, "b": 0.5}, "y": {"a": 0.5, "b": 0.5}},
                           {"x": {"a": 0.5, "b": 0.25}, "y": {"a": 0.5, "b": 0.0}}, {"x": done, "y": stopped}, 2)
    assert rows == [{"strategy": "x", "epochs": "2/2", "clean": 0.75, "robust": 0.375, "drop": 0.375, "a": 0.5,
                     "b": 0.25},
                    {"strategy": "y", "epochs": "1/2 (stopped)", "clean": 0.5, "robust": 0.25, "drop": 0.25,
                     "a": 0.5, "b": 0.0}]
    result = TransferResult("coupling", None, done, 4, 10,
                            before={"target": {"a": 0.5, "b": 0.25}, "source": {"a": 1.0, "b": 1.0}},
                            after={"target": {"a": 0.75, "b": 0.75}, "source": {"a": 1.0, "b": 0.5}})
    rows = transfer_rows(result)
    assert rows[0] == {"task": "a", "source before": 1.0, "source after": 1.0, "target before": 0.5,
                       "target after": 0.75, "target change": 0.25}
    assert rows[-1] == {"task": "mean", "source before": 1.0, "source after": 0.75, "target before": 0.375,
                        "target after": 0.75, "target change": 0.375}


def test_robust_curves_measure_once_per_setting_and_radius(results, synthetic):
    system = results[1].system
    curves = RobustCurves()
    with pytest.raises(ValueError, match="reset"):
        curves.measure("cross_stitch", system, [0.1], AttackSettings.of("fgsm", 10))
    curves.reset(synthetic.test, input_range(synthetic), seed=0)
    fgsm = AttackSettings.of("fgsm", 10, (0,))
    assert fgsm == AttackSettings("fgsm", 1, (0,)) and fgsm.name == "FGSM (modules [0])"
    assert AttackSettings.of("pgd", 3).name == "PGD (3 steps)"
    curve = curves.measure("cross_stitch", system, eps_grid(0.5, 3), fgsm)
    assert list(curve) == [0.0, 0.25, 0.5] and curves.evaluations == 3
    assert curve[0.25] == robust_accuracy(system, synthetic.test, Attack("fgsm", eps=0.25, modules=(0,)), seed=0)
    assert curves.measure("cross_stitch", system, [0.25000000001, 0.5], fgsm) == curve   # cached: no new work
    assert curves.evaluations == 3 and eps_key(0.25000000001) == 0.25
    assert curves.curves(fgsm) == {"cross_stitch": curve} and curves.curves(fgsm, ["other"]) == {}
    assert curves.curves(AttackSettings.of("pgd", 3)) == {}
    curves.reset(synthetic.test)
    assert curves.curves(fgsm) == {} and curves.evaluations == 3
    torch.testing.assert_close(torch.tensor(list(curve[0.0].values())),
                               torch.tensor(list(results[1].test_metric.values())))
