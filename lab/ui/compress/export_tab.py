"""Tab 4 Export: the last float model of the latest recipe (or the model itself) to ONNX.

``lab.export_report.export_and_compare`` (shared with ``python -m lab compress --export``):
``model.onnx`` in that run's folder, ONNX Runtime parity per output, file bytes, ONNX Runtime vs
eager torch latency and, when the recipe ended in int8, the ONNX Runtime int8 file
(``lab.compress.recipe_runs.export_plan``). The result is kept in the run's ``export.json``.
"""
from __future__ import annotations

import html
import threading
from functools import partial
from pathlib import Path
from typing import Callable

import ipywidgets as widgets

from ...compress.recipe_config import RecipeConfig
from ...compress.recipe_runs import RecipeRun, export_plan
from ...cost import measure
from ...export_report import ExportSummary, export_and_compare, save_export_summary
from ...runs import new_run_dir
from ..base import Job
from ..compress_runs import LoadedModel
from ..html import html_table
from .shell import Tab


class ExportTab(Tab):
    """Owns the Export ONNX button and its readout; ``export_summary`` holds the last export.

    ``runs()``: the recipe runs to export from (the latest one made from the current model wins);
    ``settings()``: the RecipeConfig whose measurement settings (latency, threads) the export uses.
    """

    title = "Export"
    action = "export"
    verb = "export"

    def __init__(self, host, runs: Callable[[], list[RecipeRun]], settings: Callable[[], RecipeConfig]):
        super().__init__(host)
        self.runs, self.settings = runs, settings
        self.export_button = widgets.Button(description="Export ONNX", button_style="primary", icon="download",
                                            tooltip="export the last float model to ONNX and run it with ONNX Runtime")
        self.export_button.add_class("lab-export")
        self.export_info = widgets.HTML("<i>press Export ONNX after a recipe (or to export the model as it is)</i>")
        self.export_info.add_class("lab-export-info")
        self.export_summary: ExportSummary | None = None
        self.export_button.on_click(lambda _: host.start(self.action))
        self.widget = widgets.VBox([
            widgets.HTML("Export the last <b>float</b> model of the latest recipe to ONNX (one file, batch axis "
                         "dynamic), check it, run it with ONNX Runtime and compare with torch; when the recipe ended "
                         "in int8, ONNX Runtime quantizes the file too."),
            self.export_button, self.export_info])

    def prepare(self) -> Job:
        loaded = self.host.require_model()
        return partial(self._export, self.settings(), loaded)

    def _export(self, config: RecipeConfig, loaded: LoadedModel, stop: threading.Event) -> None:
        host, p = self.host, self.host.progress
        run = next((r for r in reversed(self.runs()) if r.model_version == loaded.version and r.models), None)
        measure_config = config.measure()
        p.max, p.value, p.bar_style = 3, 0, "info"
        modes: tuple[str, ...] = ()
        int8: tuple | None = None
        if run is not None:
            i, modes = export_plan(run.steps, len(run.reports) - 1)
            model, torch_report, run_dir = run.models[i], run.reports[i], run.run_dir
            what = f"{run.reports[i].step} of recipe {run.recipe}"
            if modes:                               # the recipe ended in int8: quantize the ONNX file too
                int8 = (run.models[-1], run.reports[-1])
        else:
            model, run_dir, what = loaded.model, new_run_dir(f"compress-{loaded.label}-export",
                                                             root=host.runs_root), f"{loaded.label} as it is"
            host.status.value = f"measuring {loaded.label} in torch..."
            torch_report = measure(model, loaded.data, "fp32", measure_config)
        path = Path(run_dir) / "model.onnx"

        def on_stage(stage: str) -> None:
            if stage == "timing":
                host.status.value = "timing the torch model(s)..."
            elif stage == "exporting":
                host.status.value = f"exporting {what} to {path.name} and running ONNX Runtime..."
                p.value = 1
            else:
                p.value = 2

        s = export_and_compare(model, path, loaded.data, torch_report, modes=modes, int8=int8, config=measure_config,
                               on_stage=on_stage)
        self.export_summary = s
        save_export_summary(run_dir, what, s)
        parity = s.parity()
        timing = "" if measure_config.latency else \
            " (latency not measured: tick 'time every step' in the Recipe tab for the speed columns)"
        self.export_info.value = (
            f"<b>{html.escape(str(path))}</b> ({s.bytes:,} bytes; exported: {html.escape(what)})<br>"
            f"onnx.checker passed; ONNX Runtime vs torch max |difference| per output: {html.escape(parity)} "
            f"(tolerance {s.atol:g}) - parity holds{html.escape(timing)}"
            + html_table(s.rows, digits=2, caption="sizes: files on disk (torch rows: the packed or torch.save file); "
                                                   "us: median at batch 1; x_faster: eager torch time of the exported "
                                                   "float model / this time"))
        p.value, p.bar_style = 3, "success"
        host.status.value = f"exported {path.name} ({s.bytes:,} bytes), parity {parity} <= {s.atol:g}"

    def export_text(self) -> str:
        """The export table as plain text (for print)."""
        return "(nothing exported yet)" if self.export_summary is None else self.export_summary.text()
