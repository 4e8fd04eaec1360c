"""``CompressionPanel``: the four compression tabs in one shell, with the API notebooks and tests use.

The panel is a :class:`TabbedPanel` holding ``model_tab``, ``preview_tab``, ``recipe_tab``,
``export_tab`` and ``w_tab`` (cross-stitch systems: compression guided by W); each tab owns its widgets
and its job. The panel forwards their widgets and state
under the names notebooks use (``cp.sparsity``, ``cp.runs``, ``cp.export_summary``, ...) and their
methods (``cp.preview(...)``, ``cp.load_saved(...)``, ...).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...compress.preview import PreviewResult
from ...compress.recipe_config import RecipeConfig
from ...compress.recipe_runs import RecipeRun
from ..compress_config import ModelSource
from .export_tab import ExportTab
from .model_tab import ModelTab
from .preview_tab import _SLIDER, PreviewTab
from .recipe_tab import RecipeTab
from .shell import TabbedPanel
from .w_tab import WTab

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _forward(tab: str, name: str) -> property:
    """A property reading (and setting) ``self.<tab>.<name>``."""
    return property(lambda self: getattr(getattr(self, tab), name),
                    lambda self, value: setattr(getattr(self, tab), name, value),
                    doc=f"``{tab}.{name}``")


class CompressionPanel(TabbedPanel):
    """The compression panel (see :mod:`lab.ui.compress`).

    ``source``/``recipe`` set the initial widget values; ``sparsity``, ``bits`` (2-16 or None for
    float) and ``granularity`` ("channel" or "tensor") the preview sliders'. State for tests and
    notebooks: ``loaded`` (LoadedModel), ``preview_result`` / ``preview_row`` (the sliders' setting),
    ``curves`` ({(granularity, bits): {sparsity: (accuracy, bytes)}}), ``previews`` (Preview calls
    made), ``preview_seconds`` (the last slider update, end to end), ``runs`` (RecipeRun list, every
    recipe this session), ``recipe_rows`` (the table shown), ``export_summary``.
    """

    title = "Compression"
    header = "Compression for the edge: what does each step buy?"

    def __init__(self, source: ModelSource | None = None, recipe: RecipeConfig | None = None, *,
                 sparsity: float = 0.8, bits: int | None = 8, granularity: str = "channel",
                 runs_root=None, update_interval: float = 0.25, num_threads: int | None = 1):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        self.model_tab = self.add_tab(ModelTab(self, source))
        self.preview_tab = self.add_tab(PreviewTab(self, sparsity=sparsity, bits=bits, granularity=granularity))
        self.recipe_tab = self.add_tab(RecipeTab(self, recipe))
        self.export_tab = self.add_tab(ExportTab(self, runs=lambda: self.recipe_tab.runs,
                                                 settings=self.recipe_tab.read_recipe))
        self.w_tab = self.add_tab(WTab(self, on_run=self.recipe_tab.add_run))
        self.ui.add_class("lab-compression")

    # --- 1 Model -------------------------------------------------------------------------------------------
    source_kind = _forward("model_tab", "source_kind")
    network = _forward("model_tab", "network")
    epochs = _forward("model_tab", "epochs")
    seed = _forward("model_tab", "seed")
    run_select = _forward("model_tab", "run_select")
    refresh_button = _forward("model_tab", "refresh_button")
    model_info = _forward("model_tab", "model_info")
    reference_box = _forward("model_tab", "reference_box")
    run_box = _forward("model_tab", "run_box")

    def set_source(self, source: ModelSource) -> None:
        """Put ``source`` into the Model tab's widgets."""
        self.model_tab.set_source(source)

    def read_source(self) -> ModelSource:
        """The Model tab's values as a validated ModelSource (ValueError with the reason otherwise)."""
        return self.model_tab.read_source()

    def refresh_runs(self) -> list[Path]:
        """List the saved runs on the digits tasks in the run dropdown (newest first)."""
        return self.model_tab.refresh_runs()

    def train(self) -> bool:
        """Train (or load) the model chosen in the Model tab and wait."""
        return self.run("model")

    # --- 2 Preview -----------------------------------------------------------------------------------------
    sparsity = _forward("preview_tab", "sparsity")
    bits = _forward("preview_tab", "bits")
    granularity = _forward("preview_tab", "granularity")
    preview_info = _forward("preview_tab", "preview_info")
    preview_view = _forward("preview_tab", "preview_view")
    preview_result = _forward("preview_tab", "preview_result")
    preview_row = _forward("preview_tab", "preview_row")
    preview_seconds = _forward("preview_tab", "preview_seconds")
    previews = _forward("preview_tab", "previews")
    curves = _forward("preview_tab", "curves")

    def preview(self, sparsity: float | None = None, bits: str | int | None | object = _SLIDER,
                granularity: str | None = None) -> PreviewResult:
        """Prune to ``sparsity``, quantize to ``bits`` (None: float) and score on the test split; the
        readout and figure follow. Defaults: the sliders' values. ValueError for bad values."""
        return self.preview_tab.preview(sparsity, bits, granularity)

    def refresh_preview(self) -> None:
        """Re-score after a slider move (a readable message for bad values; a hint before any model)."""
        self.preview_tab.refresh_preview()

    def preview_text(self) -> str:
        """The sliders' setting as one printable line."""
        return self.preview_tab.preview_text()

    def preview_figure(self) -> "go.Figure | None":
        return self.preview_tab.preview_figure()

    # --- 3 Recipe ------------------------------------------------------------------------------------------
    recipe = _forward("recipe_tab", "recipe")
    finetune_epochs = _forward("recipe_tab", "finetune_epochs")
    finetune_lr = _forward("recipe_tab", "finetune_lr")
    latency = _forward("recipe_tab", "latency")
    weights = _forward("recipe_tab", "weights")
    recipe_button = _forward("recipe_tab", "recipe_button")
    clear_button = _forward("recipe_tab", "clear_button")
    recipe_table = _forward("recipe_tab", "recipe_table")
    pareto_view = _forward("recipe_tab", "pareto_view")
    runs = _forward("recipe_tab", "runs")
    recipe_rows = _forward("recipe_tab", "recipe_rows")
    live_run = _forward("recipe_tab", "live_run")

    def set_recipe(self, config: RecipeConfig) -> None:
        """Put ``config`` into the Recipe tab's widgets."""
        self.recipe_tab.set_recipe(config)

    def read_recipe(self) -> RecipeConfig:
        """The Recipe tab's values as a validated RecipeConfig (ValueError with the reason otherwise)."""
        return self.recipe_tab.read_recipe()

    def compress(self) -> bool:
        """Run the recipe of the Recipe tab and wait."""
        return self.run("recipe")

    def clear_runs(self) -> None:
        """Forget this session's recipe runs (the table, the Pareto plot); their folders stay on disk."""
        self.recipe_tab.clear_runs()

    def load_saved(self, run_dir: str | Path) -> RecipeRun:
        """Add a recipe run saved earlier (by the panel or ``python -m lab compress --save``) to the table
        and the Pareto plot."""
        return self.recipe_tab.load_saved(run_dir)

    def recipe_text(self, run: RecipeRun | None = None) -> str:
        """The step table of ``run`` (default: the latest) as plain text (for print)."""
        return self.recipe_tab.recipe_text(run)

    def pareto_figure(self) -> "go.Figure | None":
        return self.recipe_tab.pareto_figure()

    # --- 4 Export ------------------------------------------------------------------------------------------
    export_button = _forward("export_tab", "export_button")
    export_info = _forward("export_tab", "export_info")
    export_summary = _forward("export_tab", "export_summary")
    runtime_boxes = _forward("export_tab", "runtime_boxes")
    arena = _forward("export_tab", "arena")
    arena_info = _forward("export_tab", "arena_info")

    def export(self) -> bool:
        """Export the last float model to the ticked runtimes (Export tab; ONNX by default) and wait."""
        return self.run("export")

    def export_text(self) -> str:
        """The export table as plain text (for print)."""
        return self.export_tab.export_text()

    # --- 5 W -----------------------------------------------------------------------------------------------
    edge_threshold = _forward("w_tab", "threshold")
    w_info = _forward("w_tab", "w_info")
    w_preview_row = _forward("w_tab", "preview_row")
    w_runs = _forward("w_tab", "w_runs")

    def w_preview(self, threshold: float | None = None):
        """Remove the coupling edges with |W| < ``threshold`` (default: the W tab's slider) and score the system
        without fine-tuning (an ``EdgePreviewResult``)."""
        return self.w_tab.preview(threshold)

    def apply_w(self, kind: str = "edges") -> bool:
        """Run the W tab's step - ``edges`` (prune under the threshold) or ``modules`` (remove the modules W
        needs least) - with fine-tuning, and wait; the result joins the Recipe tab's Pareto plot."""
        return self.w_tab.apply(kind)
