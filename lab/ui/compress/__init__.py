"""Compression panel: make a trained model small for the edge and measure what every step buys.

    cp = CompressionPanel()                        # in a notebook: display(cp) shows the panel
    cp.train()                                     # 1 Model: train the reference MLP (= Train, waiting)
    cp.sparsity.value, cp.bits.value = 0.9, "4"    # 2 Preview: re-scored at once, no fine-tuning
    cp.preview_row                                 # accuracy, bytes, ratio, effective FLOPs of that setting
    cp.recipe.value = "prune:0.9,kmeans:16,int8"
    cp.compress()                                  # 3 Recipe: step by step (= Run recipe, waiting)
    cp.runs[-1].reports, cp.pareto_figure()        # one lab.cost.Report per step; all runs on one Pareto plot
    cp.export()                                    # 4 Export: ONNX file, parity, ONNX Runtime latency and int8
    cp.runtime_boxes["litert"].value = True; cp.export(); cp.arena   # + LiteRT (and ExecuTorch): the runtime arena

Five tabs, one status line (with Stop) below them; one controller per tab, each owning its widgets
and its job (:mod:`.shell` holds the shell and the tab interface):

1. **Model** (:mod:`.model_tab`) - a reference network (``lab.models``: mlp, lenet, dscnn) trained on
   the digits in the background (seeded, seconds), or a ``CoupledSystem`` loaded from a saved run
   trained on the digits tasks (``lab.runs``; e.g. a cross-stitch run of the playground or
   ``python -m lab couple``).
2. **Preview** (:mod:`.preview_tab`) - sliders for sparsity and bit width (and per-channel/per-tensor
   scales) call ``lab.compress.Preview`` on every change: pruning + fake quantization, no fine-tuning.
3. **Recipe** (:mod:`.recipe_tab`) - ``lab.compress.run_recipe`` in the background, step by step with
   fine-tuning; every run saved as ``runs/<time>-compress-<model>/recipe.json`` and added to the
   **Pareto plot** (accuracy vs real bytes).
4. **Export** (:mod:`.export_tab`) - the last float model of the latest recipe (or the model itself)
   to ONNX, with parity, file bytes, ONNX Runtime vs eager torch latency and the int8 file; runtime
   checkboxes add LiteRT and ExecuTorch: the runtime arena (``lab.deploy.arena``), fp32 and int8 side by side.
5. **W** (:mod:`.w_tab`) - for a cross-stitch system: the W graph with an edge-threshold slider that
   re-scores the system without fine-tuning (``lab.compress.EdgePreview``), and buttons that prune
   edges or remove the module W needs least with fine-tuning (``lab.compress.w_runs``); results join
   the Recipe tab's Pareto plot.

The jobs the CLI shares live in core: ``lab.compress.recipe_config`` (RecipeConfig),
``lab.compress.recipe_runs`` (saving runs, ``export_plan``), ``lab.export_report`` (the export table)
and ``lab.runs`` (saved digits runs and their data split). Bad values (a step that does not exist,
sparsity >= 1, bits outside 2-16) give a readable message in the panel, never a traceback.
``bench/compress_panel.py`` times a slider move through the panel.
"""
from ...export_report import ExportSummary
from .export_tab import ExportTab
from .model_tab import ModelTab
from .panel import CompressionPanel
from .preview_tab import CURVE_SPARSITIES, PreviewTab
from .recipe_tab import TABLE_COLUMNS, RecipeTab
from .shell import Tab, TabbedPanel
from .w_tab import WTab

__all__ = ["CURVE_SPARSITIES", "TABLE_COLUMNS", "CompressionPanel", "ExportSummary", "ExportTab", "ModelTab",
           "PreviewTab", "RecipeTab", "Tab", "TabbedPanel", "WTab"]
