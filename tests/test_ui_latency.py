"""What makes the panels feel instant, checked without a browser (no timing assertions): the bytes a slider
step or a Train click sends, the widget state a panel leaves behind, figures updated in place, and slider
bursts coalesced so that the last step wins. The timings themselves: bench/browser_latency.py."""
import base64
import gzip
import json
import threading
from importlib.resources import files

import ipywidgets as widgets
from ipywidgets.widgets.widget import _instances
import numpy as np
import plotly.graph_objects as go
import pytest

from compress_helpers import digits1, trained
from lab.history import History
from lab.ui import CouplingPlayground, PlaygroundConfig, WInspector
from lab.ui.coalesce import LatestOnly
from lab.ui.compress import PreviewTab, TabbedPanel
from lab.ui.compress_runs import LoadedModel
from lab.ui.figure_view import FigureView
from lab.ui.plotly_widget import LabFigureWidget, plotly_bundle
from lab.viz import compression_preview
from lab.viz.compression import compression_preview_update
from lab.viz.training import downsample, training_curves

KB, MB = 1000, 1000 ** 2
STATE_BUDGET = 5 * MB          # what an executed notebook may store (issue 14)


def state_bytes(ws) -> int:
    """Bytes of the widget state of ``ws`` as a notebook stores it (JSON, binary buffers base64'd)."""
    state = widgets.Widget.get_manager_state(drop_defaults=False, widgets=ws)   # as saved: _esm included
    return len(json.dumps(state, default=str))


def live_widgets() -> dict:
    """{model id: widget} of every open widget."""
    return {k: w for k, w in list(_instances.items()) if w.comm is not None}


class Sent:
    """Counts what the kernel sends: state updates of existing widgets and the opening state of new ones."""

    def __init__(self, monkeypatch):
        self.messages: list[tuple[str, int, list[str]]] = []
        original = widgets.Widget._send

        def record(widget, msg, buffers=None):
            size = len(json.dumps(msg, default=str)) + sum(len(b) for b in buffers or ())
            self.messages.append((type(widget).__name__, size, sorted(msg.get("state", {}))))
            return original(widget, msg, buffers)

        monkeypatch.setattr(widgets.Widget, "_send", record)
        self.before = live_widgets()

    def opened(self) -> list:
        return [w for k, w in live_widgets().items() if k not in self.before]

    def total(self) -> int:
        return sum(size for _, size, _ in self.messages) + state_bytes(self.opened())


# --- the shared plotly.js --------------------------------------------------------------------------------------
def test_figure_widgets_share_one_compressed_copy_of_plotly_js():
    a, b = LabFigureWidget(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).data), LabFigureWidget()
    code = files("plotly").joinpath("package_data", "widgetbundle.js").read_bytes()
    bundle = plotly_bundle()
    assert gzip.decompress(base64.b64decode(bundle.code)) == code             # plotly's own bundle, whole
    assert a._lab_bundle == b._lab_bundle == bundle.model_id and a._lab_bundle_key == bundle.key
    assert len(code) > 4 * MB and len(bundle.code) < 2.5 * MB                 # once, compressed
    assert state_bytes([a]) < 20 * KB and state_bytes([b]) < 20 * KB          # per figure: the loader only
    assert "get_model" in a._esm and "DecompressionStream" in a._esm
    plain = go.FigureWidget()
    assert len(plain._esm) > 4 * MB                                           # what it replaces
    plain.close()


