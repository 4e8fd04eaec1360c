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
"""
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

__all__ = ["DEFAULT_OBJECTIVES", "OBJECTIVES", "SAMPLERS", "SPACES", "Budget", "LatencyCalibration", "LocalWorkers",
           "Param", "SearchSpace", "TrialContext", "TrialOutcome", "TrialPlan", "TrialStopped",
           "TuneConfig", "best_by_param", "budget", "build_space", "check_objectives", "compression_space",
           "couple_then_compress_space", "coupling_space", "default_storage", "describe_trial", "dominated",
           "failed_rows", "get_space", "get_trial", "join_study", "list_studies", "open_storage",
           "open_study", "pareto_rows", "pareto_table", "pareto_trials", "plan_trial", "rebuild",
           "recipe_points", "redact", "resolve_storage", "run_plan", "run_worker", "save_rebuilt",
           "summary_line", "trial_row"]
