"""Tab 2 Preview: sliders for sparsity and bit width (and per-channel/per-tensor scales).

Every change calls ``lab.compress.Preview``: magnitude pruning + fake quantization of the trained
model, no fine-tuning, scored on the test split, its packed file written to disk to count real
bytes. A curve of accuracy (and bytes) vs sparsity at the chosen bits is measured once per bits
setting (cached) and gains every point the slider visits. No job: a change made in Python runs on the
calling thread; slider steps from the browser are coalesced (``LatestOnly``: the last step wins, nothing
queues). A step at the same model and bits sends the readout table first, then patches the figure in place
(the two diamonds; the curves only when they gained a point) instead of redrawing it.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ...compress.fakequant import check_bits
from ...compress.preview import Preview, PreviewResult
from ...compress.prune import check_sparsity
from ...cost import count_flops, example_input
from ...viz import compression_preview
from ...viz.compression import compression_preview_update
from ..base import DESCRIPTION_STYLE, field_layout, readable_error
from ..coalesce import LatestOnly, from_browser
from ..compress_config import BITS_CHOICES, parse_bits
from ..compress_runs import LoadedModel
from ..figure_view import FigureView
from ..html import html_table
from .shell import Tab

if TYPE_CHECKING:
    import plotly.graph_objects as go

CURVE_SPARSITIES: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
_SLIDER = object()     # "use the slider's value"


def _curve_key(sparsity: float) -> float:
    return round(float(sparsity), 4)


class PreviewTab(Tab):
    """Owns the sliders, the readout and the figure. State: ``loaded`` (the model previewed),
    ``preview_result`` / ``preview_row`` (the sliders' setting), ``curves`` ({(granularity, bits):
    {sparsity: (accuracy, bytes)}}), ``previews`` (Preview calls made), ``preview_seconds`` (the last
    slider update, end to end)."""

    title = "Preview"

    def __init__(self, host, *, sparsity: float = 0.8, bits: int | None = 8, granularity: str = "channel"):
        super().__init__(host)
        check_sparsity(sparsity)
        if granularity not in ("channel", "tensor"):
            raise ValueError(f"granularity must be 'channel' or 'tensor', got {granularity!r}")
        s = DESCRIPTION_STYLE
        wide = field_layout          # one Layout per widget: its width, narrower when the notebook is
        self.sparsity = widgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="sparsity", style=s,
                                            readout_format=".2f", continuous_update=False, layout=wide("520px"))
        self.sparsity.add_class("lab-sparsity")
        self.bits = widgets.SelectionSlider(options=BITS_CHOICES, description="bits", style=s,
                                            continuous_update=False, layout=wide("520px"))
        self.bits.add_class("lab-bits")
        self.granularity = widgets.ToggleButtons(options=[("per channel", "channel"), ("per tensor", "tensor")],
                                                 description="scales", style=s,
                                                 tooltips=["one quantization scale per output channel",
                                                           "one scale for the whole weight tensor"])
        self.preview_info = widgets.HTML("")
        self.preview_info.add_class("lab-preview-info")
        self.preview_view = FigureView(css_class="lab-preview-view",
                                       placeholder="accuracy and size vs sparsity appear here once a model is ready")
        self.loaded: LoadedModel | None = None
        self.preview_result: PreviewResult | None = None
        self.preview_row: dict[str, Any] = {}
        self.preview_seconds: float | None = None
        self.previews = 0
        self.curves: dict[tuple[str, int | None], dict[float, tuple[float, int]]] = {}
        self._previewers: dict[str, Preview] = {}
        self._preview_lock = threading.RLock()
        self._example = None
        self._figure_key: tuple | None = None
        self._figure_xs: list[float] = []        # the curves' sparsities drawn now
        self._refresher = LatestOnly(self.refresh_preview, name="preview")
        self._quiet = True
        self.sparsity.value, self.bits.value, self.granularity.value = \
            sparsity, "float" if bits is None else str(check_bits(bits)), granularity
        self._quiet = False
        for w in (self.sparsity, self.bits, self.granularity):
            w.observe(lambda change: self._refresher.request(background=from_browser(change)), names="value")
        self.widget = widgets.VBox([
            widgets.HTML("Prune the smallest weights and round the rest to a <i>b</i>-bit grid - <b>no fine-tuning</b>,"
                         " so this is the raw damage; every slider move re-scores the model on the test split and "
                         "writes the packed file to count its real bytes."),
            self.sparsity, self.bits, self.granularity, self.preview_info, self.preview_view.box])

    def on_model(self, loaded: LoadedModel) -> None:
        """Forget the previous model's previews and curves; show the new model at the sliders' setting."""
        with self._preview_lock:
            for pv in self._previewers.values():
                pv.close()
            self._previewers, self.curves = {}, {}
            self.loaded = loaded
            self._example = example_input(loaded.model, loaded.data, 1)
        self.refresh_preview()

    def _previewer(self, granularity: str) -> Preview:
        if granularity not in self._previewers:
            self._previewers[granularity] = Preview(self.loaded.model, self.loaded.data, granularity=granularity,
                                                    threads=1)
        return self._previewers[granularity]

    def preview(self, sparsity: float | None = None, bits: str | int | None | object = _SLIDER,
                granularity: str | None = None) -> PreviewResult:
        """Prune to ``sparsity``, quantize to ``bits`` (None: float) and score on the test split; the
        readout and figure follow. Defaults: the sliders' values. ValueError for bad values."""
        loaded = self.host.require_model()
        t0 = time.perf_counter()
        sparsity = check_sparsity(self.sparsity.value if sparsity is None else sparsity)
        bits = parse_bits(self.bits.value if bits is _SLIDER else bits)
        granularity = granularity or self.granularity.value
        if granularity not in ("channel", "tensor"):
            raise ValueError(f"granularity must be 'channel' or 'tensor', got {granularity!r}")
        with self._preview_lock:
            if self.loaded is not loaded:
                raise ValueError("the model changed while previewing; move the slider again")
            pv = self._previewer(granularity)
            curve = self.curves.setdefault((granularity, bits), {})
            for s in CURVE_SPARSITIES:          # once per bits setting: the curve's shape
                if _curve_key(s) not in curve:
                    r = pv(s, bits)
                    self.previews += 1
                    curve[_curve_key(s)] = (r.accuracy, r.bytes)
            result = pv(sparsity, bits)         # the slider's point last: pv.work now holds its weights
            self.previews += 1
            curve[_curve_key(sparsity)] = (result.accuracy, result.bytes)
            flops, effective = count_flops(pv.work, self._example)
            points = dict(curve)
            dense_bytes = pv.dense_bytes
        bits_label = "float" if bits is None else f"{bits}-bit per {granularity}"
        self.preview_result = result
        self.preview_row = {"sparsity": sparsity, "bits": bits, "granularity": granularity,
                            "accuracy": result.accuracy, "bytes": result.bytes, "dense_bytes": dense_bytes,
                            "ratio": result.ratio, "nonzeros": result.nonzeros, "flops": flops,
                            "effective_flops": effective, "preview_ms": 1000 * result.seconds}
        dense_kflops = loaded.dense_flops / 1000
        rows = [{"model": "unmodified (float, dense)", "acc_%": 100 * loaded.metric, "bytes": dense_bytes,
                 "x_smaller": 1.0, "kFLOPs": dense_kflops, "eff_kFLOPs": dense_kflops},
                {"model": f"sparsity {sparsity:.2f}, {bits_label}", "acc_%": 100 * result.accuracy,
                 "bytes": result.bytes, "x_smaller": result.ratio, "kFLOPs": flops / 1000,
                 "eff_kFLOPs": effective / 1000}]
        self.preview_seconds = time.perf_counter() - t0
        caption = (f"test accuracy (mean over tasks), bytes of the file on disk (unmodified: torch.save; preview: the "
                   f"packed format), eff_kFLOPs: what a kernel skipping zeros would do; this preview took "
                   f"{1000 * result.seconds:.0f} ms ({1000 * self.preview_seconds:.0f} ms with FLOPs)")
        self.preview_info.value = html_table(rows, digits=2, highlight=(1,), caption=caption)   # the cheap text first
        self._draw(points, sparsity, result, bits_label, (loaded.version, granularity, bits), loaded, dense_bytes)
        return result

    def _draw(self, points: dict[float, tuple[float, int]], sparsity: float, result: PreviewResult, bits_label: str,
              figure_key: tuple, loaded: LoadedModel, dense_bytes: int) -> None:
        """Same model and bits as the figure shown: patch the diamonds (and the curves if they gained a point)
        in place; else draw the figure."""
        xs = sorted(points)
        if figure_key == self._figure_key and self.preview_view.figure is not None:
            traces, layout = compression_preview_update(points, sparsity, result.accuracy, result.bytes, bits_label,
                                                        dense_bytes=dense_bytes, curves=xs != self._figure_xs)
            if self.preview_view.patch(traces, layout):
                self._figure_xs = xs
                return
        self.preview_view.show(compression_preview(points, sparsity, result.accuracy, result.bytes, bits_label,
                                                   baseline=loaded.metric, dense_bytes=dense_bytes,
                                                   title=f"preview of {loaded.label}: prune + {bits_label}, "
                                                         "no fine-tuning"))
        self._figure_key, self._figure_xs = figure_key, xs
        return result

    def refresh_preview(self) -> None:
        """Re-score after a slider move (a readable message for bad values; a hint before any model)."""
        if self._quiet:
            return
        if self.loaded is None:
            self.host.show_message("There is no model to preview yet: train or load one first (tab 1 Model).", "info")
            return
        try:
            self.preview()
        except ValueError as err:
            self.host.show_message(f"Cannot preview: {readable_error(err)}", "error")
        else:
            if self.host.message_text.startswith(("Cannot preview", "There is no model to preview")):
                self.host.show_message("")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until slider steps from the browser are previewed; True when none is pending."""
        return self._refresher.wait(timeout)

    def preview_text(self) -> str:
        """The sliders' setting as one printable line (after any slider step still being previewed)."""
        self._refresher.wait(60)
        r = self.preview_row
        if not r:
            return "(no preview yet)"
        bits = "float" if r["bits"] is None else f"{r['bits']}-bit per {r['granularity']}"
        return (f"sparsity {r['sparsity']:.2f}, {bits}: accuracy {100 * r['accuracy']:.2f}%, {r['bytes']:,} bytes "
                f"({r['ratio']:.1f}x smaller than {r['dense_bytes']:,}), "
                f"effective {r['effective_flops'] / 1000:.1f} of "
                f"{r['flops'] / 1000:.1f} kFLOPs, {r['preview_ms']:.0f} ms")

    def preview_figure(self) -> "go.Figure | None":
        return self.preview_view.snapshot()
