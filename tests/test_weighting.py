import math

import pytest
import torch
from torch import nn

from lab.coupling import SystemConfig, build_system
from lab.train import FunctionCallback, TrainConfig, train
from lab.weighting import (DWA, WEIGHTINGS, GradNorm, PCGrad, Uncertainty, dwa_weights, gradnorm_parameters,
                           gradnorm_targets, make_weighting, project_conflicting)


def small(data, strategy="cross_stitch", **kw):
    return build_system(data, SystemConfig(strategy=strategy, widths=(16, 16), **kw))


def batch_losses(system, data, n=64):
    from lab.metrics import task_loss
    out = system(data.train.x[:n])
    return {t.name: task_loss(t, out[t.name], data.train.y[t.name][:n]) for t in system.tasks}


# --- uncertainty -----------------------------------------------------------------------------------
def test_uncertainty_loss_matches_the_formula_and_log_variances_get_gradients():
    w = Uncertainty()
    w.setup(("a", "b"), nn.Linear(1, 1))
    with torch.no_grad():
        w.log_vars.copy_(torch.tensor([0.5, -1.0]))
    La = torch.tensor(2.0, requires_grad=True)
    Lb = torch.tensor(0.3, requires_grad=True)
    loss = w.loss({"a": La, "b": Lb})
    expected = math.exp(-0.5) * 2.0 + 0.5 + math.exp(1.0) * 0.3 - 1.0
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    weights = w.backward({"a": La, "b": Lb}, None)
    assert weights == pytest.approx({"a": math.exp(-0.5), "b": math.exp(1.0)}, rel=1e-6)
    # d/ds_i [exp(-s_i) L_i + s_i] = 1 - exp(-s_i) L_i ; d/dL_i = exp(-s_i)
    torch.testing.assert_close(w.log_vars.grad, torch.tensor([1 - math.exp(-0.5) * 2.0, 1 - math.exp(1.0) * 0.3]))
    assert La.grad.item() == pytest.approx(math.exp(-0.5)) and Lb.grad.item() == pytest.approx(math.exp(1.0))


def test_uncertainty_learns_log_variances_during_training_and_records_exp_minus_s(digits):
    w = Uncertainty()
    used, after = [], []      # lambda used by each step; exp(-s) after each step's update

    def record(info):
        used.append(info.weights)
        after.append({t: math.exp(-float(s)) for t, s in zip(digits.task_names, w.log_vars.detach())})

    history = train(small(digits), digits, TrainConfig(epochs=2, lr=1e-2), weighting=w, progress=False,
                    callbacks=[FunctionCallback(on_step=record)])
    assert w.log_vars.grad is not None and not torch.equal(w.log_vars.detach(), torch.zeros(4))
    assert used[0] == {t: 1.0 for t in digits.task_names}
    for k in range(1, len(used)):
        assert used[k] == pytest.approx(after[k - 1], rel=1e-6)
    assert history.task_weights[-1] == used[-1] and abs(used[-1]["digit"] - 1.0) > 0.01


# --- PCGrad ----------------------------------------------------------------------------------------
def test_pcgrad_projection_on_a_hand_made_case():
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])          # g1 . g2 = -1: conflict
    out = project_conflicting(g)
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.5], [0.0, 1.0]]))
    assert out[0] @ g[1] == 0 and out[1] @ g[0] == 0


@pytest.mark.parametrize("seed", range(20))
def test_pcgrad_conflicting_pairs_end_non_negative_and_others_stay_unchanged(seed):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(2, 50, generator=gen, dtype=torch.float64)
    out = project_conflicting(g, torch.Generator().manual_seed(seed))
    if g[0] @ g[1] < 0:
        assert out[0] @ g[1] >= -1e-12 and out[1] @ g[0] >= -1e-12
        assert not torch.equal(out, g)
    else:
        assert torch.equal(out, g)


def test_pcgrad_leaves_mutually_agreeing_gradients_bit_identical():
    g = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.1, 3.0], [0.0, 1.0, 1.0]])   # all pairwise dots >= 0
    assert torch.equal(project_conflicting(g, torch.Generator().manual_seed(0)), g)


