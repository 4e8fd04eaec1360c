"""GRU and logistic blocks, the CNN options (kernel size, stride, batch norm), on MNIST-1D and digits."""
import pytest
import torch
from torch import nn

from lab.coupling import SystemConfig, build_stack, build_system
from lab.coupling.blocks import GRUStage
from lab.coupling.limits import parameter_bound
from lab.coupling.system import CoupledSystem
from lab.data import load_mnist1d
from lab.train import TrainConfig, train


@pytest.fixture(scope="module")
def mnist1d():
    return load_mnist1d(num_samples=600)


@pytest.fixture(scope="module")
def digit1d():
    return load_mnist1d(tasks=("digit",), num_samples=600)


def test_gru_stage_shapes_sequences_and_images():
    stack, shapes = build_stack("gru", (1, 40), (8, 5))
    assert shapes == [(8, 40), (5, 40)]                 # hidden state at every step, channel-first
    assert isinstance(stack[0], GRUStage) and stack[0].gru.input_size == 1 and stack[1].gru.input_size == 8
    x = torch.randn(3, 1, 40)
    assert stack[1](stack[0](x)).shape == (3, 5, 40)
    _, image_shapes = build_stack("gru", (2, 8, 6), (4,))   # images: 8 rows of 2*6 features
    assert image_shapes == [(4, 8)]
    with pytest.raises(ValueError, match="gru blocks need sequences"):
        build_stack("gru", (16,), (4,))


def test_gru_stage_is_the_torch_gru_read_over_time():
    torch.manual_seed(0)
    stage = GRUStage((1, 12), 4)
    x = torch.randn(2, 1, 12)
    expected, _ = stage.gru(x.transpose(1, 2))
    torch.testing.assert_close(stage(x), expected.transpose(1, 2))
    # causal: changing the last step leaves the earlier steps' states alone
    y = x.clone()
    y[..., -1] += 5
    torch.testing.assert_close(stage(y)[..., :-1], stage(x)[..., :-1])


def test_logistic_block_is_a_linear_map(mnist1d):
    system = build_system(mnist1d, SystemConfig(strategy="cross_stitch", block="logistic", widths=(10, 6))).eval()
    assert not any(isinstance(m, nn.ReLU) for m in system.modules())
    x1, x2 = mnist1d.train.x[:5], mnist1d.train.x[5:10]
    with torch.no_grad():
        mixed = system(0.3 * x1 + 0.7 * x2)
        a, b = system(x1), system(x2)
    for task in system.task_names:
        torch.testing.assert_close(mixed[task], 0.3 * a[task] + 0.7 * b[task], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("input_shape, kernel, stride, expected", [
    ((1, 40), 5, 2, (6, 10)),        # (40 + 4 - 5) // 2 + 1 = 20, pooled to 10
    ((1, 40), 4, 1, (6, 20)),        # an even kernel: 41, pooled to 20
    ((1, 8, 8), 3, 3, (6, 3, 3)),    # 3x3 is below 4: not pooled
])
def test_cnn_kernel_stride_and_batch_norm(input_shape, kernel, stride, expected):
    stack, shapes = build_stack("cnn", input_shape, (6,), kernel_size=kernel, stride=stride, batch_norm=True)
    conv, norm = stack[0][0], stack[0][1]
    assert conv.kernel_size == (kernel,) * (len(input_shape) - 1) and conv.stride == (stride,) * (len(input_shape) - 1)
    assert isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) and shapes == [expected]
    assert int(norm.num_batches_tracked) == 0       # finding the shape did not touch the running statistics
    assert stack[0](torch.randn(4, *input_shape)).shape == (4, *expected)


