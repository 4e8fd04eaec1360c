"""The plotly views of W: built from a History (saved and reloaded) with known numbers."""
import numpy as np
import pytest

from lab import viz
from lab.coupling import recovery_report
from lab.history import History

W_TRUE = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=float)     # a chain: 1 <- 0, 2 <- 1


def make_history(epochs: int = 3, stages: int = 2, with_truth: bool = True) -> History:
    """A hand-made run: W moves linearly from the identity towards W_TRUE (stage 2 at half the size)."""
    tasks = ["a", "b", "c"]
    h = History(task_names=tasks, strategy="cross_stitch",
                config={"system": {"tasks": [{"name": t, "metric": "accuracy"} for t in tasks]}})
    eye = np.eye(3)
    h.W_init = [eye.tolist()] * stages
    for e in range(1, epochs + 1):
        f = e / epochs
        mats = [eye + f * (W_TRUE - eye) * (1.0 if s == 0 else 0.5) for s in range(stages)]
        h.record_epoch(e, {t: 2.0 / e for t in tasks} | {"total": 6.0 / e}, {t: 0.5 + 0.1 * e for t in tasks},
                       {"loss": {t: 2.5 / e for t in tasks}, "metric": {t: 0.4 + 0.1 * e for t in tasks}},
                       {t: 1.0 for t in tasks}, mats, 0.1)
    h.step_loss = [3.0, 2.0, 1.5, 1.2, 1.0, 0.9]
    h.extra["steps_per_epoch"] = 2
    if with_truth:
        h.W_true = W_TRUE.tolist()
    return h


@pytest.fixture
def history(tmp_path):
    """Saved and reloaded, so every view is checked on a replayed run."""
    make_history().save(tmp_path / "history.json")
    return History.load(tmp_path / "history.json")


def test_W_heatmap_keeps_its_signature_and_centres_colours_on_zero():
    W = np.array([[0.5, -2.0], [1.0, 0.25]])
    fig = viz.W_heatmap(W, ["x", "y"], "my W", 3.0)
    hm = fig.data[0]
    assert fig.layout.title.text == "my W"
    assert (hm.zmin, hm.zmax, hm.zmid) == (-3.0, 3.0, 0)
    assert list(hm.x) == ["x", "y"] and "%{z" in hm.hovertemplate
    np.testing.assert_allclose(np.asarray(hm.z), W)
    assert viz.W_heatmap(W).data[0].zmax == 2.0   # default: symmetric around 0 at the largest |W|


def test_W_heatmaps_one_panel_per_stage_from_a_history(history):
    fig = viz.W_heatmaps(history)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    for s, trace in enumerate(fig.data):
        np.testing.assert_allclose(np.asarray(trace.z), history.W[-1][s])
        assert list(trace.x) == ["a", "b", "c"]
        assert trace.zmid == 0 and trace.zmin == -trace.zmax
    assert fig.data[0].zmax == fig.data[1].zmax == pytest.approx(1.0)      # one shared scale
    np.testing.assert_allclose(np.asarray(viz.W_heatmaps(history, epoch=0).data[0].z), np.eye(3))
    np.testing.assert_allclose(np.asarray(viz.W_heatmaps(history, epoch=2).data[1].z), history.W[1][1])
    with pytest.raises(ValueError, match="epoch 7 was not recorded"):
        viz.W_heatmaps(history, epoch=7)


def test_W_graph_hides_edges_under_the_threshold():
    W = np.array([[1.0, 0.30, -0.02], [0.5, 0.9, 0.0], [-0.2, 0.08, 0.7]])
    fig = viz.W_graph(W, ["a", "b", "c"], threshold=0.1)
    edges = [t for t in fig.data if t.name and "<-" in t.name]
    assert len(edges) == 6                                   # every off-diagonal entry has a trace
    shown = {t.name for t in edges if t.visible}
    assert shown == {"a <- b", "b <- a", "c <- a"}           # |W| >= 0.1
    width = {t.name: t.line.width for t in edges}
    assert width["b <- a"] > width["a <- b"] > width["c <- b"]
    colors = {t.name: t.line.color for t in edges}
    assert colors["c <- a"] != colors["a <- b"]              # negative vs positive
    nodes = next(t for t in fig.data if t.name == "modules")
    np.testing.assert_allclose(nodes.marker.color, [1.0, 0.9, 0.7])
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 11
    last = steps[-1].args[0]["visible"]                      # highest threshold: only the strongest edge
    assert sum(last[:6]) == 1 and last[6:] == [True, True]
    assert all(steps[0].args[0]["visible"])
    with pytest.raises(ValueError, match="threshold"):
        viz.W_graph(W, threshold=-1)


