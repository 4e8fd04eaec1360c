"""The conflicting task set (lab.data.conflict), the trunk-gradient conflict measure and the tuned fixed weighting."""
import math

import pytest
import torch

from lab.benchmarks.arena_sets import (ARENA_SETS, conflict_at_init, fit_heads, load_arena_set, mean_pairwise,
                                       trunk_gradient_cosines)
from lab.benchmarks.arena_tune import tune_fixed_weights, weight_params
from lab.benchmarks.delta_m import delta_m
from lab.coupling import SystemConfig
from lab.coupling.system import build_system
from lab.data.conflict import conflict_directions, load_conflict
from lab.metrics import task_loss
from lab.train import TrainConfig


def test_conflict_directions_pair_tasks_on_one_shared_and_one_opposed_private_feature():
    u = conflict_directions(4, 3, 45.0, seed=3)
    G = u @ u.T                                               # unit rows; a pair orthogonal at 45 degrees,
    torch.testing.assert_close(G.diagonal(), torch.ones(4))   # other tasks share only cos^2(45) = 0.5
    assert float(G[0, 1]) == pytest.approx(0.0, abs=1e-6) and float(G[2, 3]) == pytest.approx(0.0, abs=1e-6)
    assert float(G[0, 2]) == pytest.approx(0.5, abs=1e-6) and float(G[1, 3]) == pytest.approx(0.5, abs=1e-6)
    same = conflict_directions(4, 3, 0.0, seed=3)
    torch.testing.assert_close(same, same[:1].expand(4, 3))
    opposed = conflict_directions(2, 3, 90.0, seed=3)
    torch.testing.assert_close(opposed[1], -opposed[0])
    assert conflict_directions(5, 4, 45.0).shape == (5, 4)    # an odd last task has a private feature alone


def test_load_conflict_is_seeded_and_scales_each_loss_as_configured():
    data = load_conflict(num_samples=600, scales=(10.0, 1.0, 0.1, 1.0), seed=4)
    again = load_conflict(num_samples=600, scales=(10.0, 1.0, 0.1, 1.0), seed=4)
    assert torch.equal(data.train.x, again.train.x) and torch.equal(data.test.y["task2"], again.test.y["task2"])
    assert not torch.equal(data.train.x, load_conflict(num_samples=600, seed=5).train.x)
    std = {t: float(data.train.y[t].std()) for t in data.task_names}
    assert std == pytest.approx({"task0": 10.0, "task1": 1.0, "task2": 0.1, "task3": 1.0}, rel=1e-4)
    system = build_system(data, SystemConfig(strategy="shared", widths=(16,), seed=0))
    with torch.no_grad():                          # at initialisation the outputs are small next to targets of
        out = system(data.train.x)                 # std >= 1, so those losses are about their targets' variance
        loss = {t.name: float(task_loss(t, out[t.name], data.train.y[t.name])) for t in data.tasks}
    assert 50 < loss["task0"] / loss["task1"] < 200                # configured ratio 10^2 = 100
    assert loss["task2"] < loss["task1"] < loss["task0"]
    assert data.info["scales"] == [10.0, 1.0, 0.1, 1.0] and data.input_shape == (3,) and not data.per_module_inputs
    wide = load_conflict(num_samples=600, input_dim=8, shared_std=3.0, seed=4)
    u = torch.tensor(wide.info["directions"])
    assert float((wide.train.x @ u[0]).std()) > 1.5 * float((load_conflict(num_samples=600, input_dim=8,
                                                                            seed=4).train.x @ u[0]).std())


@pytest.mark.parametrize("kwargs, match", [
    ({"num_tasks": 1}, "num_tasks must be an integer from 2 to 8"),
    ({"num_tasks": 3}, "scales: give one factor per task \\(3\\)"),
    ({"angle": 120.0}, "angle"),
    ({"input_dim": 2}, "input_dim=2 is too small for 4 tasks: they need 3 directions"),
    ({"shared_std": 0.5}, "shared_std"),
    ({"scales": (1.0, 1.0, 1.0, float("nan"))}, "scales must hold finite numbers"),
    ({"scales": (1.0, 1.0, 1.0, 0.0)}, "scales must hold finite numbers"),
    ({"noise": -1.0}, "noise"),
    ({"num_samples": 10}, "num_samples"),
])
def test_load_conflict_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_conflict(**kwargs)


