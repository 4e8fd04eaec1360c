"""The W-guided benchmark: known structures, equal-bytes baselines, the summary, the command on a tiny setting."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lab.benchmarks.w_guided import (WGuidedBenchConfig, compare_budgets, compare_edges, compare_modules,
                                     edge_curve, expected_answer, known_structure)
from lab.benchmarks.w_guided_summary import format_summary, summarize, verdicts
from lab.compress.fit import FitConfig
from lab.viz import accuracy_vs_bytes, accuracy_vs_edges
from w_helpers import REDUNDANT, redundant_data, trained_system

ROOT = Path(__file__).resolve().parents[1]
FT = FitConfig(epochs=1, lr=1e-3)


def test_known_structures_and_their_answers():
    assert torch.equal(known_structure("redundant", 4), REDUNDANT)
    assert known_structure("hub", 4)[:, 0].tolist() == [1, 1, 1, 1]
    assert expected_answer("redundant", 4)["remove"] == 3 and expected_answer("hub", 4)["keep"] == 0
    assert expected_answer("chain", 4)["edges"] == {(1, 0), (2, 1), (3, 2)}
    with pytest.raises(ValueError, match="unknown structure 'ring'"):
        known_structure("ring")
    with pytest.raises(ValueError, match="unknown structures"):
        WGuidedBenchConfig(structures=("ring",))


def test_every_comparison_is_at_equal_bytes():
    system, data = trained_system(), redundant_data()
    modules = compare_modules(system, data, FT, draws=3, seed=0)
    removal = {r["bytes"] for r in modules if r["method"] != "uniform"}
    assert len(removal) <= 2 and max(removal) - min(removal) <= 8        # every removal: one module of 4
    (uniform,) = [r for r in modules if r["method"] == "uniform"]
    assert abs(uniform["bytes"] - modules[0]["bytes"]) <= 0.01 * modules[0]["bytes"]
    assert uniform["flops"] > modules[0]["flops"]                    # the same bytes, but no compute removed
    assert [r["method"] for r in modules] == ["w", "gradient", "magnitude", "random", "random", "random", "uniform"]
    edges = compare_edges(system, data, FT, keep=0.5, draws=3, seed=0)
    assert len({r["bytes"] for r in edges}) == 1 and all(sum(map(len, r["choice"])) == 12 for r in edges)
    budgets = compare_budgets(system, data, FT, sparsity=0.8, bits=4, draws=2, seed=0)
    w = budgets[0]
    for r in budgets[1:]:
        assert abs(r["bytes"] - w["bytes"]) <= 0.03 * w["bytes"], (r["method"], r["bytes"], w["bytes"])
    curve = edge_curve(system, data, keeps=(0.0, 1.0), draws=2)
    assert {r["edges_kept"] for r in curve} == {0, 24}
    assert accuracy_vs_edges(curve).data and accuracy_vs_bytes(modules + edges + budgets).data


def test_the_export_table_counts_what_the_onnx_graph_stores(tmp_path):
    from lab.benchmarks.w_guided import export_comparison
    from lab.coupling import restructure

    system, data = trained_system(), redundant_data()
    small = restructure(system, modules=[0, 1, 2], edges=[[(1, 0)], [(2, 1)]])
    full, pruned = export_comparison({"full": system, "small": small}, data, tmp_path, repeats=5, rounds=1)
    assert full["outputs"] == pruned["outputs"] == 4 and max(full["max_abs_diff"], pruned["max_abs_diff"]) <= 1e-5
    stages = 8 * 16 + 16 + 16 * 16 + 16                              # module 3's two stages (its head reads a route)
    mix = (3 + 1) + (3 + 1) + 3                  # per stage 3 own states + 1 edge; task 3's route reads 3 modules
    assert pruned["weight_values"] == full["weight_values"] - stages - 2 * 16 + mix      # 2 dense 4x4 W replaced
    assert pruned["ops"] < full["ops"] and pruned["bytes"] < full["bytes"] and pruned["ort_us"] > 0


def test_the_summary_takes_the_median_of_random_draws_and_says_what_holds():
    rows = []
    for seed in (0, 1):
        base = dict(setting="redundant", seed=seed, metrics={"a": 0.0}, bytes=100, flops=10)
        rows += [{**base, "technique": "full", "method": "full", "acc": 0.80},
                 {**base, "technique": "modules", "method": "w", "acc": 0.79, "choice": 3, "found": True, "draw": None},
                 {**base, "technique": "edges", "method": "w", "acc": 0.80, "edge_recall": 1.0, "draw": None},
                 *({**base, "technique": "edges", "method": "random", "acc": a, "edge_recall": 0.5, "draw": d}
                   for d, a in enumerate((0.70, 0.60, 0.75)))]
    summary = summarize(rows)
    (rnd,) = [s for s in summary if s["method"] == "random"]
    assert rnd["acc"] == pytest.approx(0.70) and rnd["delta"] == pytest.approx(-0.10) and rnd["seeds"] == 2
    (mod,) = [s for s in summary if s["technique"] == "modules"]
    assert mod["found"] == (2, 2)
    lines = verdicts(summary)
    assert "redundant: W's module choice found the redundant module in 2 of 2 seeds" in lines
    assert any("+10.00 vs the random median (>= 3 points)" in line for line in lines)
    assert "70.00 ± 0.00" in format_summary(summary)


def test_benchmark_command_runs_on_a_tiny_setting(tmp_path):
    out = tmp_path / "rows.json"
    result = subprocess.run([sys.executable, "-m", "bench.w_guided", "--tiny", "--json", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("W-guided compression: structures ['redundant'] x seeds [0, 1], digits seeds [0]")
    saved = json.loads(out.read_text())
    settings = {(r["setting"], r["technique"]) for r in saved["rows"]}
    assert ("digits", "student") in settings and ("redundant", "budgets") in settings
    assert any(line.startswith("redundant: W's module choice found the redundant module in") for line in lines)
    bad = subprocess.run([sys.executable, "-m", "bench.w_guided", "--structures", "ring"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown structures ['ring']")


def test_the_w_preview_benchmark_runs(capsys):
    from bench import w_preview

    result = w_preview.main(["--quick"])
    assert result["threshold_move"]["median_ms"] >= result["preview_call"]["median_ms"] > 0
    assert result["edges"] == 24 and "edge-threshold move, end to end (6 moves)" in capsys.readouterr().out
