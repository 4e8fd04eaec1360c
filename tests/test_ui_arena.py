"""The weighting-arena panel (lab.ui.arena): set widgets, press Train, read the figure and the numbers."""
import pytest
from ui_helpers import wait_for

from lab.benchmarks.arena_sets import ARENA_SETS
from lab.ui.arena import METHODS, ArenaPanel


def _train(panel: ArenaPanel) -> None:
    panel.train_button.click()
    wait_for(lambda: not panel.running, timeout=120)
    assert panel.error is None, panel.error


def test_two_methods_side_by_side_on_the_conflicting_tasks():
    panel = ArenaPanel(size=150, epochs=2, seeds=2)
    panel.method_a.value, panel.method_b.value, panel.task_set.value = "equal", "famo", "conflict"
    _train(panel)
    equal, famo = panel.summaries["equal"], panel.summaries["famo"]
    assert len(equal["task_weights"]) == 2 and len(equal["delta_m"]) == 2                   # epochs, seeds
    assert all(w == {"task0": 1.0, "task1": 1.0, "task2": 1.0, "task3": 1.0} for w in equal["task_weights"])
    assert all(sum(w.values()) == pytest.approx(1.0) for w in famo["task_weights"])        # famo's sum to 1
    fig = panel.view.figure
    lines = [t for t in fig.data if t.type == "scatter"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(lines) == 2 * 4 and len(bars) == 1
    assert list(bars[0].x) == ["equal", "famo"]
    assert list(bars[0].y) == pytest.approx([equal["delta_m_mean"], famo["delta_m_mean"]])
    assert list(lines[4].y) == pytest.approx([w["task0"] for w in famo["task_weights"]])
    assert panel.status.value.startswith("done: equal Delta m") and panel.progress.value == 6


def test_task_set_and_strategy_change_what_runs():
    panel = ArenaPanel(size=300, epochs=2, seeds=1)
    panel.task_set.value = "digits"
    assert "digit, parity" in panel.about.value and str(list(ARENA_SETS["digits"].widths)) in panel.about.value
    panel.method_a.value, panel.method_b.value, panel.strategy.value = "upgrad", "mgda", "cross_stitch"
    _train(panel)
    assert set(panel.summaries) == {"upgrad", "mgda"} and "digits, cross_stitch" in panel.view.figure.layout.title.text
    assert set(panel.summaries["mgda"]["test"]) == {"digit", "parity", "ge5", "loops"}


def test_the_same_method_twice_is_refused_before_training():
    panel = ArenaPanel(size=120, epochs=1, seeds=1)
    panel.method_a.value = panel.method_b.value = "cagrad"
    panel.train_button.click()
    assert not panel.running and "two different methods" in panel.message_text and panel.view.figure is None
    assert "fixed" not in METHODS and "upgrad" in METHODS


def test_fast_mode_defaults_are_seconds_long(monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    panel = ArenaPanel()
    assert (panel.size, panel.epochs.value, panel.seeds.value) == (None, 5, 1)
    monkeypatch.delenv("LAB_FAST")
    assert (ArenaPanel().epochs.value, ArenaPanel().seeds.value) == (20, 3)
