"""Sparse coupling while training, per-module budgets at equal bytes, and the multi-head student."""
import tempfile

import numpy as np
import pytest
import torch

from lab.compress import FitConfig, RecipeOptions, run_recipe
from lab.compress.budgets import (BudgetConfig, ModuleBudget, allocate, apply_budgets, budget_compress, budgets_for,
                                  module_weights, uniform_at_bytes)
from lab.compress.distill_system import MultiHeadStudent, SystemDistillConfig, distill_system
from lab.coupling import SystemConfig, build_system
from lab.coupling.sparsity import coupling_penalty
from lab.cost import FAST_MEASURE, packed_size
from lab.deploy import assert_parity, export_onnx
from lab.train import TrainConfig, train
from w_helpers import redundant_data, trained_system


def _off_diagonal(system) -> float:
    return float(sum(W[~torch.eye(W.shape[0], dtype=torch.bool)].abs().sum() for W in system.coupling_matrices()))


def test_an_l1_penalty_on_w_makes_the_coupling_sparser_and_is_recorded():
    data = redundant_data()
    runs = {}
    for strength in (0.0, 0.02):
        system = build_system(data, SystemConfig(widths=(16, 16), seed=0))
        history = train(system, data, TrainConfig(epochs=4, lr=3e-3, seed=0, sparse_coupling=strength),
                        progress=False)
        runs[strength] = (system, history)
    plain, sparse = runs[0.0][0], runs[0.02][0]
    assert _off_diagonal(sparse) < 0.5 * _off_diagonal(plain)
    history = runs[0.02][1]
    assert history.config["train"]["sparse_coupling"] == 0.02 and history.config["train"]["sparse_coupling_kind"] == "l1"
    assert len(history.extra["coupling_penalty"]) == 4
    assert history.extra["coupling_penalty"][-1] == pytest.approx(float(coupling_penalty(sparse, "l1").detach()), rel=1e-5)
    assert "coupling_penalty" not in runs[0.0][1].extra


def test_the_penalty_is_the_sum_of_the_off_diagonal_and_refuses_couplings_without_edges():
    system = build_system(redundant_data(), SystemConfig(widths=(8, 8), per_channel=True))
    W = [w.detach() for w in system.coupling.W]                       # (4, 4, 8) per stage
    off = ~torch.eye(4, dtype=torch.bool)
    assert float(coupling_penalty(system, "l1").detach()) == pytest.approx(sum(float(w[off].abs().sum()) for w in W))
    assert float(coupling_penalty(system, "group").detach()) == pytest.approx(sum(float(w[off].norm(dim=-1).sum()) for w in W))
    independent = build_system(redundant_data(), SystemConfig(strategy="independent", widths=(8,)))
    with pytest.raises(ValueError, match="needs a learned cross-stitch W; this model's coupling is 'independent'"):
        train(independent, redundant_data(), TrainConfig(epochs=1, sparse_coupling=0.1), progress=False)
    for bad in (dict(sparse_coupling=-1.0), dict(sparse_coupling=float("nan")), dict(sparse_coupling_kind="l2")):
        with pytest.raises(ValueError, match="coupling penalty"):
            TrainConfig(**bad)


def test_allocation_keeps_the_mean_sparsity_and_follows_importance():
    sizes = {0: 100, 1: 100, 2: 100, 3: 100}
    budgets = allocate({0: 0.4, 1: 0.3, 2: 0.2, 3: 0.1}, sizes, 0.8, bits=4)
    assert sum(100 * (1 - b.sparsity) for b in budgets.values()) == pytest.approx(80)
    assert budgets[0].sparsity < budgets[1].sparsity < budgets[2].sparsity < budgets[3].sparsity
    assert [budgets[m].bits for m in range(4)] == [5, 4, 4, 3]
    flat = allocate({m: 0.25 for m in range(4)}, sizes, 0.8, bits=4)
    assert all(b.sparsity == pytest.approx(0.8) and b.bits == 4 for b in flat.values())


