import warnings

import pytest
import torch

from compress_helpers import QUICK, digits1, trained
from lab.compress import FakeQuantConfig, Int8Config, PruneConfig, fake_quantize, fake_quantize_tensor, prune, quantize_int8
from lab.coupling import SystemConfig, build_system
from lab.cost import evaluate_model


def distinct(t):
    return len(torch.unique(t))


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("scheme", ["symmetric", "affine"])
@pytest.mark.parametrize("rounding", ["nearest", "truncate"])
def test_b_bit_fake_quantization_yields_at_most_2_to_the_b_values(bits, scheme, rounding):
    w = torch.randn(50, 40, generator=torch.Generator().manual_seed(bits))
    per_tensor = fake_quantize_tensor(w, bits, "tensor", scheme, rounding)
    assert distinct(per_tensor) <= 2 ** bits
    per_channel = fake_quantize_tensor(w, bits, "channel", scheme, rounding)
    assert all(distinct(row) <= 2 ** bits for row in per_channel)
    assert distinct(per_channel) > 2 ** bits or bits == 8               # channels have their own grids
    err_tensor, err_channel = (per_tensor - w).abs().mean(), (per_channel - w).abs().mean()
    assert err_channel <= err_tensor * 1.05


def test_fake_quantization_error_shrinks_with_bits_and_keeps_zeros():
    w = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    w[w.abs() < 0.5] = 0
    errors = [(fake_quantize_tensor(w, b, "channel", s) - w).abs().max() for b in (2, 4, 8, 16) for s in ("symmetric", "affine")]
    assert errors[0] > errors[2] > errors[4] > errors[6]
    dense = torch.randn(64, 64, generator=torch.Generator().manual_seed(1))
    for s, levels in (("symmetric", 2 ** 3 - 1), ("affine", 2 ** 4 - 1)):
        assert bool((fake_quantize_tensor(w, 4, "channel", s)[w == 0] == 0).all())   # zeros stay exactly zero
        # a weight becomes zero exactly when it lies within half a grid step (of its row) of zero
        q = fake_quantize_tensor(dense, 4, "channel", s)
        if s == "symmetric":
            step = dense.abs().amax(1, keepdim=True) / levels
        else:
            step = (dense.amax(1, keepdim=True).clamp_min(0) - dense.amin(1, keepdim=True).clamp_max(0)) / levels
        assert torch.equal(q == 0, dense.abs() < step / 2)
        assert int((q == 0).sum()) > 0                                     # the case is exercised
    # truncation is biased toward zero: it never increases a magnitude
    assert bool((fake_quantize_tensor(w, 4, "tensor", "symmetric", "truncate").abs() <= w.abs() + 1e-6).all())


def reference_weights(shape):
    """A fixed tensor whose output channels (dim 0) span four decades, with an all-positive, an
    all-negative and an all-zero channel and one exact zero."""
    w = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    w = w * torch.logspace(-2, 1, shape[0]).view(-1, *[1] * (len(shape) - 1))
    w[1], w[2], w[3] = w[1].abs(), -w[2].abs(), 0.0
    w.view(-1)[len(w.view(-1)) // 2] = 0.0
    return w


def torch_reference(w, bits, granularity, scheme):
    """torch's fake quantization of ``w`` with qparams from torch's min/max observers.

    Symmetric: signed range [-(2^(b-1) - 1), 2^(b-1) - 1] (the "restricted" range), zero point 0;
    affine: unsigned range [0, 2^b - 1]. The observers widen min/max to include 0, as the lab does.
    """
    from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

    if scheme == "symmetric":
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
        dtype = torch.qint8 if bits <= 8 else torch.qint32
        qscheme = torch.per_channel_symmetric if granularity == "channel" else torch.per_tensor_symmetric
    else:
        qmin, qmax = 0, 2 ** bits - 1
        dtype = torch.quint8 if bits <= 8 else torch.qint32
        qscheme = torch.per_channel_affine if granularity == "channel" else torch.per_tensor_affine
    if granularity == "channel":
        observer = PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=qscheme, quant_min=qmin, quant_max=qmax)
        observer(w)
        scale, zero = observer.calculate_qparams()
        return torch.fake_quantize_per_channel_affine(w, scale.float(), zero.to(torch.int32), 0, qmin, qmax)
    observer = MinMaxObserver(dtype=dtype, qscheme=qscheme, quant_min=qmin, quant_max=qmax)
    observer(w)
    scale, zero = observer.calculate_qparams()
    return torch.fake_quantize_per_tensor_affine(w, float(scale), int(zero), qmin, qmax)