def test_a_figure_view_keeps_one_widget_for_its_life():
    view = FigureView(placeholder="nothing yet")
    lines = go.Figure([go.Scatter(x=[0, 1], y=[1, 2], name="curve"), go.Scatter(x=[0.5], y=[1.5], name="marker")])
    fw = view.show(lines)
    assert view.patch({1: {"x": [0.7], "y": [1.7]}}, {"title.text": "moved"})
    assert fw.data[1].x == (0.7,) and fw.data[0].x == (0, 1) and fw.layout.title.text == "moved"
    assert not view.patch({5: {"x": [1]}})                                    # no such trace: nothing changes
    view.clear("gone")
    assert view.figure is None and fw.comm is not None                        # hidden, not closed
    assert not view.patch({0: {"x": [1]}})
    heat = view.show(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))               # other trace types: same widget
    assert heat is fw and [t.type for t in fw.data] == ["heatmap"] and view.box.children == (fw,)
    assert view.show(lines) is fw and [t.name for t in fw.data] == ["curve", "marker"]


def test_downsampled_step_losses_keep_the_mean_and_the_ends():
    x, y = np.arange(1, 1001) / 100, np.linspace(2.0, 0.1, 1000)
    dx, dy = downsample(x, y, 100)
    assert len(dx) == len(dy) == 100 and dy.mean() == pytest.approx(y.mean())
    assert dx[0] == pytest.approx(x[:10].mean()) and dy[-1] == pytest.approx(y[-10:].mean())
    sx, sy = downsample(x[:50], y[:50], 100)                                  # short: unchanged
    np.testing.assert_array_equal(sy, y[:50])
    with pytest.raises(ValueError, match="max_points must be >= 1"):
        downsample(x, y, 0)


# --- coalescing slider steps -----------------------------------------------------------------------------------
def test_a_burst_of_requests_runs_once_more_with_the_last_value():
    value, seen, started, release = [0], [], threading.Event(), threading.Event()

    def refresh():
        seen.append(value[0])
        started.set()
        release.wait(10)

    latest = LatestOnly(refresh)
    latest.request()                         # runs in the background: returns at once
    assert started.wait(10) and latest.busy
    for v in range(1, 6):                    # a burst while the first refresh runs: nothing queues
        value[0] = v
        latest.request()
    release.set()
    assert latest.wait(10)
    assert seen == [0, 5] and latest.requests == 6 and latest.runs == 2
    latest.request(background=False)         # from Python: in the calling thread, done on return
    assert seen == [0, 5, 5] and not latest.busy


@pytest.fixture(scope="module")
def loaded():
    return LoadedModel.of(trained(), digits1(), "mlp", "an mlp trained in the test", version=1)


def preview_tab(tmp_path, loaded) -> PreviewTab:
    host = TabbedPanel(runs_root=tmp_path / "runs", update_interval=0.0)
    tab = host.add_tab(PreviewTab(host, sparsity=0.8, bits=8))
    host.use_model(loaded)
    return tab


def test_a_slider_step_patches_the_figure_and_sends_the_table_first(tmp_path, loaded, monkeypatch):
    tab = preview_tab(tmp_path, loaded)
    fw = tab.preview_view.figure
    sent = Sent(monkeypatch)
    tab.sparsity.set_state({"value": 0.85})          # what a browser step does (a comm message)
    assert tab.wait(60) and tab.preview_row["sparsity"] == pytest.approx(0.85)
    assert tab.preview_view.figure is fw and not sent.opened()            # in place: no new widget
    assert fw.data[1].x == (0.85,) and fw.data[1].y[0] == pytest.approx(100 * tab.preview_row["accuracy"])
    assert fw.data[3].y == (tab.preview_row["bytes"],) and 0.85 in fw.data[0].x   # the curve gained the point
    senders = [name for name, _, _ in sent.messages]
    assert senders.index("HTML") < senders.index("LabFigureWidget")       # the table goes out first
    assert sent.total() < 30 * KB, sent.messages                          # not a figure, not megabytes
    # the patched figure is the figure a full redraw would give
    points = tab.curves[("channel", 8)]
    full = compression_preview(points, 0.85, tab.preview_row["accuracy"], tab.preview_row["bytes"],
                               "8-bit per channel", dense_bytes=tab.preview_row["dense_bytes"])
    for shown, want in zip(fw.data, full.data):
        np.testing.assert_allclose(shown.x, want.x) and np.testing.assert_allclose(shown.y, want.y)
    np.testing.assert_allclose(fw.layout.yaxis2.range, full.layout.yaxis2.range)
    sent.messages.clear()
    tab.sparsity.set_state({"value": 0.85})          # the same point again: only the diamonds (no curve resend)
    tab.sparsity.set_state({"value": 0.8})
    assert tab.wait(60)
    fig_state = [keys for name, _, keys in sent.messages if name == "LabFigureWidget"]
    assert fig_state and sum(size for name, size, _ in sent.messages) < 10 * KB


