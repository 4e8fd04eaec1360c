"""Tab 4 Export: the last float model of the latest recipe (or the model itself) to edge runtimes.

Runtime checkboxes (ONNX Runtime ticked by default, LiteRT, ExecuTorch). With ONNX Runtime ticked:
``lab.export_report.export_and_compare`` (shared with ``python -m lab compress --export``):
``model.onnx`` in that run's folder, ONNX Runtime parity per output, file bytes, ONNX Runtime vs
eager torch latency and, when the recipe ended in int8, the ONNX Runtime int8 file
(``lab.compress.recipe_runs.export_plan``), kept in the run's ``export.json``. With LiteRT or
ExecuTorch ticked too: the runtime arena over every ticked runtime (``lab.deploy.arena.run_arena``,
the table ``python -m lab deploy`` prints), files under ``<run>/arena/``, kept in ``arena.json``.
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
from ...cost import MeasureConfig, Report, measure
from ...deploy.arena import Arena, ArenaConfig, run_arena, save_arena
from ...deploy.registry import RUNTIMES, get_runtime
from ...export_report import ExportSummary, export_and_compare, save_export_summary
from ...runs import new_run_dir
from ..base import Job, wrap_row
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
        self.export_button = widgets.Button(description="Export", button_style="primary", icon="download",
                                            tooltip="export the last float model to the ticked runtimes, run it there")
        self.export_button.add_class("lab-export")
        self.export_info = widgets.HTML("<i>press Export ONNX after a recipe (or to export the model as it is)</i>")
        self.export_info.add_class("lab-export-info")
        self.export_summary: ExportSummary | None = None
        self.runtime_boxes = {name: widgets.Checkbox(value=name == "onnx", description=rt.label, indent=False,
                                                     layout=widgets.Layout(width="auto"))
                              for name, rt in RUNTIMES.items()}
        for name, box in self.runtime_boxes.items():
            box.add_class(f"lab-runtime-{name}")
        self.arena_info = widgets.HTML("")
        self.arena_info.add_class("lab-arena-info")
        self.arena: Arena | None = None
        self.export_button.on_click(lambda _: host.start(self.action))
        self.widget = widgets.VBox([
            widgets.HTML("Export the last <b>float</b> model of the latest recipe to the ticked runtimes. ONNX "
                         "Runtime: one file (batch axis dynamic), checked, run and compared with torch; when the "
                         "recipe ended in int8, ONNX Runtime quantizes the file too. Tick LiteRT or ExecuTorch for "
                         "the <b>runtime arena</b>: every ticked runtime in fp32 and its own int8, side by side."),
            wrap_row([widgets.HTML("runtimes:"), *self.runtime_boxes.values()]),
            self.export_button, self.export_info, self.arena_info])

    def ticked(self) -> tuple[str, ...]:
        """The runtimes whose boxes are ticked, in registry order."""
        return tuple(name for name, box in self.runtime_boxes.items() if box.value)

    def prepare(self) -> Job:
        loaded = self.host.require_model()
        runtimes = self.ticked()
        if not runtimes:
            raise ValueError("tick at least one runtime (" + ", ".join(rt.label for rt in RUNTIMES.values()) + ")")
        for name in runtimes:
            get_runtime(name).check_installed()         # refused with how to install it
        return partial(self._export, self.settings(), loaded, runtimes)

    def _export(self, config: RecipeConfig, loaded: LoadedModel, runtimes: tuple[str, ...],
                stop: threading.Event) -> None:
        host, p = self.host, self.host.progress
        run = next((r for r in reversed(self.runs()) if r.model_version == loaded.version and r.models), None)
        measure_config = config.measure()
        p.max, p.value, p.bar_style = 3, 0, "info"
        self.export_summary = self.arena = None
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
            torch_report = None
        if "onnx" in runtimes:
            self._export_onnx(model, Path(run_dir), what, loaded, measure_config, torch_report, modes, int8)
        else:
            self.export_info.value = "<i>ONNX Runtime not ticked: no ONNX export table</i>"
        if set(runtimes) - {"onnx"}:
            self._run_arena(model, Path(run_dir), what, loaded, measure_config, runtimes, modes)
        else:
            self.arena_info.value = "<i>tick LiteRT or ExecuTorch too for the runtime arena</i>"
        p.value, p.bar_style = p.max, "success"

    def _export_onnx(self, model, run_dir: Path, what: str, loaded: LoadedModel, measure_config: MeasureConfig,
                     torch_report: Report | None, modes: tuple[str, ...], int8: tuple | None) -> None:
        host, p = self.host, self.host.progress
        if torch_report is None:
            host.status.value = f"measuring {loaded.label} in torch..."
            torch_report = measure(model, loaded.data, "fp32", measure_config)
        path = run_dir / "model.onnx"

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
        p.value = 3
        host.status.value = f"exported {path.name} ({s.bytes:,} bytes), parity {parity} <= {s.atol:g}"

    def _run_arena(self, model, run_dir: Path, what: str, loaded: LoadedModel, measure_config: MeasureConfig,
                   runtimes: tuple[str, ...], modes: tuple[str, ...]) -> None:
        host, p = self.host, self.host.progress
        config = ArenaConfig(runtimes=runtimes, latency=measure_config.latency, threads=measure_config.threads,
                             onnx_int8=modes[0] if modes else "dynamic")
        p.max, p.value = p.value + 2 * len(runtimes) + 1, p.value

        def on_stage(stage: str) -> None:
            host.status.value = f"arena: {stage} ({what})..."
            p.value = min(p.value + 1, p.max - 1)

        self.arena = arena = run_arena(model, run_dir / "arena", loaded.data, config, label=loaded.label,
                                       on_stage=on_stage)
        save_arena(run_dir, arena, what)
        timing = "" if measure_config.latency else " (latency not measured: tick 'time every step' in the Recipe tab)"
        verdict = "".join(f"<br>{html.escape(line)}" for line in arena.int8_verdict())
        self.arena_info.value = (
            f"<b>Runtime arena</b>: {html.escape(what)}; files in {html.escape(str(run_dir / 'arena'))}"
            f"{html.escape(timing)}" + html_table(arena.rows(), digits=3, caption=(
                f"KB: file on disk; parity: max |runtime - torch| (int8: argmax agreement, max logit difference); "
                f"us@b: median microseconds per call at batch b, {arena.threads} thread(s), interleaved rounds; "
                f"x@b: eager torch time / this time in the same round; mem_KB where the runtime exposes it")) + verdict)
        host.status.value = (f"arena done: {len(arena.entries) - 1} files ({', '.join(runtimes)}) "
                             f"in {arena.seconds:.0f} s")

    def export_text(self) -> str:
        """The export table (and the arena, if one ran) as plain text (for print)."""
        text = "(nothing exported yet)" if self.export_summary is None else self.export_summary.text()
        return text if self.arena is None else text + "\n\n" + self.arena.text()