def test_budgets_w_uniform_and_random_allocations():
    system, data = trained_system(), redundant_data()
    w = budgets_for(system, BudgetConfig(0.8, 4, "w"), data)
    uniform = budgets_for(system, BudgetConfig(0.8, 4, "uniform"), data)
    random = budgets_for(system, BudgetConfig(0.8, 4, "random", seed=3), data)
    assert [b.sparsity for b in uniform.values()] == [pytest.approx(0.8)] * 4
    assert min(w, key=lambda m: 1 - w[m].sparsity) == 3                # the redundant module gets the least
    assert sorted(random.values(), key=str) == sorted(w.values(), key=str)   # the same budgets, dealt at random
    model, report = budget_compress(system, BudgetConfig(0.8, 4, "w", finetune=FitConfig(epochs=1)), data=data,
                                    measure_config=FAST_MEASURE)
    for m, ws in module_weights(model).items():
        zeros = sum(int((p == 0).sum()) for p in ws.values()) / sum(p.numel() for p in ws.values())
        assert zeros == pytest.approx(w[m].sparsity, abs=0.01)
        assert all(len(torch.unique(p[0])) <= 2 ** w[m].bits for p in ws.values())
    assert report.extra["budgets"]["3"] == {"sparsity": w[3].sparsity, "bits": w[3].bits}


def test_the_uniform_baseline_at_equal_bytes_really_has_the_same_bytes():
    system, data = trained_system(), redundant_data()
    guided = apply_budgets(system, budgets_for(system, BudgetConfig(0.85, 4, "w"), data))
    with tempfile.TemporaryDirectory() as tmp:
        target = packed_size(guided, tmp)
        s = uniform_at_bytes(system, target, bits=4)
        uniform = apply_budgets(system, {m: ModuleBudget(s, 4) for m in module_weights(system)})
        got = packed_size(uniform, tmp)
    assert got <= target and (target - got) / target < 0.02
    assert 0.7 < s < 0.95


def test_the_multi_head_student_learns_every_task_and_exports_one_output_each(tmp_path):
    system, data = trained_system(), redundant_data()
    cfg = SystemDistillConfig(hidden=(32,), train=FitConfig(epochs=6, lr=3e-3))
    student, report = distill_system(system, cfg, data=data, measure_config=FAST_MEASURE)
    assert isinstance(student, MultiHeadStudent) and set(report.metrics) == set(data.task_names)
    assert all(v > 0.45 for v in report.metrics.values())              # 3 balanced classes: chance is 1/3
    assert report.params < sum(p.numel() for p in system.parameters())
    assert set(report.extra["teacher_metrics"]) == set(data.task_names)
    result = export_onnx(student, tmp_path / "student.onnx")
    assert result.output_names == data.task_names
    assert max(assert_parity(student, result.path, data.test.x).values()) <= 1e-5
    with pytest.raises(ValueError, match="hidden widths must be positive integers"):
        SystemDistillConfig(hidden=(0,))


def test_w_steps_in_a_recipe_and_their_errors():
    system, data = trained_system(), redundant_data()
    options = RecipeOptions(finetune=FitConfig(epochs=0), measure=FAST_MEASURE)
    result = run_recipe(system, "budget:0.7:bits=6:uniform,student:16:epochs=1", data, options, keep_models=True)
    assert [r.step for r in result.reports] == ["fp32", "budget:0.7:bits=6:uniform", "student:16:epochs=1"]
    weights = [p for ws in module_weights(result.models[1]).values() for p in ws.values()]
    assert np.isclose(sum(int((p == 0).sum()) for p in weights) / sum(p.numel() for p in weights), 0.7, atol=0.01)
    assert isinstance(result.model, MultiHeadStudent)
    for recipe, message in [("budget", "needs a value \\(the mean sparsity"),
                            ("budget:0.7:bits=1", "bits must be an integer"),
                            ("budget:0.7:uniform:random", "choose at most one of"),
                            ("student", "needs a value \\(the student's hidden"),
                            ("student:6xa", "hidden widths look like"), ("modules:1.5", "must be an integer")]:
        with pytest.raises(ValueError, match=message):
            run_recipe(system, recipe, data, options)
    with pytest.raises(ValueError, match="step 'budget' trains, so the recipe needs data"):
        run_recipe(system, "budget:0.5", None, options)
