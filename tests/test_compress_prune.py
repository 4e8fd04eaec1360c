import pytest
import torch
import torch.nn.utils.prune as torch_prune
from torch import nn

from compress_helpers import FT, QUICK, digits1, trained
from lab.checkpoint import load_checkpoint, save_checkpoint
from lab.compress import (ChannelPruneConfig, GradualConfig, PruneConfig, SensitivityConfig, global_magnitude_masks,
                          gradual_prune, layer_sparsity, magnitude_mask, prune, prune_channels, sensitivity_scan,
                          sparsity_schedule)
from lab.coupling import SystemConfig, build_system
from lab.models import build_model


def test_magnitude_mask_matches_torch_prune_l1_unstructured():
    weight = torch.tensor([[0.5, -0.1, 0.3, 0.0, -0.9], [0.2, 0.05, -0.4, 0.7, -0.25]])
    layer = nn.Linear(5, 2)
    with torch.no_grad():
        layer.weight.copy_(weight)
    torch_prune.l1_unstructured(layer, "weight", amount=0.4)
    assert torch.equal(magnitude_mask(weight, 0.4), layer.weight_mask.bool())
    assert magnitude_mask(weight, 0.4).tolist() == [[True, False, True, False, True], [False, False, True, True, True]]


def fixed_layers():
    """A conv and two linear layers of different sizes and scales, weights from a fixed seed."""
    gen = torch.Generator().manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(36, 20), nn.Linear(20, 5))
    model.input_shape = (2, 5, 5)                                     # what prune's cost report runs on
    with torch.no_grad():
        for layer, scale in zip((model[0], model[2], model[3]), (1.0, 0.3, 2.0)):
            layer.weight.copy_(scale * torch.randn(layer.weight.shape, generator=gen))
    return model


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.9, 0.97])
def test_global_pruning_matches_torch_global_unstructured_l1(sparsity):
    model = fixed_layers()
    reference = fixed_layers()
    layers = {"0.weight": reference[0], "2.weight": reference[2], "3.weight": reference[3]}
    torch_prune.global_unstructured([(m, "weight") for m in layers.values()],
                                    pruning_method=torch_prune.L1Unstructured, amount=sparsity)
    expected = {name: m.weight_mask.bool() for name, m in layers.items()}
    masks = global_magnitude_masks({n: p for n, p in model.named_parameters() if n.endswith("weight")}, sparsity)
    assert masks.keys() == expected.keys()
    assert all(torch.equal(masks[n], expected[n]) for n in expected)
    pruned, _ = prune(model, PruneConfig(sparsity, "global"), measure_config=QUICK)
    kept = {n: p != 0 for n, p in pruned.named_parameters() if n.endswith("weight")}
    assert all(torch.equal(kept[n], expected[n]) for n in expected)
    per_layer = [float((~m).float().mean()) for m in expected.values()]
    assert sparsity == 0.0 or max(per_layer) - min(per_layer) > 0.1   # one threshold for all: layers differ


@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.97])
def test_unstructured_pruning_reaches_exactly_the_requested_sparsity(scope, sparsity):
    model = build_model("mlp")
    pruned, report = prune(model, PruneConfig(sparsity, scope), measure_config=QUICK)
    weights = [pruned[i].weight for i in (1, 3, 5)]
    zeros = [int((w == 0).sum()) for w in weights]
    if scope == "layer":
        assert zeros == [round(sparsity * w.numel()) for w in weights]
    else:
        assert sum(zeros) == round(sparsity * sum(w.numel() for w in weights))
    assert all(torch.count_nonzero(model[i].weight) == model[i].weight.numel() for i in (1, 3, 5))  # untouched
    assert report.nonzeros == report.params - sum(zeros)


def test_global_pruning_spares_small_layers_more_than_per_layer_pruning():
    sparsity = layer_sparsity(prune(trained(), PruneConfig(0.9, "global"), measure_config=QUICK)[0])
    assert sparsity["5.weight"] < 0.9 < sparsity["3.weight"]


@pytest.mark.parametrize("sparsity", [1.0, -0.1, 1.5])
def test_sparsity_outside_0_1_is_refused(sparsity):
    with pytest.raises(ValueError, match=r"sparsity must lie in \[0, 1\)"):
        PruneConfig(sparsity)


def test_fine_tuning_keeps_pruned_weights_at_zero_and_recovers_accuracy():
    data = digits1()
    model = trained()
    plain, r0 = prune(model, PruneConfig(0.9), data=data, measure_config=QUICK)
    tuned, r1 = prune(model, PruneConfig(0.9, finetune=FT.__class__(epochs=3, lr=1e-3)), data=data,
                      measure_config=QUICK)
    assert r1.nonzeros == r0.nonzeros
    assert r1.metric > r0.metric


