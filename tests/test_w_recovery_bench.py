import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.benchmarks.w_recovery import RecoveryBenchConfig, format_summary, run_w_recovery, summarize

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_command_runs_on_a_tiny_setting(tmp_path):
    out = tmp_path / "runs.json"
    result = subprocess.run([sys.executable, "-m", "bench.w_recovery", "--tiny", "--json", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("W recovery: 3 modules") and "8 runs" in lines[0]
    for column in ["structure", "strategy", "learned", "auc", "precision", "recall", "spearman", "metric"]:
        assert column in lines[1]
    body = [line.split() for line in lines[3:]]
    expected = {(s, m) for s in ("chain", "random") for m in ("independent", "cross_stitch")}
    assert {(b[0], b[1]) for b in body} == expected
    saved = json.loads(out.read_text())
    assert len(saved["runs"]) == 8 and len(saved["summary"]) == 4
    for run in saved["runs"]:
        assert run["precision"] == pytest.approx(run["recall"])       # top-k with k = number of true edges
        if run["strategy"] == "independent":      # W = I: no edge scores at all -> chance level, no credit
            assert run["auc"] == 0.5 and run["spearman"] == 0.0 and not run["learned"]
            assert run["precision"] == pytest.approx(run["edges"] / 6)
    for s in saved["summary"]:                              # the summary is the mean over the seeds' runs
        group = [r for r in saved["runs"] if (r["structure"], r["strategy"]) == (s["structure"], s["strategy"])]
        assert s["seeds"] == len(group) == 2 and s["auc"] == pytest.approx(sum(r["auc"] for r in group) / 2)


def test_pipeline_fixed_shift_matches_a_chain_exactly():
    config = RecoveryBenchConfig(structures=("chain",), seeds=(0,), strategies=("pipeline",), num_modules=3,
                                 num_samples=100, widths=(4,), epochs=1)
    (row,) = run_w_recovery(config)
    assert row["auc"] == 1.0 and row["precision"] == 1.0 and row["learned"] is False


def test_summary_means_and_spreads():
    rows = [{"structure": "chain", "strategy": "cross_stitch", "learned": True, "auc": a, "precision": p,
             "recall": p, "spearman": 0.5, "metric": 0.8} for a, p in ((0.9, 1.0), (0.7, 0.5))]
    (s,) = summarize(rows)
    assert s["auc"] == pytest.approx(0.8) and s["auc_sd"] == pytest.approx(0.1414213562) and s["seeds"] == 2
    assert s["spearman_sd"] == 0.0
    assert "0.800 ± 0.141" in format_summary([s])


def test_bad_benchmark_settings_are_refused():
    with pytest.raises(ValueError, match="unknown structures"):
        RecoveryBenchConfig(structures=("ring",))
    with pytest.raises(ValueError, match="unknown strategies"):
        RecoveryBenchConfig(strategies=("magic",))
    with pytest.raises(ValueError, match="seeds must not be empty"):
        RecoveryBenchConfig(seeds=())
    with pytest.raises(ValueError, match="num_modules"):
        RecoveryBenchConfig(num_modules=2)