def test_pcgrad_backward_projects_shared_parameters_and_passes_heads_through(digits):
    system = small(digits, strategy="shared")      # one trunk: task gradients conflict there
    names = digits.task_names
    losses = batch_losses(system, digits)
    params = dict(system.named_parameters())
    per_task = {t: torch.autograd.grad(losses[t], list(params.values()), retain_graph=True, allow_unused=True)
                for t in names}
    w = PCGrad(seed=3)
    w.setup(names, system)
    assert w.backward(losses, system) == {t: 1.0 for t in names}
    assert sorted(w.last_shared) == sorted(n for n in params if n.startswith("stacks.0."))
    keys = list(params)
    shared_idx = [keys.index(n) for n in w.last_shared]
    flat = torch.stack([torch.cat([per_task[t][k].reshape(-1) for k in shared_idx]) for t in names])
    dots = flat @ flat.T
    assert (dots < 0).any(), "this batch should have conflicting task gradients"
    expected = project_conflicting(flat, torch.Generator().manual_seed(3)).sum(0)
    got = torch.cat([params[n].grad.reshape(-1) for n in w.last_shared])
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, flat.sum(0))                      # surgery changed the update
    head_w = "heads.0.loops.1.weight"
    torch.testing.assert_close(params[head_w].grad, per_task["loops"][keys.index(head_w)])


def test_pcgrad_finds_what_tasks_share_in_a_cross_stitch_system(digits):
    system = small(digits)
    w = PCGrad()
    w.setup(digits.task_names, system)
    w.backward(batch_losses(system, digits), system)
    names = [n for n, _ in system.named_parameters()]
    assert sorted(w.last_shared) == sorted(n for n in names if not n.startswith("heads."))
    assert "coupling.W.0" in w.last_shared and "stacks.3.1.1.weight" in w.last_shared


def test_pcgrad_on_independent_modules_is_the_plain_sum(digits):
    system = small(digits, strategy="independent")
    losses = batch_losses(system, digits)
    w = PCGrad()
    w.setup(digits.task_names, system)
    w.backward(losses, system)
    assert w.last_shared == []
    got = [p.grad.clone() for p in system.parameters()]
    system.zero_grad()
    sum(batch_losses(system, digits).values()).backward()
    for a, p in zip(got, system.parameters()):
        torch.testing.assert_close(a, p.grad)


# --- GradNorm --------------------------------------------------------------------------------------
def test_gradnorm_targets_follow_the_relative_training_rate():
    G = torch.tensor([1.0, 3.0])
    ratios = torch.tensor([0.5, 1.5])                    # task 1 trains slower (loss fell less)
    target = gradnorm_targets(G, ratios, alpha=1.0)
    torch.testing.assert_close(target, torch.tensor([2.0 * 0.5, 2.0 * 1.5]))
    torch.testing.assert_close(gradnorm_targets(G, ratios, alpha=0.0), torch.tensor([2.0, 2.0]))


@pytest.mark.parametrize("strategy", ["cross_stitch", "shared"])
def test_gradnorm_weights_stay_positive_sum_to_task_count_and_move(digits, strategy):
    seen = []
    history = train(small(digits, strategy=strategy), digits, TrainConfig(epochs=2, batch_size=32),
                    weighting=GradNorm(alpha=1.5, lr=0.05), progress=False,
                    callbacks=[FunctionCallback(on_step=lambda info: seen.append(info.weights))])
    assert len(seen) == 2 * math.ceil(len(digits.train) / 32)
    for weights in seen + history.task_weights:
        assert all(v > 0 for v in weights.values())
        assert sum(weights.values()) == pytest.approx(4.0, rel=1e-5)
    assert max(abs(v - 1.0) for v in seen[-1].values()) > 0.05


def test_gradnorm_uses_the_documented_shared_parameters(digits):
    cs = small(digits)
    assert [id(p) for p in gradnorm_parameters(cs)] == [id(p) for p in cs.coupling.W]
    sh = small(digits, strategy="shared")
    assert [id(p) for p in gradnorm_parameters(sh)] == [id(p) for p in sh.stacks[0][-1].parameters()]
    with pytest.raises(ValueError, match="'independent' strategy shares none"):
        GradNorm().setup(digits.task_names, small(digits, strategy="independent"))


