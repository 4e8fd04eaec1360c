"""Detection panel: train the two-stage detector with a lambda slider and a coupling selector.

    panel = DetectionPanel()
    panel.coupling.value = "all"          # or one of lab.detection.DETECTION_COUPLINGS
    panel.lam.value = 1.0; panel.detach.value = False; panel.epochs.value = 15
    panel.train_button.click(); panel.wait()    # or panel.run()
    panel.rows                            # one row per run so far (metrics, params, train time)
    panel.verdict_lines                   # the lesson's question answered from those rows, per lambda

Every run trains on the same data (cluttered-canvas digits, ``lab.data.load_detection``, loaded once per
seed) with ``lab.detection.run_detection``; the figures show the validation curves of every run so far, one
line each, and what the classifier of the latest run sees on six test canvases. ``LAB_FAST=1`` keeps 300
digits and at most 3 epochs.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from html import escape

import ipywidgets as widgets
import plotly.graph_objects as go

from ..data import load_detection
from ..detection import (DEFAULT_TRAIN, DETECTION_COUPLINGS, DETECTION_METRICS, DetectionConfig, DetectionResult,
                         DetectionSettings, classifier_windows, run_detection)
from ..detection.summary import QUESTION, verdict
from ..settings import fast_mode
from ..tables import format_table
from ..train import FunctionCallback, TrainConfig
from ..validation import check_int, check_seed
from ..viz.detection import classifier_view, detection_curves
from .base import TrainingPanel, field_layout, settings_row, titled_column
from .plotly_widget import LabFigureWidget

ALL = "all"
FAST_LIMIT, FAST_EPOCHS, SHOWN = 300, 3, 6


class DetectionPanel(TrainingPanel):
    """Coupling selector (one coupling or ``"all"``), lambda slider, detach box, epochs and seed (module docstring)."""

    title = "Detection: features -> proposal -> classifier"

    def __init__(self, **kw):
        super().__init__(**kw)
        fast = fast_mode()
        self.coupling = widgets.Dropdown(options=[ALL, *DETECTION_COUPLINGS], value=ALL, description="coupling",
                                         layout=field_layout())
        self.lam = widgets.FloatSlider(value=1.0, min=0.0, max=4.0, step=0.25, description="lambda",
                                       continuous_update=False, layout=field_layout())
        self.detach = widgets.Checkbox(value=False, description="detach the box (no L_loc into the proposal)",
                                       indent=False, layout=field_layout())
        self.epochs = widgets.IntSlider(value=FAST_EPOCHS if fast else DEFAULT_TRAIN.epochs, min=1, max=40,
                                        description="epochs", continuous_update=False, layout=field_layout())
        self.seed = widgets.IntText(value=0, description="seed", layout=field_layout("200px"))
        self.coupling.add_class("lab-coupling")
        self.lam.add_class("lab-lambda")
        first = detection_curves({})     # LabFigureWidget: one shared plotly.js per kernel, not 5 MB per figure
        self.curves = LabFigureWidget(data=first.data, layout=first.layout)
        self.view = LabFigureWidget()
        self.table = widgets.HTML("")
        self.verdict = widgets.HTML("")
        self.results: dict[str, DetectionResult] = {}
        self.rows: list[dict] = []
        self.verdict_lines: list[str] = []
        self._data, self._data_seed = None, None
        settings = settings_row(titled_column("coupling", self.coupling, self.detach),
                                titled_column("loss L = L_det + lambda (L_cls + L_loc)", self.lam, self.epochs,
                                              self.seed))
        self.ui = widgets.VBox([widgets.HTML(f"<b>{escape(self.title)}</b>"), settings, self.controls, self.message,
                                self.curves, self.view, self.table, self.verdict])
        self.table.add_class("lab-results")
        self.ui.add_class("lab-detection")          # CSS classes: for the browser test

    # --- settings -> job ------------------------------------------------------------------------------
    def prepare(self):
        couplings = list(DETECTION_COUPLINGS) if self.coupling.value == ALL else [self.coupling.value]
        settings = DetectionSettings(lam=self.lam.value)
        config = DetectionConfig(couplings[0], detach_box=bool(self.detach.value), seed=check_seed(self.seed.value))
        epochs = check_int("epochs", self.epochs.value, min=1, max=1000)
        train_config = TrainConfig(epochs=min(epochs, FAST_EPOCHS) if fast_mode() else epochs,
                                   batch_size=DEFAULT_TRAIN.batch_size, lr=DEFAULT_TRAIN.lr, seed=config.seed)
        return lambda stop: self._train(couplings, config, train_config, settings, stop)

    def _load(self, seed: int):
        if self._data is None or self._data_seed != seed:
            self.status.value = "making the data ..."
            self._data = load_detection(seed=seed, limit=FAST_LIMIT if fast_mode() else None)
            self._data_seed = seed
        return self._data

    def _train(self, couplings, config: DetectionConfig, train_config: TrainConfig, settings: DetectionSettings,
               stop: threading.Event) -> None:
        data = self._load(config.seed)
        self.progress.max = len(couplings) * train_config.epochs
        self.progress.value, self.progress.bar_style = 0, "info"
        for coupling in couplings:
            if stop.is_set():
                break
            label = f"{coupling} lambda={settings.lam:g}" + (" detached" if config.detach_box else "") \
                + (f" seed={config.seed}" if config.seed else "")
            self.status.value = f"training {label} ..."
            tick = FunctionCallback(on_epoch=lambda system, history, label=label: self._epoch(label, history))
            result = run_detection(data, replace(config, coupling=coupling), train_config, settings,
                                   callbacks=(tick,), stop=stop)
            self.results[label] = result
            self.rows.append({"run": label, **result.row()})
            self._show_result(data, result)
        self.verdict_lines = verdict(self.rows)
        self.status.value = ("stopped" if stop.is_set() else "done") + f": {len(self.rows)} runs so far"
        self.progress.bar_style = "success"

    # --- display --------------------------------------------------------------------------------------
    def _epoch(self, label: str, history) -> None:
        self.progress.value = min(self.progress.max, self.progress.value + 1)
        histories = {k: r.history for k, r in self.results.items()}
        histories[label] = history
        self._replace(self.curves, detection_curves(histories))

    @staticmethod
    def _replace(widget: go.FigureWidget, fig: go.Figure) -> None:
        with widget.batch_update():
            widget.data = []
            widget.add_traces(list(fig.data))
            widget.layout = fig.layout

    def _show_result(self, data, result: DetectionResult) -> None:
        x = data.test.x[:SHOWN]
        windows, crops = classifier_windows(result.system, x)
        out = result.system.eval()(x)
        captions = [f"{int(t)} → {int(p)}" for t, p in zip(data.test.y["digit"][:SHOWN], out["digit"].argmax(-1))]
        self._replace(self.view, classifier_view(x[:, 0].numpy(), data.test.y["box"][:SHOWN].numpy(),
                                                 windows.numpy(), crops[:, 0].numpy(), captions,
                                                 title=f"{result.coupling}: what the classifier sees"))
        columns = ["run", *DETECTION_METRICS, "params", "train_s"]
        self.table.value = "<pre>" + escape(format_table(self.rows, columns)) + "</pre>"
        self.verdict.value = (f"<p><b>{escape(QUESTION)}</b></p><ul>"
                              + "".join(f"<li>{escape(line)}</li>" for line in verdict(self.rows)) + "</ul>")
