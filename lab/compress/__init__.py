"""Compression for the edge: one module per technique, each ``(model, config) -> (model, Report)``.

=================  ==========================================  =========================
module             entry function                              config
=================  ==========================================  =========================
``prune``          ``prune`` (unstructured, layer/global)      ``PruneConfig``
``structured``     ``prune_channels`` (Torch-Pruning)          ``ChannelPruneConfig``
``gradual``        ``gradual_prune`` (Zhu & Gupta)             ``GradualConfig``
``sensitivity``    ``sensitivity_scan`` (analysis, no model)   ``SensitivityConfig``
``fakequant``      ``fake_quantize`` (2-16 bits)               ``FakeQuantConfig``
``int8``           ``quantize_int8`` (dynamic/static/QAT)      ``Int8Config``
``share``          ``share_weights`` (k-means)                 ``KMeansConfig``
``distill``        ``distill`` (Hinton KD)                     ``DistillConfig``
``ensemble``       ``ensemble`` (averaging)                    ``EnsembleConfig``
``recipe``         ``run_recipe`` (any order)                  ``RecipeOptions``
``recipe_runs``    ``record_recipe`` (saved step by step)      ``RecipeConfig``
``preview``        ``Preview`` (fast slider preview)           -
=================  ==========================================  =========================

Entry functions take data and measurement settings as keyword arguments; the cost model and the
``Report`` type live in :mod:`lab.cost`, the packed on-disk format in :mod:`lab.formats.packed`.
"""
from ..formats.packed import read_packed, write_packed
from .budgets import BudgetConfig, budget_compress
from .distill import DistillConfig, distill, kd_loss, kl_to_teacher
from .distill_system import MultiHeadStudent, SystemDistillConfig, distill_system
from .edge_preview import EdgePreview, EdgePreviewResult
from .edges import EdgePruneConfig, prune_edges
from .ensemble import AveragingEnsemble, EnsembleConfig, ensemble
from .fakequant import FakeQuantConfig, fake_quantize, fake_quantize_tensor
from .fit import FitConfig, fit
from .gradual import GradualConfig, gradual_prune, sparsity_schedule
from .int8 import Int8Config, quantize_int8
from .modules import ModulePruneConfig, remove_modules
from .preview import Preview, PreviewResult, preview
from .prune import PruneConfig, global_magnitude_masks, layer_sparsity, magnitude_mask, prune
from .recipe import STEPS, RecipeOptions, RecipeResult, parse_recipe, run_recipe
from .recipe_config import RecipeConfig
from .recipe_runs import RecipeRun, export_plan, load_recipe_run, record_recipe, save_recipe_run, saved_recipe_runs
from .reference import digit_data, train_reference
from .sensitivity import SensitivityConfig, SensitivityResult, sensitivity_scan
from .share import KMeansConfig, share_weights
from .structured import ChannelPruneConfig, prune_channels

__all__ = [
    "AveragingEnsemble", "ChannelPruneConfig", "DistillConfig", "EnsembleConfig", "FakeQuantConfig", "FitConfig",
    "GradualConfig", "Int8Config", "KMeansConfig", "Preview", "PreviewResult", "PruneConfig", "RecipeOptions",
    "RecipeResult", "STEPS", "SensitivityConfig", "SensitivityResult", "digit_data", "distill", "ensemble",
    "fake_quantize", "fake_quantize_tensor", "fit", "global_magnitude_masks", "gradual_prune", "kd_loss",
    "kl_to_teacher", "layer_sparsity", "magnitude_mask", "parse_recipe", "preview", "prune", "prune_channels",
    "quantize_int8", "read_packed", "run_recipe", "sensitivity_scan", "share_weights", "sparsity_schedule",
    "train_reference", "write_packed",
]
__all__ += ["RecipeConfig", "RecipeRun", "export_plan", "load_recipe_run", "record_recipe", "save_recipe_run",
            "saved_recipe_runs"]
__all__ += ["BudgetConfig", "EdgePreview", "EdgePreviewResult", "EdgePruneConfig", "ModulePruneConfig",
            "MultiHeadStudent", "SystemDistillConfig", "budget_compress", "distill_system", "prune_edges",
            "remove_modules"]
