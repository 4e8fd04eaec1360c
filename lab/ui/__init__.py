"""Widget panels of the lab: plain classes that build ipywidgets and plotly FigureWidgets.

* :class:`CouplingPlayground` - choose data, modules and coupling, train (in a thread), watch W live,
  compare with baselines trained with the same budget;
* :class:`WInspector` - load saved runs, scrub epochs, heatmap or graph, two runs side by side;
* :class:`RobustnessPanel` - train strategies once, then an eps slider attacks them (robust accuracy per strategy);
* :class:`TransferPanel` - adapt a trained system to a shifted domain per transfer mode, before/after table and W;
* :class:`CompressionPanel` - train a reference network (or load a coupled run), preview pruning + bits with
  sliders, run compression recipes step by step onto a Pareto plot, export to ONNX;
* :class:`TuningPanel` - multi-objective search (Optuna) in the background, live Pareto front, open a trial;
* :class:`TrainingPanel` - the base of training panels (Train/Stop, progress, status, messages, thread).

Tests drive them without a browser: set widget ``.value``s, call ``.click()``, read the state.

The names load on first use (PEP 562, :mod:`lab.lazy`): ``import lab.ui`` is cheap and
``from lab.ui import CouplingPlayground`` imports only the playground and what it needs, not every panel.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "load_recipe_run": "lab.compress.recipe_runs", "saved_recipe_runs": "lab.compress.recipe_runs",
    "latest_digits_run": "lab.runs",
    "AdversarialChoice": ".adversarial_options",
    "ArenaPanel": ".arena",
    "TrainingPanel": ".base", "Throttle": ".base", "readable_error": ".base", "resolve_runs_root": ".base",
    "DataSelection": ".choices", "OptimiserChoice": ".choices",
    "CompressionPanel": ".compress",
    "ModelSource": ".compress_config", "RecipeConfig": ".compress_config", "parse_bits": ".compress_config",
    "FigureView": ".figure_view",
    "WInspector": ".inspector",
    "DATA_CHOICES": ".playground", "CouplingPlayground": ".playground", "PlaygroundConfig": ".playground",
    "parse_floats": ".playground", "parse_options": ".playground",
    "ProgressUpdates": ".progress",
    "ROBUST_DATA": ".robustness", "RobustnessConfig": ".robustness", "RobustnessPanel": ".robustness",
    "parse_modules": ".robustness",
    "TransferPanel": ".transfer", "TransferPanelConfig": ".transfer",
    "TuningPanel": ".tuning",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:   # the same names for type checkers and editors (tests/test_import_cost.py keeps them in step)
    from ..compress.recipe_runs import load_recipe_run, saved_recipe_runs
    from ..runs import latest_digits_run
    from .adversarial_options import AdversarialChoice
    from .arena import ArenaPanel
    from .base import Throttle, TrainingPanel, readable_error, resolve_runs_root
    from .choices import DataSelection, OptimiserChoice
    from .compress import CompressionPanel
    from .compress_config import ModelSource, RecipeConfig, parse_bits
    from .figure_view import FigureView
    from .inspector import WInspector
    from .playground import DATA_CHOICES, CouplingPlayground, PlaygroundConfig, parse_floats, parse_options
    from .progress import ProgressUpdates
    from .robustness import ROBUST_DATA, RobustnessConfig, RobustnessPanel, parse_modules
    from .transfer import TransferPanel, TransferPanelConfig
    from .tuning import TuningPanel