def test_a_burst_of_browser_steps_previews_the_last_one(tmp_path, loaded):
    tab = preview_tab(tmp_path, loaded)
    gate, entered = threading.Event(), threading.Event()
    real = tab.refresh_preview

    def slow_refresh():
        entered.set()
        gate.wait(30)
        real()

    tab._refresher.refresh = slow_refresh
    tab.sparsity.set_state({"value": 0.5})
    assert entered.wait(10)
    for v in (0.55, 0.6, 0.65, 0.7):                 # arrive while the first step is being previewed
        tab.sparsity.set_state({"value": v})
    gate.set()
    assert tab.wait(60)
    assert tab._refresher.runs == 2 and tab.preview_row["sparsity"] == pytest.approx(0.7)
    assert tab.preview_view.figure.data[1].x == (0.7,)
    tab.sparsity.value = 0.9                         # from Python: previewed when the assignment returns
    assert tab.preview_row["sparsity"] == pytest.approx(0.9) and "sparsity 0.90" in tab.preview_text()


# --- playground and inspector ------------------------------------------------------------------------------------
SMALL = dict(width=16, stages=2, epochs=3, small_data=True, baselines=())


def test_a_train_click_says_so_at_once_and_a_second_run_sends_kilobytes(tmp_path, monkeypatch):
    earlier = live_widgets()
    pg = CouplingPlayground(PlaygroundConfig(**SMALL), runs_root=tmp_path / "runs", update_interval=0.0)
    statuses = []
    pg.status.observe(lambda c: statuses.append(c["new"]), names="value")
    assert pg.run() and statuses[0].startswith("starting")       # before any work, the first thing shown
    W_fig, curves_fig = pg.W_view.figure, pg.curves_view.figure
    sent = Sent(monkeypatch)
    pg.seed.value = 1
    assert pg.run() and pg.error is None
    assert not sent.opened() and pg.W_view.figure is W_fig and pg.curves_view.figure is curves_fig
    updates = len(sent.messages)                                  # every step with update_interval=0
    assert max(size for _, size, _ in sent.messages) < 20 * KB, max(sent.messages, key=lambda m: m[1])
    assert sent.total() < 2 * KB * updates, (sent.total(), updates)       # a few hundred bytes each on average
    mine = [w for k, w in live_widgets().items() if k not in earlier]
    bundle = plotly_bundle()
    assert state_bytes(mine + ([bundle] if all(w is not bundle for w in mine) else [])) < STATE_BUDGET


def test_the_first_W_is_on_screen_before_the_training_thread_starts(tmp_path):
    pg = CouplingPlayground(PlaygroundConfig(**SMALL), runs_root=tmp_path / "runs", update_interval=0.0)
    pg.prepare()                                      # what the click does before it starts the thread
    fw = pg.W_view.figure
    assert fw is not None and fw.layout.title.text == "W of cross_stitch before training"
    shown = [np.asarray(t.z, dtype=float) for t in fw.data]
    assert pg.run()                                   # the run's own W before training is the one shown
    h = pg.history
    assert len(shown) == len(h.W_init) == 2
    for z, W in zip(shown, h.W_init):
        np.testing.assert_allclose(z, np.asarray(W), rtol=1e-6)
    assert [list(t.x) for t in fw.data] == [list(h.task_names)] * 2


