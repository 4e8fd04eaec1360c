import pytest
import torch

from lab.coupling import COUPLINGS, CoupledSystem, SystemConfig, build_system
from lab.data import Task


def make(data, strategy, **kw):
    return build_system(data, SystemConfig(strategy=strategy, widths=kw.pop("widths", (16, 16)), **kw)).eval()


@pytest.mark.parametrize("strategy", list(COUPLINGS))
@pytest.mark.parametrize("block", ["mlp", "cnn"])
def test_every_strategy_runs_and_reports_W(digits, strategy, block):
    system = make(digits, strategy, block=block)
    out = system(digits.train.x[:7])
    assert set(out) == set(digits.task_names)
    assert out["digit"].shape == (7, 10) and out["loops"].shape == (7, 3)
    mats = system.coupling_matrices()
    assert len(mats) == 2 and all(W.shape == (4, 4) for W in mats)


def test_pipeline_equals_sequential_composition(digits):
    system = make(digits, "pipeline")
    x = digits.train.x[:5]
    h, expected = x, {}
    for i, task in enumerate(digits.task_names):
        for stage in system.stacks[i]:
            h = stage(h)
        expected[task] = system.heads[i][task](h)
    out = system(x)
    for task in digits.task_names:
        torch.testing.assert_close(out[task], expected[task])
    shift = system.coupling_matrices()[-1]
    assert shift[1, 0] == 1 and shift[0].sum() == 0 and shift[3, 2] == 1


def test_ensemble_equals_mean_of_module_outputs(digits):
    system = make(digits, "ensemble", num_modules=3)
    x = digits.train.x[:5]
    per_module = []
    for i in range(3):
        h = x
        for stage in system.stacks[i]:
            h = stage(h)
        per_module.append(system.heads[i]["digit"](h))
    torch.testing.assert_close(system(x)["digit"], torch.stack(per_module).mean(0))
    torch.testing.assert_close(system.coupling_matrices()[-1], torch.full((3, 3), 1 / 3))


def test_shared_has_one_trunk(digits):
    shared, independent = make(digits, "shared"), make(digits, "independent")
    assert len(shared.stacks) == 1 and len(shared.heads[0]) == 4
    assert shared.num_parameters() < independent.num_parameters()


@pytest.mark.parametrize("strategy,coupled", [("independent", False), ("cross_stitch", True), ("attention", True)])
def test_module_j_input_reaches_module_i_only_when_coupled(synthetic, strategy, coupled):
    torch.manual_seed(0)
    system = make(synthetic, strategy, w_init=(0.7, 0.3))
    with torch.no_grad():
        for q in getattr(system.coupling, "query", []):  # make attention depend on the input
            q.weight.normal_()
    x = synthetic.train.x[:8].clone()
    before = system(x)["task0"]
    x[:, 2] += torch.randn_like(x[:, 2])          # change module 2's input only
    after = system(x)["task0"]
    assert torch.allclose(before, after) != coupled


def test_cross_stitch_init_and_per_channel(digits):
    system = make(digits, "cross_stitch", w_init=(0.8, 0.3))
    W = system.coupling_matrices()[0]
    torch.testing.assert_close(W.diagonal(), torch.full((4,), 0.8))
    torch.testing.assert_close(W[0, 1], torch.tensor(0.1))
    per_channel = make(digits, "cross_stitch", per_channel=True)
    assert per_channel.coupling.W[0].shape == (4, 4, 16)
    assert per_channel.coupling_matrices()[0].shape == (4, 4)


def test_attention_W_rows_sum_to_one(digits):
    system = make(digits, "attention")
    system(digits.train.x[:10])
    for W in system.coupling_matrices():
        torch.testing.assert_close(W.sum(1), torch.ones(4))


def test_per_module_widths(synthetic):
    widths = ((8, 16), (12, 16), (8, 16), (8, 16))
    system = make(synthetic, "independent", widths=widths)
    assert system(synthetic.train.x[:3])["task1"].shape == (3, 3)
    with pytest.raises(ValueError, match="stage widths must match"):
        make(synthetic, "cross_stitch", widths=widths)


def test_bad_configurations_are_refused(digits):
    with pytest.raises(ValueError, match="unknown coupling strategy 'glue'"):
        SystemConfig(strategy="glue")
    with pytest.raises(ValueError, match=r"w_init .* \[0, 1\]"):
        SystemConfig(w_init=(1.5, 0.1))
    with pytest.raises(ValueError, match="one module per task"):
        make(digits, "cross_stitch", num_modules=3)
    one_task = digits.select_tasks(["digit"])
    with pytest.raises(ValueError, match="at least 2 modules"):
        make(one_task, "cross_stitch")
    with pytest.raises(ValueError, match="at least 2 modules"):
        make(one_task, "ensemble", num_modules=1)
    make(one_task, "ensemble", num_modules=3)  # ensemble of 3 on one task is fine
    with pytest.raises(ValueError, match="widths"):
        SystemConfig(widths=())
    with pytest.raises(ValueError, match="unknown block"):
        SystemConfig(block="transformer")
    system = make(digits, "independent")
    with pytest.raises(ValueError, match="does not fit"):
        system(torch.zeros(2, 1, 9, 9))


def test_architecture_round_trip(digits):
    system = make(digits, "attention", block="cnn")
    clone = CoupledSystem.from_architecture(system.architecture())
    assert clone.architecture() == system.architecture()
    for a, b in zip(clone.state_dict().values(), system.state_dict().values()):
        assert torch.equal(a, b)  # same seed, same initial weights
    assert isinstance(clone.tasks[0], Task)


@pytest.mark.parametrize("strategy", list(COUPLINGS))
def test_W_over_a_split_is_explicit_and_leaves_the_system_as_it_was(digits, strategy):
    system = make(digits, strategy).train()
    with torch.no_grad():
        for q in getattr(system.coupling, "query", []):
            q.weight.normal_()
    system(digits.train.x[:5])
    last = system.coupling_matrices()
    over = system.coupling_matrices(digits.val, batch_size=64)
    assert system.training                                         # the mode is restored
    for W_last, W_split in zip(last, over):
        assert W_split.shape == (4, 4) and W_split.dtype == torch.float32
        if strategy != "attention":                               # a W that does not depend on x is its own mean
            torch.testing.assert_close(W_split, W_last)
    if strategy == "attention":
        one_batch = system.coupling_matrices(digits.val.x, batch_size=len(digits.val))
        for a, b in zip(over, one_batch):                          # the mean over examples, whatever the batches
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
            torch.testing.assert_close(a.sum(1), torch.ones(4))
        for a, b in zip(system.coupling_matrices(), last):        # the last forward's W is kept
            torch.testing.assert_close(a, b)
        with pytest.raises(ValueError, match="empty split"):
            system.coupling_matrices(digits.val.x[:0])
