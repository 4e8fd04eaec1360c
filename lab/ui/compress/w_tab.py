"""Tab W: compress a cross-stitch system by its learned coupling W.

The W graph (modules as nodes, an arrow j -> i for every kept edge W_ij) with an **edge threshold**
slider: every move (on release: ``continuous_update=False`` debounces a drag into one call) re-scores
the system with the edges |W_ij| < threshold removed, **without fine-tuning**
(``lab.compress.EdgePreview``): accuracy per task, edges kept, bytes of the packed file. Two
buttons run a W step in the background with fine-tuning (``lab.compress.w_runs.apply_w_step``; Stop
ends it between optimiser steps): prune the edges under the threshold, or remove the module(s) W
needs least (re-routing their tasks). Each result is shown as before/after W heatmaps and handed to
``on_run`` (the panel puts it on the Recipe tab's table and Pareto plot, beside the ordinary recipes).
"""
from __future__ import annotations

import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

import ipywidgets as widgets

from ...compress.edge_preview import EdgePreview, EdgePreviewResult
from ...compress.fit import FitConfig
from ...compress.modules import MODULE_SCORES
from ...compress.recipe_runs import RecipeRun
from ...compress.w_runs import apply_w_step
from ...coupling.pruned import PrunedSystem
from ...coupling.restructure import check_prunable
from ...runs import new_run_dir
from ...viz import W_before_after, W_graph
from ..base import DESCRIPTION_STYLE, Job, Throttle, field_layout, readable_error, wrap_row
from ..compress_runs import LoadedModel
from ..figure_view import FigureView
from ..html import html_table
from .shell import Tab

if TYPE_CHECKING:
    import plotly.graph_objects as go

_NO_SYSTEM = ("The W tab compresses a <b>cross-stitch</b> system by its learned W: load a saved cross_stitch run in "
              "tab 1 (<code>python -m lab couple --data digits --strategy cross_stitch --save</code>).")


def original_W(model) -> list:
    """The coupling per stage in the original module numbering (zeros where pruned)."""
    return model.original_matrices() if isinstance(model, PrunedSystem) else model.coupling_matrices()


