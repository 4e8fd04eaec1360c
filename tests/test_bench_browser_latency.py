"""bench/browser_latency.py: its arithmetic on hand-made timings, and one minimal run in Chromium (skipped with
LAB_SKIP_BROWSER=1, like the browser tests)."""
import os

import pytest

from bench import browser_latency as bl


def test_summary_gives_median_p90_max_and_counts_what_timed_out():
    s = bl.summary([10.0, 30.0, None, 20.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0])
    assert s == {"n": 10, "median": 55.0, "p90": 90.0, "max": 100.0, "missed": 1}
    assert bl.summary([None])["median"] is None and bl.summary([None])["missed"] == 1


def test_the_kernel_share_runs_from_the_input_message_to_the_first_update_of_the_output():
    t0 = 1000.0                                        # seconds since the epoch, browser and kernel alike
    bench = {"recv": [(t0 - 5, t0 - 4.9, "FloatSlider"), (t0 + 0.010, t0 + 0.012, "FloatSlider")],
             "send": [(t0 + 0.050, "HTML", 300), (t0 + 0.080, "LabFigureWidget", 900),
                      (t0 + 0.090, "LabFigureWidget", 100), (t0 + 0.400, "LabFigureWidget", 5000)]}
    rows = [{"t0_epoch_ms": 1000 * t0, "figure": 120.0, "table": 70.0}, {"t0_epoch_ms": 1000 * t0, "figure": None}]
    bl.kernel_share(rows, bench, "figure", "FloatSlider", bl.FIGURE_CLASSES)
    bl.kernel_share(rows, bench, "table", "FloatSlider", ("HTML",))
    assert rows[0]["figure_kernel"] == pytest.approx(70.0) and rows[0]["table_kernel"] == pytest.approx(40.0)
    assert "figure_kernel" not in rows[1]
    bl.bytes_sent(rows, bench, "figure")
    assert rows[0]["bytes"] == 300 + 900 + 100 + 5000          # what left within 0.5 s after the figure


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    assert bl.main(["--repo", str(tmp_path)]) == 2
    assert "holds no lab/ package" in capsys.readouterr().err
    assert bl.main(["--chromium", str(tmp_path / "none")]) == 2


@pytest.mark.browser
@pytest.mark.slow
def test_a_minimal_run_measures_every_interaction_in_chromium():
    from test_browser import require_chromium

    if os.environ.get("LAB_SKIP_BROWSER") == "1":
        pytest.skip("LAB_SKIP_BROWSER=1: the real-browser benchmark was skipped on purpose")
    chromium = require_chromium()
    result = bl.run(bl.ROOT, reps=2, train_reps=1, epochs=2, chromium=chromium)
    assert all(s["n"] >= 1 for s in result["summary"].values()), result["summary"]
    assert result["widget_state_bytes"] < 5_000_000 and result["max_message_bytes"] < 1_000_000
    assert "| slider -> figure |" in bl.table(result)
