"""The compression benchmarks run end to end on a tiny setting (their numbers live in docs/BENCHMARKS.md)."""
import pytest

from bench import compress_latency, compress_preview, compress_table


@pytest.mark.slow
def test_compress_table_benchmark_runs(capsys):
    result = compress_table.main(["--quick"])
    assert result["summary"]
    out = capsys.readouterr().out
    assert result["rows"] and "sparsity" in out and "reference MLP" in out


def test_preview_benchmark_runs(capsys):
    result = compress_preview.main(["--quick"])
    out = capsys.readouterr().out
    assert set(result) == {1, 2} and out.count("over 6 calls (test split 60 examples)") == 2


@pytest.mark.slow
def test_latency_benchmark_runs(capsys):
    result = compress_latency.main(["--quick"])
    names = [r["runtime"] for r in result["rows"]]
    assert names[0] == "torch fp32 (eager)" and "ONNX Runtime int8 dynamic" in names
    assert result["rows"][0]["speedup@1"] == 1.0


def test_panel_preview_benchmark_runs(capsys):
    from bench import compress_panel

    result = compress_panel.main(["--quick"])
    # every move's end-to-end time contains its Preview call, so the medians are ordered too
    assert result["sparsity_move"]["median_ms"] >= result["preview_call"]["median_ms"]
    assert result["test_examples"] == 60
    assert "sparsity slider move, end to end" in capsys.readouterr().out