class WTab(Tab):
    """Owns the threshold slider, the W graph, the readout, the W-step buttons and the heatmaps. State:
    ``preview_result`` / ``preview_row`` (the slider's setting), ``previews`` (calls made),
    ``preview_seconds`` (the last slider move, end to end), ``w_runs`` (every W step applied)."""

    title = "W"
    action = "w"
    verb = "apply the W step"

    def __init__(self, host, on_run: Callable[[RecipeRun], None] | None = None, *, finetune_epochs: int = 3):
        super().__init__(host)
        self.on_run = on_run
        s = DESCRIPTION_STYLE
        self.threshold = widgets.FloatSlider(min=0.0, max=1.0, step=0.001, value=0.0, description="edge threshold",
                                             readout_format=".3f", continuous_update=False, style=s,
                                             layout=field_layout("520px"))
        self.threshold.add_class("lab-w-threshold")
        self.stage = widgets.ToggleButtons(options=[("stage 1", 0)], description="graph of", style=s)
        self.finetune_epochs = widgets.BoundedIntText(finetune_epochs, min=0, max=500, description="fine-tune epochs",
                                                      style=s, layout=field_layout("330px"))
        self.remove = widgets.BoundedIntText(1, min=1, max=64, description="modules to remove", style=s,
                                             layout=field_layout("330px"))
        self.module_score = widgets.Dropdown(options=list(MODULE_SCORES), value="w", description="choose by", style=s,
                                             layout=field_layout("330px"))
        self.edges_button = widgets.Button(description="Prune edges + fine-tune", button_style="primary", icon="cut",
                                           tooltip="remove the edges under the threshold and fine-tune (background)")
        self.module_button = widgets.Button(description="Remove module(s) + fine-tune", icon="minus-circle",
                                            tooltip="remove the modules W needs least, re-route their tasks, fine-tune")
        self.w_info = widgets.HTML(f"<i>{_NO_SYSTEM}</i>")
        self.w_info.add_class("lab-w-info")
        self.result_info = widgets.HTML("")
        self.graph_view = FigureView(css_class="lab-w-graph", placeholder="the W graph appears here for a cross-stitch "
                                                                          "system")
        self.heatmap_view = FigureView(css_class="lab-w-heatmaps", placeholder="W before and after a W step appears here")
        self.loaded: LoadedModel | None = None
        self.preview_result: EdgePreviewResult | None = None
        self.preview_row: dict[str, Any] = {}
        self.preview_seconds: float | None = None
        self.previews = 0
        self.w_runs: list[RecipeRun] = []
        self._previewer: EdgePreview | None = None
        self._lock = threading.RLock()
        self._step: str | None = None
        self._quiet = False
        self.threshold.observe(lambda _: self.refresh_preview(), names="value")
        self.stage.observe(lambda _: self._draw_graph(), names="value")
        self.edges_button.on_click(lambda _: self._start("edges"))
        self.module_button.on_click(lambda _: self._start("modules"))
        self.widget = widgets.VBox([
            widgets.HTML("Which coupling edges, which modules can go? Move the threshold: edges with |W<sub>ij</sub>| "
                         "below it are removed from the graph and the system is re-scored on the test split - <b>no "
                         "fine-tuning</b>. Then prune them, or remove the module W needs least, with fine-tuning."),
            self.threshold, self.w_info, wrap_row([self.graph_view.box, widgets.VBox([self.stage])]),
            wrap_row([widgets.VBox([self.finetune_epochs, self.edges_button]),
                          widgets.VBox([self.remove, self.module_score, self.module_button])]),
            self.result_info, self.heatmap_view.box])
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for w in (self.threshold, self.stage, self.edges_button, self.module_button):
            w.disabled = not on

    # --- the model ---------------------------------------------------------------------------------------
    def on_model(self, loaded: LoadedModel) -> None:
        """A new model: a cross-stitch system gets its W graph and preview; anything else a hint."""
        with self._lock:
            if self._previewer is not None:
                self._previewer.close()
            self._previewer, self.loaded, self.preview_result, self.preview_row = None, loaded, None, {}
            try:
                check_prunable(loaded.model, "the W tab")
            except ValueError as err:
                self._enable(False)
                self.w_info.value = f"<i>{_NO_SYSTEM}</i><br>{readable_error(err)}"
                self.graph_view.clear("no learned W to show")
                return
            self._previewer = EdgePreview(loaded.model, loaded.data)
            top = self._previewer.max_threshold()
            self._quiet = True
            try:
                self.threshold.max = max(top * 1.001, 1e-3)
                self.threshold.step = max(top / 500, 1e-5)
                self.threshold.value = 0.0
                stages = len(self._previewer.scores)
                self.stage.options = [(f"stage {s + 1}", s) for s in range(stages)]
                self.stage.value = stages - 1
                self.remove.max = max(loaded.model.num_modules - 1, 1)
            finally:
                self._quiet = False
            self._enable(True)
        self._draw_graph()
        self.refresh_preview()

    def _draw_graph(self) -> None:
        if self._quiet or self.loaded is None or self._previewer is None:
            return
        W = original_W(self.loaded.model)[self.stage.value]
        self.graph_view.show(W_graph(W, labels=self._labels(), threshold=self.threshold.value, slider=False,
                                     title=f"W of stage {self.stage.value + 1}: edges with |W| >= threshold"))

    def _labels(self) -> list[str]:
        return [f"{m}:{t}" for m, t in enumerate(self.loaded.model.task_names)]

    # --- the preview ---------------------------------------------------------------------------------------
    def preview(self, threshold: float | None = None) -> EdgePreviewResult:
        """Remove the edges with |W| < ``threshold`` (default: the slider's), score without fine-tuning; the
        readout and the graph follow. ValueError without a cross-stitch system or for a bad threshold."""
        loaded = self.host.require_model()
        t0 = time.perf_counter()
        threshold = self.threshold.value if threshold is None else threshold
        with self._lock:
            if self._previewer is None or self.loaded is not loaded:
                check_prunable(loaded.model, "the W tab")
                raise ValueError("the model changed while previewing; move the slider again")
            result = self._previewer(threshold)
            self.previews += 1
        strengths = [abs(float(W[i, j])) for W in [original_W(loaded.model)[self.stage.value]]
                     for i in range(W.shape[0]) for j in range(W.shape[0]) if i != j]
        self.graph_view.restyle([{"visible": s >= threshold} for s in strengths] + [{}, {}],
                                title=f"W of stage {self.stage.value + 1}: edges with |W| >= {threshold:.3f}")
        self.preview_result = result
        self.preview_row = {"threshold": threshold, "edges_kept": result.edges_kept, "edges_total": result.edges_total,
                            "accuracy": result.accuracy, "metrics": dict(result.metrics), "bytes": result.bytes,
                            "dense_bytes": result.dense_bytes, "preview_ms": 1000 * result.seconds}
        rows = [{"model": "full system", **{t: 100 * v for t, v in loaded.metrics.items()}, "mean_%": 100 * loaded.metric,
                 "edges": f"{result.edges_total}/{result.edges_total}", "bytes": result.dense_bytes},
                {"model": f"|W| >= {threshold:.3f}, no fine-tuning", **{t: 100 * v for t, v in result.metrics.items()},
                 "mean_%": 100 * result.accuracy, "edges": f"{result.edges_kept}/{result.edges_total}",
                 "bytes": result.bytes}]
        self.preview_seconds = time.perf_counter() - t0
        caption = (f"test metric per task in %, off-diagonal edges kept over all stages, bytes of the packed file; "
                   f"this preview took {1000 * result.seconds:.0f} ms ({1000 * self.preview_seconds:.0f} ms with the "
                   f"graph)")
        self.w_info.value = html_table(rows, digits=2, highlight=(1,), caption=caption)
        return result

    def refresh_preview(self) -> None:
        """Re-score after a slider move (a readable message for problems, nothing without a system)."""
        if self._quiet or self._previewer is None:
            return
        try:
            self.preview()
        except ValueError as err:
            self.host.show_message(f"Cannot preview: {readable_error(err)}", "error")
        else:
            if self.host.message_text.startswith("Cannot preview"):
                self.host.show_message("")

    # --- the job: a W step with fine-tuning -------------------------------------------------------------------
    def step_text(self, kind: str) -> str:
        """The recipe step a button runs: ``edges:threshold=T`` or ``modules:K[:score]``."""
        if kind == "edges":
            return f"edges:threshold={self.threshold.value:g}"
        score = self.module_score.value
        return f"modules:{self.remove.value}" + ("" if score == "w" else f":{score}")

    def _start(self, kind: str) -> None:
        self._step = self.step_text(kind)
        self.host.start(self.action)

    def prepare(self) -> Job:
        loaded = self.host.require_model()
        check_prunable(loaded.model, "the W tab")
        step = self._step or self.step_text("edges")
        self._step = None
        finetune = FitConfig(epochs=self.finetune_epochs.value, lr=1e-3, seed=0)
        return partial(self._apply, step, finetune, loaded)

    def apply(self, kind: str = "edges") -> bool:
        """Run a W step (``edges`` or ``modules``) with the widgets' settings and wait; True when it ran."""
        self._step = self.step_text(kind)
        return self.host.run(self.action)

    def _apply(self, step: str, finetune: FitConfig, loaded: LoadedModel, stop: threading.Event) -> None:
        host, p = self.host, self.host.progress
        p.max, p.value, p.bar_style = 1, 0, "info"
        host.status.value = f"W step {step}: pruning, then {finetune.epochs} epochs of fine-tuning..."
        throttle = Throttle(host.update_interval)

        def on_progress(done: int, total: int) -> None:
            if throttle.ready():
                p.max, p.value = max(total, 1), done
                host.status.value = f"W step {step}: fine-tuning step {done}/{total}"

        run = RecipeRun(f"W {len(self.w_runs) + 1}: {loaded.label} {step}", "", loaded.label,
                        run_dir=new_run_dir(f"compress-{loaded.label}-w", root=host.runs_root),
                        model_version=loaded.version)
        apply_w_step(run, loaded.model, loaded.data, step, finetune, stop=stop, on_progress=on_progress,
                     model_description=loaded.description)
        if run.stopped:
            p.bar_style = "warning"
            host.status.value = f"stopped: W step {step} during fine-tuning - a half-tuned system is not kept"
            return
        self.w_runs.append(run)
        if self.on_run is not None:
            self.on_run(run)
        ref, last = run.reports
        extra = last.extra
        what = (f"removed module(s) {extra['removed']}" if "removed" in extra else
                f"kept {extra['edges_kept']} of {extra['edges_before']} edges")
        self.result_info.value = html_table(
            [{"model": r.step, **{t: 100 * v for t, v in r.metrics.items()}, "mean_%": 100 * r.metric,
              "bytes": r.bytes, "kFLOPs": r.flops / 1000} for r in run.reports], digits=2, highlight=(1,),
            caption=f"{step}: {what}, fine-tuned {finetune.epochs} epochs; saved in {run.run_dir.name} and added to "
                    "the Recipe tab's Pareto plot")
        self.heatmap_view.show(W_before_after(original_W(loaded.model), original_W(run.models[-1]), self._labels(),
                                              title=f"W before and after {step} (zeros: removed)"))
        p.max, p.value, p.bar_style = 1, 1, "success"
        host.status.value = (f"done: {step}: {what}; accuracy {100 * ref.metric:.2f}% -> {100 * last.metric:.2f}%, "
                             f"{ref.bytes:,} -> {last.bytes:,} bytes")

    def heatmap_figure(self) -> "go.Figure | None":
        return self.heatmap_view.snapshot()