def test_a_long_run_draws_at_most_400_step_losses():
    h = History(task_names=["a"], strategy="cross_stitch", steps_per_epoch=100)
    h.step_loss = list(np.linspace(3.0, 0.5, 5000))
    steps = {t.name: t for t in training_curves(h).data}["joint loss (steps)"]
    assert len(steps.y) == 400 and steps.x[-1] == pytest.approx(np.mean((np.arange(4988, 5000) + 1) / 100))
    short = {t.name: t for t in training_curves(h, max_step_points=10_000).data}["joint loss (steps)"]
    assert len(short.y) == 5000


def test_panels_after_their_main_interaction_store_less_than_5_mb(tmp_path, loaded):
    before = live_widgets()
    pg = CouplingPlayground(PlaygroundConfig(**SMALL), runs_root=tmp_path / "runs", update_interval=0.0)
    for seed in (0, 1):
        pg.seed.value = seed
        assert pg.run()
    tab = preview_tab(tmp_path, loaded)
    for v in (0.5, 0.6, 0.9):
        tab.sparsity.value = v
    tab.bits.value = "4"
    insp = WInspector(tmp_path / "runs")
    for e in range(insp.epoch.min, insp.epoch.max + 1):
        insp.epoch.value = e
    new = [w for k, w in live_widgets().items() if k not in before]
    figures = [w for w in new if isinstance(w, go.FigureWidget)]
    assert 2 + 1 + 3 <= len(figures) <= 2 + 1 + 4 and all(isinstance(w, LabFigureWidget) for w in figures)
    bundle = plotly_bundle()
    assert state_bytes(new + ([bundle] if all(w is not bundle for w in new) else [])) < STATE_BUDGET


def test_the_epoch_scrubber_sets_only_z_in_place(tmp_path, monkeypatch):
    pg = CouplingPlayground(PlaygroundConfig(**SMALL), runs_root=tmp_path / "runs", update_interval=60.0)
    assert pg.run()
    insp = WInspector(tmp_path / "runs")
    fw, h = insp.W_view.figure, insp.history()
    sent = Sent(monkeypatch)
    insp.epoch.value = 1
    assert insp.W_view.figure is fw and not sent.opened()
    for trace, W in zip(fw.data, h.W_at(0)):
        np.testing.assert_allclose(np.asarray(trace.z, dtype=float), W)
    assert fw.layout.title.text == f"W of {h.strategy}, epoch 1"
    figure_messages = [size for name, size, _ in sent.messages if name == "LabFigureWidget"]
    assert figure_messages and max(figure_messages) < 5 * KB, sent.messages
    insp.stage.value = 1                              # another stage: drawn anew, then scrubbed in place
    insp.epoch.value = 0
    np.testing.assert_allclose(np.asarray(fw.data[0].z, dtype=float), np.asarray(h.W_init[1]))
    assert len(fw.data) == 1 and fw.layout.title.text == f"W of {h.strategy}, stage 2, epoch 0"


def test_no_panel_makes_a_plain_figure_widget():
    """A plain ``go.FigureWidget`` carries its own ~5 MB plotly.js (sent per figure, stored per figure in an
    executed notebook): every panel of lab.ui makes ``LabFigureWidget``s (through FigureView or directly)."""
    from pathlib import Path
    ui = Path(__file__).resolve().parents[1] / "lab" / "ui"
    plain = [p.relative_to(ui).as_posix() for p in sorted(ui.rglob("*.py"))
             if p.name != "plotly_widget.py" and "FigureWidget(" in p.read_text(encoding="utf-8").replace(
                 "LabFigureWidget(", "")]
    assert plain == []


def test_the_detection_panel_shows_its_figures_through_the_shared_plotly_js(tmp_path, monkeypatch):
    from lab.ui.detection import DetectionPanel
    panel = DetectionPanel(runs_root=tmp_path / "runs")
    assert isinstance(panel.curves, LabFigureWidget) and isinstance(panel.view, LabFigureWidget)
    assert state_bytes([panel.curves, panel.view]) < 100 * KB