# --- DWA -------------------------------------------------------------------------------------------
def test_dwa_matches_the_formula_on_a_fixed_loss_history():
    history = [[1.0, 2.0, 4.0], [0.5, 1.8, 4.0]]
    T = 2.0
    w = [0.5, 0.9, 1.0]
    z = sum(math.exp(v / T) for v in w)
    expected = [3 * math.exp(v / T) / z for v in w]
    assert dwa_weights(history, T) == pytest.approx(expected, rel=1e-12)
    assert dwa_weights(history[:1], T) == [1.0, 1.0, 1.0]
    assert sum(dwa_weights(history, 0.1)) == pytest.approx(3.0)
    assert dwa_weights([[1.0, 1.0], [1.0, 0.2]], 0.5)[0] > 1.0           # the slower task gets more weight


def test_dwa_in_training_uses_the_previous_two_epochs(digits):
    history = train(small(digits), digits, TrainConfig(epochs=4), weighting=DWA(temperature=1.5), progress=False)
    assert history.task_weights[0] == {t: 1.0 for t in digits.task_names}
    assert history.task_weights[1] == {t: 1.0 for t in digits.task_names}
    for e in (2, 3):
        losses = [[history.train_loss[t][k] for t in digits.task_names] for k in range(e)]
        expected = dict(zip(digits.task_names, dwa_weights(losses, 1.5)))
        assert history.task_weights[e] == pytest.approx(expected, rel=1e-9)
        assert all(v > 0 for v in expected.values()) and sum(expected.values()) == pytest.approx(4.0)


# --- every strategy through train ----------------------------------------------------------------
@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_every_weighting_trains_and_records_lambdas_per_epoch(digits, name):
    history = train(small(digits), digits, TrainConfig(epochs=2), weighting=make_weighting(name), progress=False)
    assert history.config["weighting"] == name
    assert len(history.task_weights) == 2
    assert all(set(w) == set(digits.task_names) and all(v > 0 for v in w.values()) for w in history.task_weights)
    assert all(math.isfinite(v) for v in history.step_loss)


def test_bad_weighting_input_is_refused(digits):
    with pytest.raises(ValueError, match="unknown weighting 'magic'"):
        make_weighting("magic")
    with pytest.raises(ValueError, match="bad options"):
        make_weighting("dwa", alpha=1.0)
    with pytest.raises(ValueError, match="temperature"):
        make_weighting("dwa", temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        make_weighting("gradnorm", alpha=-1)
    system = small(digits)
    with pytest.raises(ValueError, match="got 2 task weights for 4 tasks"):
        make_weighting("fixed", weights=(1, 2)).setup(digits.task_names, system)
    with pytest.raises(ValueError, match=">= 0"):
        make_weighting("pcgrad", weights=(1, -2, 1, 1)).setup(digits.task_names, system)
    from lab.compare import weighting_for
    with pytest.raises(ValueError, match="only apply to the fixed and pcgrad"):
        weighting_for("uncertainty", TrainConfig(task_weights=(1, 1, 1, 1)))


# --- command line ----------------------------------------------------------------------------------
def test_cli_sweeps_weightings_for_every_compared_strategy(capsys):
    from lab.cli import main
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "1", "--compare", "--strategies",
                 "shared,cross_stitch", "--weightings", "equal,gradnorm,dwa", "--alpha", "0.5"]) == 0
    out = capsys.readouterr().out
    table, lambdas = out.split("final task weights")
    for strategy in ("shared", "cross_stitch"):
        for name in ("equal", "gradnorm", "dwa"):
            assert f"{strategy}  " in table and f"  {name}  " in table
    assert len([line for line in table.splitlines() if line.startswith(("shared ", "cross_stitch "))]) == 6
    assert "gradnorm" in lambdas and "parity" in lambdas


def test_cli_single_weighting_and_its_errors(capsys):
    from lab.cli import main
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "1", "--weighting", "uncertainty"]) == 0
    assert "uncertainty" in capsys.readouterr().out
    assert main(["couple", "--weightings", "equal,magic"]) == 2
    assert "unknown weightings ['magic']" in capsys.readouterr().err
    assert main(["couple", "--limit", "200", "--weighting", "dwa", "--task-weights", "1,1,1,1"]) == 2
    assert "only apply to the fixed and pcgrad" in capsys.readouterr().err
    assert main(["couple", "--limit", "200", "--weighting", "fixed", "--task-weights", "1,1"]) == 2
    assert "2 task weights for 4 tasks" in capsys.readouterr().err