def test_W_graph_from_history_picks_epoch_and_stage(history):
    fig = viz.W_graph(history, epoch=3, stage=0, threshold=0.5, slider=False)
    shown = {t.name for t in fig.data if t.name and "<-" in t.name and t.visible}
    assert shown == {"b <- a", "c <- b"}                      # the chain W* after the last epoch
    assert not fig.layout.sliders


def test_W_animation_has_a_frame_per_recorded_epoch(history):
    fig = viz.W_animation(history)
    assert [f.name for f in fig.frames] == ["0", "1", "2", "3"]
    np.testing.assert_allclose(np.asarray(fig.frames[0].data[0].z), np.eye(3))
    np.testing.assert_allclose(np.asarray(fig.frames[2].data[1].z), history.W[1][1])
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "1", "2", "3"]
    assert fig.layout.updatemenus[0].buttons[0].label == "play"


def test_W_trajectories_follow_chosen_entries(history):
    fig = viz.W_trajectories(history, entries=[(0, 1, 0), (1, 2, 2)])
    assert list(fig.data[0].x) == [0, 1, 2, 3]
    np.testing.assert_allclose(fig.data[0].y, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(fig.data[1].y, [1, 1, 1, 1])
    default = viz.W_trajectories(history, top=2)            # the two off-diagonal entries that moved most
    assert [t.name for t in default.data] == ["stage 1: b <- a", "stage 1: c <- b"]
    with pytest.raises(ValueError, match="outside W"):
        viz.W_trajectories(history, entries=[(2, 0, 0)])


def test_training_curves_show_every_task(history):
    fig = viz.training_curves(history)
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_allclose(by_name["b val"].y, history.val_loss["b"])
    np.testing.assert_allclose(by_name["c train"].y, history.train_loss["c"])
    np.testing.assert_allclose(by_name["a accuracy"].y, history.val_metric["a"])
    np.testing.assert_allclose(by_name["joint loss (steps)"].x, [0.5, 1, 1.5, 2, 2.5, 3])
    assert len(viz.task_weight_curves(history).data) == 3


def test_W_vs_truth_scores_recovery(history):
    fig = viz.W_vs_truth(history)
    report = fig.layout.meta["recovery"]
    assert report == recovery_report(history.W_at(-1), W_TRUE)
    assert report["auc"] == 1.0 and "AUC 1.00" in fig.layout.title.text
    learned = np.asarray(fig.data[0].z, dtype=float)
    assert np.isnan(np.diag(learned)).all()                  # the diagonal is not scored
    assert learned[1, 0] == pytest.approx(0.75)               # mean |W| over stages: (1 + 0.5) / 2
    with pytest.raises(ValueError, match="ground-truth"):
        viz.W_vs_truth(make_history(with_truth=False))


def test_W_side_by_side_shares_one_colour_scale(history):
    other = make_history(epochs=2)
    fig = viz.W_side_by_side([history, other], ["A", "B"], epochs=[3, 1], stage=0)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    np.testing.assert_allclose(np.asarray(fig.data[1].z), other.W[0][0])
    assert fig.data[0].zmax == fig.data[1].zmax
    graph = viz.W_side_by_side([history, other], ["A", "B"], kind="graph", threshold=0.2)
    assert sum(1 for t in graph.data if t.name == "modules") == 2
    with pytest.raises(ValueError, match="kind"):
        viz.W_side_by_side([history], ["A"], kind="pie")


def test_views_refuse_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        viz.W_heatmaps([np.ones((2, 3))])
    with pytest.raises(ValueError, match="labels"):
        viz.W_heatmaps(np.eye(3), labels=["x"])
    fig = viz.W_heatmaps(np.stack([np.eye(2), 2 * np.eye(2)]))             # (stages, n, n): one heatmap per stage
    assert [np.asarray(t.z).tolist() for t in fig.data] == [np.eye(2).tolist(), (2 * np.eye(2)).tolist()]


def test_robustness_curves_lines_markers_and_bars():
    curves = {"independent": {0.0: {"a": 1.0, "b": 0.8}, 0.1: {"a": 0.5, "b": 0.3}},
              "cross_stitch": {0.0: {"a": 0.9, "b": 0.9}, 0.1: {"a": 0.6, "b": 0.2}, 0.05: {"a": 0.7, "b": 0.7}}}
    fig = viz.robustness_curves(curves, eps=0.1)
    lines, markers, bars = fig.data[:2], fig.data[2:4], fig.data[4:]
    assert [t.name for t in lines] == ["independent", "cross_stitch"]
    assert list(lines[1].x) == [0.0, 0.05, 0.1] and list(lines[1].y) == pytest.approx([0.9, 0.7, 0.4])
    assert [list(t.x) for t in markers] == [[0.1], [0.1]] and list(markers[0].y) == pytest.approx([0.4])
    assert [t.type for t in bars] == ["bar", "bar"] and list(bars[1].y) == [0.6, 0.2] and list(bars[1].x) == ["a", "b"]
    assert fig.layout.meta == {"eps": 0.1}
    missing = viz.robustness_curves(curves, eps=0.05)            # independent was not measured there: no marker
    assert list(missing.data[2].y) == [None]
    with pytest.raises(ValueError, match="at least one eps"):
        viz.robustness_curves({"independent": {}})


def test_W_before_after_rows_and_change():
    before = [np.eye(3), np.eye(3)]
    after = [np.eye(3) + 0.1, np.eye(3) - 0.2]
    fig = viz.W_before_after(before, after, labels=["x", "y", "z"])
    assert [t.name for t in fig.data] == ["before stage 1", "before stage 2", "after stage 1", "after stage 2",
                                          "change stage 1", "change stage 2"]
    np.testing.assert_allclose(np.asarray(fig.data[5].z), -0.2 * np.ones((3, 3)))
    assert fig.data[0].zmax == fig.data[2].zmax                # before and after share a colour scale
    with pytest.raises(ValueError, match="same stages and shapes"):
        viz.W_before_after(before, after[:1])


def test_pareto_front_keeps_exactly_the_non_dominated_points():
    points = [(100, 90.0), (50, 90.0), (50, 85.0), (20, 80.0), (20, 80.0), (200, 95.0), (10, 10.0), (150, 92.0),
              (150, 91.0)]
    # (100, 90) is dominated by (50, 90); (50, 85) by (50, 90); the second (20, 80) repeats the first
    assert viz.pareto_front(points) == [6, 3, 1, 7, 5]
    assert viz.pareto_front([(1, 1.0)]) == [0]


def test_pareto_plot_has_one_series_per_run_and_the_front_last():
    from lab.cost import Report

    fp32 = Report("fp32", metric=0.97, saved_bytes=200_000)
    runs = {"a": [fp32, Report("prune:0.9", metric=0.96, packed_bytes=20_000),
                  Report("kmeans:16", metric=0.95, packed_bytes=7_000)],
            "b": [fp32, Report("fakequant:2", metric=0.50, packed_bytes=6_000),
                  Report("onnx", metric=None, file_bytes=5_000)]}          # no accuracy: left out
    fig = viz.pareto(runs)
    assert [t.name for t in fig.data] == ["a", "b", "Pareto front (non-dominated)"]
    assert list(fig.data[1].x) == [200_000, 6_000] and list(fig.data[1].y) == pytest.approx([97.0, 50.0])
    assert list(fig.data[0].customdata) == pytest.approx([1.0, 10.0, 200_000 / 7_000])
    front = fig.data[-1]
    assert list(front.x) == [6_000, 7_000, 20_000, 200_000] and fig.layout.xaxis.type == "log"
    assert fig.layout.meta["front"][0] == "b: fakequant:2 (torch)"
    with pytest.raises(ValueError, match="at least one recipe run"):
        viz.pareto({})


def test_compression_preview_marks_the_slider_on_both_panels():
    points = {0.0: (0.97, 200_000), 0.5: (0.96, 100_000), 0.9: (0.70, 20_000)}
    fig = viz.compression_preview(points, 0.9, 0.70, 20_000, "4-bit per channel", baseline=0.97, dense_bytes=204_989)
    curve, marker, size, size_marker = fig.data
    assert list(curve.x) == [0.0, 0.5, 0.9] and list(curve.y) == pytest.approx([97.0, 96.0, 70.0])
    assert list(marker.x) == [0.9] and list(size_marker.y) == [20_000] and list(size.y) == [200_000, 100_000, 20_000]
    assert fig.layout.yaxis2.type == "log" and "4-bit per channel" in fig.layout.title.text
    with pytest.raises(ValueError, match="at least one"):
        viz.compression_preview({}, 0.0, 1.0, 1)
