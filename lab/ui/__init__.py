"""Widget panels of the lab: plain classes that build ipywidgets and plotly FigureWidgets.

* :class:`CouplingPlayground` - choose data, modules and coupling, train (in a thread), watch W live,
  compare with baselines trained with the same budget;
* :class:`WInspector` - load saved runs, scrub epochs, heatmap or graph, two runs side by side;
* :class:`RobustnessPanel` - train strategies once, then an eps slider attacks them (robust accuracy per strategy);
* :class:`TransferPanel` - adapt a trained system to a shifted domain per transfer mode, before/after table and W;
* :class:`CompressionPanel` - train a reference network (or load a coupled run), preview pruning + bits with
  sliders, run compression recipes step by step onto a Pareto plot, export to ONNX;
* :class:`TuningPanel` - multi-objective search (Optuna) in the background, live Pareto front, open a trial;
* :class:`ArenaPanel` - two loss weightings side by side: task weights per epoch and Delta m % (the arena);
* :class:`TrainingPanel` - the base of training panels (Train/Stop, progress, status, messages, thread).

Tests drive them without a browser: set widget ``.value``s, call ``.click()``, read the state.
"""
from ..compress.recipe_runs import load_recipe_run, saved_recipe_runs
from ..runs import latest_digits_run
from .adversarial_options import AdversarialChoice
from .arena import ArenaPanel
from .base import TrainingPanel, Throttle, readable_error, resolve_runs_root
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

__all__ = ["DATA_CHOICES", "ROBUST_DATA", "AdversarialChoice", "ArenaPanel", "CompressionPanel", "DataSelection", "OptimiserChoice", "CouplingPlayground", "FigureView", "ModelSource",
           "RecipeConfig", "latest_digits_run", "load_recipe_run", "parse_bits", "saved_recipe_runs", "PlaygroundConfig", "ProgressUpdates",
           "RobustnessConfig", "RobustnessPanel", "Throttle", "TrainingPanel", "TransferPanel", "TransferPanelConfig", "TuningPanel",
           "WInspector", "parse_floats", "parse_modules", "parse_options", "readable_error", "resolve_runs_root"]
