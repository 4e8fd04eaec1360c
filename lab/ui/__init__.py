"""Widget panels of the lab: plain classes that build ipywidgets and plotly FigureWidgets.

* :class:`CouplingPlayground` - choose data, modules and coupling, train (in a thread), watch W live,
  compare with baselines trained with the same budget;
* :class:`WInspector` - load saved runs, scrub epochs, heatmap or graph, two runs side by side;
* :class:`TrainingPanel` - the base of training panels (Train/Stop, progress, status, messages, thread).

Tests drive them without a browser: set widget ``.value``s, call ``.click()``, read the state.
"""
from .base import TrainingPanel, Throttle, readable_error, resolve_runs_root
from .figure_view import FigureView
from .inspector import WInspector
from .playground import DATA_CHOICES, CouplingPlayground, PlaygroundConfig, parse_floats, parse_options

__all__ = ["DATA_CHOICES", "CouplingPlayground", "FigureView", "PlaygroundConfig", "Throttle", "TrainingPanel",
           "WInspector", "parse_floats", "parse_options", "readable_error", "resolve_runs_root"]
