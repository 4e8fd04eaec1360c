import math
import os

import numpy as np
import pytest
import torch
from torch import nn

import lab.timing
from compress_helpers import digits1, trained
from lab.formats import huffman
from lab.formats.packed import read_packed, write_packed
from lab.cost import (CostWeights, MeasureConfig, Report, count_flops, count_parameters, measure, objective,
                      peak_memory, time_call, format_reports)
from lab.models import build_model


@pytest.mark.parametrize("a,b", [(64, 300), (7, 3), (1, 1)])
def test_flops_of_a_linear_layer_are_2ab_per_example(a, b):
    dense, effective = count_flops(nn.Linear(a, b), torch.zeros(3, a))
    assert dense == effective == 2 * a * b


def test_flops_of_the_reference_mlp_and_effective_flops_under_sparsity():
    model = build_model("mlp")
    assert count_flops(model, torch.zeros(1, 1, 8, 8)) == (100_400, 100_400)
    with torch.no_grad():
        model[3].weight[:, :150] = 0                                  # half of the 300x100 layer
    dense, effective = count_flops(model, torch.zeros(2, 1, 8, 8))
    assert dense == 100_400 and effective == 100_400 - 30_000


def test_report_bytes_are_the_sizes_of_the_files_written(tmp_path):
    model = trained("mlp")
    with torch.no_grad():
        model[1].weight[model[1].weight.abs() < 0.05] = 0
    model.train()
    report = measure(model, digits1(), "pruned", MeasureConfig(repeats=3, warmup=1), workdir=tmp_path)
    assert model.training                                              # the caller's mode is restored
    assert report.saved_bytes == os.path.getsize(tmp_path / "model.pt")
    assert report.packed_bytes == os.path.getsize(tmp_path / "model.lpk")
    assert report.bytes == report.packed_bytes < report.saved_bytes
    back = read_packed(tmp_path / "model.lpk")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(back[name], value, rtol=0, atol=0)


def test_packed_format_round_trips_sparse_shared_and_grid_tensors(tmp_path):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(40, 30, generator=g)
    sparse = w * (torch.rand(40, 30, generator=g) > 0.9)
    shared = torch.tensor([-0.5, -0.1, 0.2, 0.7])[torch.randint(0, 4, (40, 30), generator=g)] * (sparse != 0)
    scale = w.abs().amax(1, keepdim=True) / 7
    grid = (w / scale).round().clamp(-7, 7) * scale                   # 4-bit symmetric per channel
    state = {"dense": w, "sparse": sparse, "shared": shared, "grid": grid, "steps": torch.tensor(3)}
    stats = write_packed(state, tmp_path / "t.lpk")
    assert stats.bytes == os.path.getsize(tmp_path / "t.lpk")
    assert stats.tensors["dense"]["val"] == "fp32" and stats.tensors["dense"]["pos"] == "dense"
    assert stats.tensors["sparse"]["pos"] != "dense"
    assert stats.tensors["shared"]["val"].startswith("codebook")
    # 4 bits a weight + a float32 offset and step per row
    assert stats.tensors["grid"]["val"] == "grid" and stats.tensors["grid"]["bytes"] == 40 * 30 * 4 // 8 + 40 * 8
    back = read_packed(tmp_path / "t.lpk")
    for k in ("dense", "sparse", "shared", "steps"):
        assert torch.equal(back[k], state[k])
    torch.testing.assert_close(back["grid"], grid, rtol=0, atol=1e-6)


def test_huffman_code_is_prefix_free_optimal_and_round_trips():
    counts = np.array([45, 13, 12, 16, 9, 5, 0])                   # the textbook example + an unused symbol
    lengths = huffman.code_lengths(counts)
    assert lengths.tolist() == [1, 3, 3, 3, 4, 4, 0]
    assert sum(2.0 ** -int(l) for l in lengths if l) == 1.0                 # Kraft equality: a complete code
    symbols = np.repeat(np.arange(7), counts)
    np.random.default_rng(0).shuffle(symbols)
    data = huffman.encode(symbols, lengths)
    assert len(data) == math.ceil(huffman.coded_bits(counts) / 8)
    assert np.array_equal(huffman.decode(data, lengths, len(symbols)), symbols)


def test_objective_is_relative_to_the_reference_with_user_weights():
    ref = Report("fp32", flops=1000, saved_bytes=4000, latency_ms=2.0)
    small = Report("small", flops=500, packed_bytes=1000, saved_bytes=4000, latency_ms=1.0)
    assert objective(ref, CostWeights(1, 1), ref) == 2.0
    assert objective(small, CostWeights(1, 1), ref) == 0.5 + 0.25
    assert objective(small, CostWeights(2, 0, 1), ref) == 2 * 0.5 + 0.5
    with pytest.raises(ValueError, match="cost weight bytes"):
        CostWeights(bytes=-1)
    assert "x_smaller" in format_reports([ref, small])


def test_latency_uses_fixed_threads_and_restores_them_and_memory_counts_weights(monkeypatch):
    before = torch.get_num_threads()
    seen, clock = [], [0.0]
    durations = iter([9.0, 9.0, 0.001, 0.005, 0.002, 0.100, 0.003])    # seconds: 2 warm-up calls, then 5 timed

    def call():
        seen.append(torch.get_num_threads())
        clock[0] += next(durations)

    monkeypatch.setattr(lab.timing.time, "perf_counter", lambda: clock[0])
    ms = time_call(call, repeats=5, warmup=2, threads=1)
    monkeypatch.undo()
    assert ms == pytest.approx(3.0)                       # the median of the timed calls, in ms (warm-up left out)
    assert set(seen) == {1} and len(seen) == 7
    assert torch.get_num_threads() == before
    model = build_model("mlp")
    peak = peak_memory(model, torch.zeros(256, 1, 8, 8))
    weights = 50_610 * 4
    assert peak >= weights + 256 * 300 * 4                             # the 300-wide activation is alive
    with pytest.raises(ValueError):
        MeasureConfig(threads=0)


def test_count_parameters_counts_nonzeros():
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.zero_()
    assert count_parameters(model) == (15, int(torch.count_nonzero(model.bias)))