def test_cnn_defaults_are_the_original_stage():
    torch.manual_seed(0)
    new, _ = build_stack("cnn", (1, 40), (4, 4))
    torch.manual_seed(0)
    explicit, _ = build_stack("cnn", (1, 40), (4, 4), kernel_size=3, stride=1, batch_norm=False)
    assert [type(m) for m in new.modules()] == [type(m) for m in explicit.modules()]
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in new.modules())
    for a, b in zip(new.parameters(), explicit.parameters()):
        assert torch.equal(a, b)
    assert new[0][0].padding == (1,) and new[0][0].stride == (1,)


@pytest.mark.parametrize("block, options", [("gru", {}), ("logistic", {}), ("mlp", {}), ("cnn", {}),
                                            ("cnn", {"kernel_size": 7, "stride": 2, "batch_norm": True})])
@pytest.mark.parametrize("strategy", ["cross_stitch", "pipeline", "attention"])
def test_parameter_bound_covers_every_block(mnist1d, block, options, strategy):
    config = SystemConfig(strategy=strategy, block=block, widths=(8, 8), **options)
    system = build_system(mnist1d, config)
    widths = config.module_widths(system.num_modules)
    bound = parameter_bound(block, widths, system.input_shape, sum(t.num_outputs for t in system.tasks),
                            config.per_channel, config.attention_dim, config.kernel_size, config.stride)
    assert system.num_parameters() <= bound < 3 * system.num_parameters() + 2000


@pytest.mark.parametrize("block, widths, lr, options", [
    ("gru", (16,), 3e-3, {}), ("logistic", (10,), 1e-2, {}),
    ("cnn", (8, 8), 3e-3, {"kernel_size": 5, "stride": 2, "batch_norm": True})])
def test_tiny_training_learns_above_chance(digit1d, block, widths, lr, options):
    system = build_system(digit1d, SystemConfig(strategy="shared", num_modules=1, block=block, widths=widths,
                                                **options))
    history = train(system, digit1d, TrainConfig(epochs=5, lr=lr), progress=False)
    assert history.val_metric["digit"][-1] > 0.15            # 10 classes: chance is 0.10
    assert history.train_loss["digit"][-1] < history.train_loss["digit"][0]


def test_coupled_gru_mixes_and_saves(mnist1d):
    system = build_system(mnist1d, SystemConfig(strategy="cross_stitch", block="gru", widths=(6, 6), per_channel=True))
    history = train(system, mnist1d, TrainConfig(epochs=2, lr=3e-3), progress=False)
    assert len(history.W[-1]) == 2 and history.W[-1] != history.W_init      # W of both stages learned
    rebuilt = CoupledSystem.from_architecture(system.architecture(), system.state_dict()).eval()
    x = mnist1d.test.x[:8]
    with torch.no_grad():
        for task, out in system.eval()(x).items():
            torch.testing.assert_close(rebuilt(x)[task], out)


def test_batch_norm_system_round_trips_with_its_running_statistics(digits):
    config = SystemConfig(strategy="cross_stitch", block="cnn", widths=(4, 4), batch_norm=True, kernel_size=5)
    system = build_system(digits, config)
    train(system, digits, TrainConfig(epochs=1), progress=False)
    state = system.state_dict()
    assert any(k.endswith("running_mean") for k in state)
    rebuilt = CoupledSystem.from_architecture(system.architecture(), state).eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(digits.test.x[:5])["digit"], system.eval()(digits.test.x[:5])["digit"])


def test_config_refuses_cnn_options_on_other_blocks_and_old_records_load():
    with pytest.raises(ValueError, match="kernel_size=5 shape cnn blocks only"):
        SystemConfig(block="gru", kernel_size=5)
    with pytest.raises(ValueError, match="batch_norm=True shape cnn blocks only"):
        SystemConfig(block="mlp", batch_norm=True)
    with pytest.raises(ValueError, match="stride must be"):
        SystemConfig(block="cnn", stride=0)
    old = SystemConfig(block="cnn").to_dict()
    for key in ("kernel_size", "stride", "batch_norm"):
        old.pop(key)
    assert SystemConfig.from_dict(old) == SystemConfig(block="cnn")      # records written before the options