@pytest.mark.parametrize("shape", [(8, 16), (6, 3, 3, 3)])
@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8, 12, 16])
@pytest.mark.parametrize("scheme", ["symmetric", "affine"])
@pytest.mark.parametrize("granularity", ["channel", "tensor"])
def test_fake_quantization_matches_torch_fake_quantize(shape, bits, scheme, granularity):
    """Same grid (scale, zero point from torch's observers) and same rounding (half to even) as
    ``torch.fake_quantize_per_channel_affine`` / ``..._per_tensor_affine``: equal bit for bit. An
    all-zero channel stays zero in both (torch's observer uses scale = float32 eps there, the lab 1).
    ``rounding="truncate"`` has no torch counterpart; it is checked by the test above."""
    w = reference_weights(shape)
    ours = fake_quantize_tensor(w, bits, granularity, scheme)
    torch.testing.assert_close(ours, torch_reference(w, bits, granularity, scheme), rtol=0, atol=0)
    assert bool((ours[3] == 0).all())


@pytest.mark.parametrize("bits", [1, 17, 0, 4.5])
def test_bits_outside_2_16_are_refused(bits):
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 16"):
        FakeQuantConfig(bits=bits)


def test_fewer_bits_give_fewer_real_bytes():
    model, data = trained(), digits1()
    sizes = [fake_quantize(model, FakeQuantConfig(b), data=data, measure_config=QUICK)[1].bytes for b in (8, 4, 2)]
    assert sizes[0] < 60_000 and sizes[0] > sizes[1] > sizes[2]


def test_int8_dynamic_stays_close_to_fp32_and_its_warning_is_handled():
    model, data = trained(), digits1()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q, report = quantize_int8(model, Int8Config("dynamic"), data=data, measure_config=QUICK)
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    x = data.test.x
    with torch.no_grad():
        ref, out = model(x), q(x)
    assert (ref - out).abs().max() <= 0.02 * ref.abs().max()             # stated tolerance: 2% of the logit range
    assert (ref.argmax(1) == out.argmax(1)).float().mean() > 0.98
    assert report.runtime == "torch-int8-dynamic" and report.saved_bytes < 0.3 * 204_989
    assert report.flops == 100_400 and report.notes


@pytest.mark.slow
def test_int8_static_pt2e_stays_close_to_fp32():
    model, data = trained(), digits1()
    q, report = quantize_int8(model, Int8Config("static", calibration_size=128), data=data, measure_config=QUICK)
    with torch.no_grad():
        ref, out = model(data.test.x), q(data.test.x)
    assert (ref - out).abs().max() <= 0.03 * ref.abs().max()             # uint8 activations too: 3%
    assert (ref.argmax(1) == out.argmax(1)).float().mean() > 0.98
    assert report.runtime == "pt2e-int8" and report.bytes < 0.35 * 204_989


def test_static_calibration_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"calibration data has shape \(10, 64\); the model takes \(N, 1, 8, 8\)"):
        quantize_int8(trained(), Int8Config("static"), calibration=torch.rand(10, 64), measure_config=QUICK)


@pytest.mark.slow
def test_qat_trains_through_fake_quantization_and_converts():
    model, data = trained(), digits1()
    q, report = quantize_int8(model, Int8Config("qat", calibration_size=64), data=data, measure_config=QUICK)
    base = evaluate_model(model, data.test, data.tasks)["digit"]
    assert report.metric > base - 0.03 and report.runtime == "pt2e-int8"


def test_int8_applies_to_a_coupled_system(digits):
    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(16, 16)))
    q, report = quantize_int8(system, Int8Config("dynamic"), data=digits, measure_config=QUICK)
    out = q(digits.test.x[:3])
    assert set(out) == set(digits.task_names)
    assert torch.equal(q.coupling.W[0], system.coupling.W[0])              # W stays float and untouched


def test_int8_after_pruning_keeps_the_zeros_in_the_packed_bytes():
    model, data = trained(), digits1()
    pruned, rp = prune(model, PruneConfig(0.9), measure_config=QUICK)
    q, rq = quantize_int8(pruned, Int8Config("dynamic"), data=data, measure_config=QUICK)
    assert rq.packed_bytes < rp.packed_bytes < rq.saved_bytes
    assert rq.nonzeros <= rp.nonzeros + 10