def test_pruning_a_coupled_system_leaves_W_alone_unless_asked(digits):
    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16, 16)))
    W = [w.detach().clone() for w in system.coupling.W]
    pruned, _ = prune(system, PruneConfig(0.8), measure_config=QUICK)
    assert all(torch.equal(a, b) for a, b in zip(W, pruned.coupling.W))
    assert layer_sparsity(pruned)["stacks.0.0.1.weight"] > 0.5
    with_w, _ = prune(system, PruneConfig(0.5, "layer", include_coupling=True), measure_config=QUICK)
    assert int((with_w.coupling.W[0] == 0).sum()) == 8                 # half of the 4x4 W


@pytest.mark.parametrize("name", ["mlp", "lenet", "dscnn"])
def test_structured_pruning_removes_channels_and_the_model_still_runs(name):
    model = build_model(name)
    pruned, report = prune_channels(model, ChannelPruneConfig(0.5), measure_config=QUICK)
    assert report.extra["params_after"] < 0.6 * report.extra["params_before"]
    assert report.flops < 0.7 * measure_flops(model)
    assert pruned(torch.rand(3, 1, 8, 8)).shape == (3, 10)


def measure_flops(model):
    from lab.cost import count_flops
    return count_flops(model, torch.zeros(1, *model.input_shape))[0]


@pytest.mark.parametrize("strategy,block,per_channel", [("cross_stitch", "mlp", False),
                                                        ("cross_stitch", "cnn", True),
                                                        ("attention", "mlp", False),
                                                        ("independent", "cnn", False)])
def test_structured_pruning_of_coupled_systems_keeps_modules_aligned(digits, tmp_path, strategy, block, per_channel):
    system = build_system(digits, SystemConfig(strategy=strategy, block=block, widths=(16, 12),
                                               per_channel=per_channel))
    pruned, report = prune_channels(system, ChannelPruneConfig(0.5), data=digits, measure_config=QUICK)
    assert pruned.config.widths == (8, 6)
    assert report.extra["params_after"] < report.extra["params_before"]
    out = pruned(digits.test.x[:4])
    assert {k: v.shape[1] for k, v in out.items()} == {"digit": 10, "parity": 2, "ge5": 2, "loops": 3}
    save_checkpoint(pruned, tmp_path / "c.pt")                        # the architecture rebuilds
    torch.testing.assert_close(load_checkpoint(tmp_path / "c.pt")(digits.test.x[:4]), out)


def test_gradual_schedule_follows_the_cubic_curve():
    cfg = GradualConfig(final_sparsity=0.9, initial_sparsity=0.1, steps=4)
    assert sparsity_schedule(cfg) == pytest.approx([0.9 - 0.8 * (1 - t / 4) ** 3 for t in range(1, 5)])
    steps = sparsity_schedule(GradualConfig(0.8, steps=5))
    increments = [b - a for a, b in zip([0.0] + steps, steps)]
    assert steps[-1] == pytest.approx(0.8) and all(x > y for x, y in zip(increments, increments[1:]))
    with pytest.raises(ValueError, match="initial_sparsity"):
        GradualConfig(final_sparsity=0.5, initial_sparsity=0.6)


def test_gradual_pruning_reaches_each_scheduled_sparsity():
    cfg = GradualConfig(final_sparsity=0.9, steps=3, finetune=FT)
    pruned, report = gradual_prune(trained(), cfg, data=digits1(), measure_config=QUICK)
    reached = [h["sparsity"] for h in report.extra["schedule"]]
    assert reached == pytest.approx(sparsity_schedule(cfg), abs=1e-4)
    assert report.sparsity == pytest.approx(0.9 * 50_200 / 50_610, abs=1e-3)   # biases are not pruned


def test_sensitivity_scan_restores_the_model_and_reports_every_layer():
    model, data = trained(), digits1()
    before = [p.detach().clone() for p in model.parameters()]
    result = sensitivity_scan(model, SensitivityConfig(sparsities=(0.5, 0.99)), data=data)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert list(result.curves) == ["1.weight", "3.weight", "5.weight"]
    assert all(curve[1][1] < curve[0][1] + 1e-9 for curve in result.curves.values())
    assert result.curves["5.weight"][1][1] < result.baseline - 0.2        # the 10-way output layer is fragile
    with pytest.raises(ValueError, match="unknown layer"):
        sensitivity_scan(model, SensitivityConfig(layers=("9.weight",)), data=data)
