"""The tuning studio's core: multi-objective search over coupling and compression settings on Optuna.

=================  ==========================================================================
module             what it holds
=================  ==========================================================================
``spaces``         ``Param``, ``SearchSpace``: search spaces as data (saved with the study)
``catalog``        ``SPACES``: mlp_compression (per layer), coupling, couple_then_compress
``trials``         ``plan_trial`` / ``run_plan``: a trial's params -> ordinary lab calls
``objectives``     ``OBJECTIVES``: validation accuracy, bytes on disk, latency ratio, FLOPs
``storage``        embedded SQLite / journal file under ``runs/``, PostgreSQL URLs, heartbeats
``study``          ``TuneConfig``, ``open_study`` (refuses another space under the same name)
``worker``         ``run_worker``: trials until the study's budget (``python -m lab.tune``: a worker process)
``processes``      ``LocalWorkers``: worker processes on this machine
``results``        Pareto rows and table, failures, ``rebuild`` a trial's model
``baselines``      hand recipes beside the front, best trials per param value
``figures``        the live Pareto plot and Optuna's plotly views
=================  ==========================================================================

    config = TuneConfig(get_space("mlp_compression"), trials=30)
    study = open_study(config)
    run_worker(study, config)
    print(pareto_table(study, config.objectives))

The names load on first use (PEP 562, :mod:`lab.lazy`): ``python -m lab --help`` reads the catalog without
importing Optuna or the workers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "best_by_param": ".baselines", "dominated": ".baselines", "recipe_points": ".baselines",
    "SPACES": ".catalog", "build_space": ".catalog", "compression_space": ".catalog", "coupling_space": ".catalog",
    "couple_then_compress_space": ".catalog", "get_space": ".catalog",
    "DEFAULT_OBJECTIVES": ".objectives", "OBJECTIVES": ".objectives", "LatencyCalibration": ".objectives",
    "check_objectives": ".objectives",
    "LocalWorkers": ".processes",
    "failed_rows": ".results", "get_trial": ".results", "pareto_rows": ".results", "pareto_table": ".results",
    "pareto_trials": ".results", "rebuild": ".results", "save_rebuilt": ".results", "summary_line": ".results",
    "trial_row": ".results",
    "Param": ".spaces", "SearchSpace": ".spaces",
    "default_storage": ".storage", "open_storage": ".storage", "redact": ".storage", "resolve_storage": ".storage",
    "SAMPLERS": ".study", "TuneConfig": ".study", "join_study": ".study", "list_studies": ".study",
    "open_study": ".study",
    "TrialContext": ".trials", "TrialOutcome": ".trials", "TrialPlan": ".trials", "TrialStopped": ".trials",
    "plan_trial": ".trials", "run_plan": ".trials",
    "Budget": ".worker", "budget": ".worker", "describe_trial": ".worker", "run_worker": ".worker",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:   # the same names for type checkers and editors
    from .baselines import best_by_param, dominated, recipe_points
    from .catalog import SPACES, build_space, compression_space, coupling_space, couple_then_compress_space, get_space
    from .objectives import DEFAULT_OBJECTIVES, OBJECTIVES, LatencyCalibration, check_objectives
    from .processes import LocalWorkers
    from .results import (failed_rows, get_trial, pareto_rows, pareto_table, pareto_trials, rebuild, save_rebuilt,
                          summary_line, trial_row)
    from .spaces import Param, SearchSpace
    from .storage import default_storage, open_storage, redact, resolve_storage
    from .study import SAMPLERS, TuneConfig, join_study, list_studies, open_study
    from .trials import TrialContext, TrialOutcome, TrialPlan, TrialStopped, plan_trial, run_plan
    from .worker import Budget, budget, describe_trial, run_worker
