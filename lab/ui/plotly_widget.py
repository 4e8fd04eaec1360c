"""``LabFigureWidget``: a plotly ``FigureWidget`` that shares one copy of plotly.js per kernel.

Why: plotly 7's ``FigureWidget`` is an anywidget whose ``_esm`` trait *is* the whole plotly.js
bundle (~5 MB of text). Every figure widget sends it to the browser when it opens, and a notebook
executed with stored widget state keeps one copy per figure ever created (notebook 03 of the lab
stored ~56 MB). ``LabFigureWidget`` sends a small loader instead (~2 KB): the bundle lives once, gzip
compressed (~2 MB of base64 text), in a hidden :class:`PlotlyBundle` widget; the loader fetches it
from the widget manager, decompresses it in the browser (``DecompressionStream``) and imports it once
per page, then hands the figure to plotly's own ``initialize``/``render``. In Python it is a
``FigureWidget`` in every respect (same traces, ``batch_update``, ``restyle`` ...).
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from importlib.resources import files

import ipywidgets as widgets
import plotly.graph_objects as go
import traitlets

_LOADER_ESM = """
// lab.ui.plotly_widget: load plotly's widget bundle once per page from a shared PlotlyBundle widget
const WAIT_MS = 20000;
async function bundleModel(model) {
  const id = model.get("_lab_bundle");
  const start = Date.now();
  for (;;) {
    try { return await model.widget_manager.get_model(id); }
    catch (err) {
      if (Date.now() - start > WAIT_MS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
async function importBundle(model) {
  const bundle = await bundleModel(model);
  const bytes = Uint8Array.from(atob(bundle.get("code")), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const code = await new Response(stream).text();
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  try { return await import(url); } finally { URL.revokeObjectURL(url); }
}
function loadPlotly(model) {
  const cache = (globalThis.__labPlotlyBundles ??= new Map());
  const key = model.get("_lab_bundle_key");
  if (!cache.has(key)) {
    const loading = importBundle(model);
    cache.set(key, loading);
    loading.catch(() => cache.delete(key));
  }
  return cache.get(key);
}
export default () => {
  let inner = null;
  return {
    async initialize(ctx) {
      const mod = await loadPlotly(ctx.model);
      inner = mod.default();
      return inner.initialize ? inner.initialize(ctx) : undefined;
    },
    render(ctx) { return inner.render(ctx); },
  };
};
"""

_lock = threading.Lock()
_compressed: tuple[str, str] | None = None       # (base64 of the gzip'd bundle, its sha256)
_bundle: "PlotlyBundle | None" = None


def _compressed_bundle() -> tuple[str, str]:
    """plotly's widget bundle, gzip'd and base64'd (computed once per process: ~0.2 s), and its hash."""
    global _compressed
    if _compressed is None:
        code = files("plotly").joinpath("package_data", "widgetbundle.js").read_bytes()
        _compressed = (base64.b64encode(gzip.compress(code, 6, mtime=0)).decode("ascii"),
                       hashlib.sha256(code).hexdigest()[:16])
    return _compressed


class PlotlyBundle(widgets.Widget):
    """A hidden widget (never displayed) holding plotly.js: ``code`` = base64 of the gzip'd bundle."""

    code = traitlets.Unicode("").tag(sync=True)
    key = traitlets.Unicode("").tag(sync=True)


def plotly_bundle() -> PlotlyBundle:
    """The process's one open :class:`PlotlyBundle` (a new one if the last was closed)."""
    global _bundle
    with _lock:
        if _bundle is None or _bundle.comm is None:
            code, key = _compressed_bundle()
            _bundle = PlotlyBundle(code=code, key=key)
        return _bundle


class LabFigureWidget(go.FigureWidget):
    """A ``go.FigureWidget`` whose browser code comes from the shared :func:`plotly_bundle`."""

    _esm = _LOADER_ESM
    _lab_bundle = traitlets.Unicode("").tag(sync=True)
    _lab_bundle_key = traitlets.Unicode("").tag(sync=True)

    def __init__(self, data=None, layout=None, **kwargs):
        self._lab_owner = plotly_bundle()   # opened first: the browser knows it before this figure asks
        super().__init__(data=data, layout=layout, **kwargs)

    @traitlets.default("_lab_bundle")
    def _default_bundle(self) -> str:
        return self._lab_owner.model_id

    @traitlets.default("_lab_bundle_key")
    def _default_bundle_key(self) -> str:
        return self._lab_owner.key