def _pair_cosines(angle: float, seed: int) -> tuple[float, float]:
    """(mean over all task pairs, mean over the two opposed pairs) at initialisation, heads fitted."""
    data = load_conflict(num_samples=1000, angle=angle, scales=None)
    C = conflict_at_init(data, SystemConfig(strategy="shared", widths=(2,), seed=seed), steps=150)
    return mean_pairwise(C), float(C[0, 1] + C[2, 3]) / 2


def test_opposed_tasks_pull_a_shared_trunk_apart_at_initialisation():
    """A 2-unit trunk at initialisation, each head fitted to it: the two tasks of a pair (45 degrees: one
    shared feature, one private feature with opposite signs) pull the trunk in opposing directions
    (negative cosine) for every seed; at angle 0 (one function for every task) they pull together."""
    conflicting = [_pair_cosines(45.0, seed) for seed in (0, 1, 2)]
    assert all(pair < 0 for _, pair in conflicting), conflicting
    assert sum(mean for mean, _ in conflicting) / 3 < -0.05, conflicting
    assert all(mean > 0.95 for mean, _ in (_pair_cosines(0.0, seed) for seed in (0, 1)))


def test_fit_heads_moves_only_the_heads_of_a_copy():
    data = load_conflict(num_samples=200, scales=None)
    system = build_system(data, SystemConfig(strategy="shared", widths=(4,), seed=0))
    state = {k: v.clone() for k, v in system.state_dict().items()}
    fitted = fit_heads(system, data.train, steps=20)
    assert all(torch.equal(v, system.state_dict()[k]) for k, v in state.items())           # caller's untouched
    moved = {k for k, v in fitted.state_dict().items() if not torch.equal(v, state[k])}
    assert moved and all(k.startswith("heads.") for k in moved)


def test_trunk_gradient_cosines_on_a_hand_made_system_and_without_sharing():
    data = load_conflict(num_samples=200, scales=None)
    system = build_system(data, SystemConfig(strategy="shared", widths=(8,), seed=0))
    before = [p.grad for p in system.parameters()]
    C = trunk_gradient_cosines(system, data.train)
    assert C.shape == (4, 4) and torch.allclose(C.diagonal(), torch.ones(4, dtype=C.dtype))
    assert conflict_at_init(data, SystemConfig(strategy="independent", widths=(4,)), steps=2) is None
    assert torch.allclose(C, C.T) and before == [p.grad for p in system.parameters()]   # .grad untouched
    independent = build_system(data, SystemConfig(strategy="independent", widths=(8,), seed=0))
    assert trunk_gradient_cosines(independent, data.train) is None and math.isnan(mean_pairwise(None))
    assert mean_pairwise(torch.tensor([[1.0, -0.5], [-0.5, 1.0]])) == -0.5


def test_arena_sets_load_what_they_describe():
    assert set(ARENA_SETS) == {"digits", "conflict"}
    assert load_arena_set("conflict", 100).name == "conflict" and len(load_arena_set("digits", 100).train) == 60
    with pytest.raises(ValueError, match="unknown arena set 'nope'"):
        load_arena_set("nope")


def test_tuned_fixed_weights_search_on_a_tiny_case():
    data = load_conflict(num_samples=200, scales=(10.0, 1.0, 1.0, 1.0))
    config, fit = SystemConfig(strategy="shared", widths=(8,)), TrainConfig(epochs=2)
    baseline = {t: 0.5 for t in data.task_names}
    weights, records = tune_fixed_weights(data, config, fit, candidates=5, seed=1, baseline_val=baseline)
    assert len(records) == 5 and records[0]["weights"] == (1.0,) * 4              # equal weights first
    assert all(0.1 <= w <= 10 for r in records for w in r["weights"])
    assert len({r["weights"] for r in records}) == 5                              # five different candidates
    best = max(records, key=lambda r: r["score"])
    assert weights == best["weights"] and best["score"] >= records[0]["score"]
    assert all(r["score"] == pytest.approx(delta_m(r["val"], baseline)) for r in records)
    again, records_again = tune_fixed_weights(data, config, fit, candidates=5, seed=1, baseline_val=baseline)
    assert again == weights and [r["score"] for r in records_again] == [r["score"] for r in records]
    _, plain = tune_fixed_weights(data, config, fit, candidates=1)                # no baseline: mean metric
    assert plain[0]["score"] == pytest.approx(sum(plain[0]["val"].values()) / 4)
    assert [p.name for p in weight_params(("a", "b"))] == ["weight.a", "weight.b"]
    with pytest.raises(ValueError, match="tune candidates"):
        tune_fixed_weights(data, config, fit, candidates=0)
