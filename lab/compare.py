"""Train several coupling strategies (or loss weightings) with the same seed and budget and compare them,
on clean test data or under attack (``compare_robustness``)."""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from .adversarial import AdversarialTraining, Attack, robust_accuracy
from .checkpoint import CheckpointCallback
from .coupling.recovery import recovery_report
from .coupling.system import COUPLINGS, CoupledSystem, SystemConfig, build_system
from .data.base import MultiTaskData
from .history import History
from .metrics import evaluate
from .runs import save_run, write_config
from .train import Callback, NonFiniteLossError, TrainConfig, train
from .weighting import WEIGHTINGS, Weighting, make_weighting

RunDirFor = Callable[[str], Path]   # a run's label -> the (new) folder to save it in


@dataclass
class StrategyResult:
    strategy: str
    system: CoupledSystem
    history: History
    test_metric: dict[str, float]
    train_seconds: float
    recovery: dict[str, float] | None = None   # only when the data has a ground-truth W*
    weighting: str | None = None               # set by compare_weightings (shown as a column)

    @property
    def mean_metric(self) -> float:
        return sum(self.test_metric.values()) / len(self.test_metric)

    def row(self) -> dict:
        row = {"strategy": self.strategy}
        if self.weighting is not None:
            row["weighting"] = self.weighting
        row |= {**self.test_metric, "mean": self.mean_metric, "params": self.system.num_parameters(),
                "train_s": self.train_seconds}
        if self.recovery is not None:
            row["W_auc"] = self.recovery["auc"]
        return row


def run_strategy(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                 weighting: Weighting | None = None, callbacks=(), stop=None, progress: bool = False,
                 adversarial: "AdversarialTraining | None" = None,
                 run_dir: str | os.PathLike | None = None) -> StrategyResult:
    """Build, train and test one system.

    With ``run_dir`` the run is saved as it trains: ``config.json`` before the first step, checkpoint and
    history when training starts and after every epoch (``CheckpointCallback``), everything again at the
    end. A NaN loss or an interruption (Ctrl-C) first saves the history with the error recorded, so the
    folder keeps exactly the epochs the error message names.
    """
    system = build_system(data, system_config)
    history = History(task_names=list(system.task_names))
    if run_dir is not None:
        run_dir = Path(run_dir)
        write_config(run_dir, {"system": system.architecture(), "train": train_config.to_dict(),
                               "weighting": weighting.name if weighting is not None else "fixed",
                               "data": data.name, "adversarial": adversarial.to_dict() if adversarial else None})
        callbacks = (*callbacks, CheckpointCallback(run_dir))
    t0 = time.perf_counter()
    try:
        train(system, data, train_config, weighting=weighting, callbacks=callbacks, stop=stop,
              progress=progress, adversarial=adversarial, history=history)
    except NonFiniteLossError as err:
        if run_dir is None:
            raise
        err.history.save(run_dir / "history.json")     # the checkpoint holds the same finished epochs
        raise NonFiniteLossError(f"{err} (saved in {run_dir})", err.history) from None
    except BaseException as err:                         # KeyboardInterrupt, a failing callback, ...
        if run_dir is not None and history.config:       # training had started: keep what it recorded
            history.error = history.error or (f"interrupted ({type(err).__name__}) after "
                                              f"{history.num_epochs} finished epochs")
            history.save(run_dir / "history.json")
        raise
    seconds = time.perf_counter() - t0
    test = evaluate(system, data.test, system.tasks)["metric"]
    history.extra["test_metric"] = test
    recovery = None
    if data.W_true is not None and system.num_modules == data.W_true.shape[0]:
        recovery = recovery_report(system.coupling_matrices(data.val), data.W_true)   # attention: mean over val
        history.extra["recovery"] = recovery
    if run_dir is not None:
        save_run(run_dir, system, history)
    return StrategyResult(system_config.strategy, system, history, test, seconds, recovery)


def compare_strategies(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                       strategies: list[str] | tuple[str, ...] | None = None,
                       callbacks: tuple[Callback, ...] = (), progress: bool = False, *,
                       weighting: Weighting | None = None,
                       adversarial: "AdversarialTraining | None" = None,
                       run_dir_for: RunDirFor | None = None) -> list[StrategyResult]:
    """Every strategy (all by default) with the same architecture settings, seed, epochs, loss weighting
    and (optional) adversarial training.

    ``run_dir_for(label)`` (e.g. ``lambda label: new_run_dir(f"digits-{label}")``) is called as each
    strategy starts, with the strategy's name; that run is saved there as it trains (``run_strategy``),
    so the finished strategies stay on disk when a later one fails or the process is killed.
    """
    strategies = list(strategies or COUPLINGS)
    unknown = [s for s in strategies if s not in COUPLINGS]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
    return [run_strategy(data, replace(system_config, strategy=s), train_config, weighting=weighting,
                         callbacks=callbacks, progress=progress, adversarial=adversarial,
                         run_dir=run_dir_for(s) if run_dir_for else None) for s in strategies]


def compare_weightings(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                       weightings: list[str] | tuple[str, ...] | None = None,
                       options: dict[str, dict] | None = None, callbacks: tuple[Callback, ...] = (),
                       progress: bool = False, *,
                       adversarial: "AdversarialTraining | None" = None,
                       run_dir_for: RunDirFor | None = None) -> list[StrategyResult]:
    """One system (``system_config``) trained with every loss weighting (all by default).

    ``options`` maps a weighting name to its constructor options, e.g.
    ``{"gradnorm": {"alpha": 1.0}}``; ``fixed`` and ``pcgrad`` get
    ``train_config.task_weights`` unless options say otherwise. Same seed and
    budget for every run; each result's ``weighting`` names its weighting. ``run_dir_for`` as in
    ``compare_strategies``, called with ``"<strategy>-<weighting>"``.
    """
    weightings = list(weightings or WEIGHTINGS)
    unknown = [w for w in weightings if w not in WEIGHTINGS]
    if unknown:
        raise ValueError(f"unknown weightings {unknown}; choose from {list(WEIGHTINGS)}")
    results = []
    for name in weightings:
        result = run_strategy(data, system_config, train_config,
                              weighting=weighting_for(name, train_config, (options or {}).get(name)),
                              callbacks=callbacks, progress=progress, adversarial=adversarial,
                              run_dir=run_dir_for(f"{system_config.strategy}-{name}") if run_dir_for else None)
        result.weighting = name
        results.append(result)
    return results


def weighting_for(name: str, train_config: TrainConfig, options: dict | None = None) -> Weighting:
    """``make_weighting(name, **options)``, handing ``fixed``/``pcgrad`` the config's task weights."""
    options = dict(options or {})
    if name in ("fixed", "pcgrad") and "weights" not in options:
        options["weights"] = train_config.task_weights
    elif train_config.task_weights is not None and name not in ("fixed", "pcgrad"):
        raise ValueError(f"task weights {list(train_config.task_weights)} only apply to the fixed and pcgrad "
                         f"weightings; {name!r} chooses its own lambdas")
    return make_weighting(name, **options)


def compare_robustness(data: MultiTaskData, strategies: Sequence[str], attack: Attack | Sequence[Attack],
                       system_config: SystemConfig, train_config: TrainConfig, *,
                       adversarial: AdversarialTraining | None = None, weighting: Weighting | None = None,
                       seeds: Sequence[int] | None = None, batch_size: int = 256,
                       progress: bool = False) -> list[dict]:
    """Train each strategy (same architecture, budget and seed) and measure clean vs attacked test metrics.

    One row per strategy (per attack and strategy when ``attack`` is a list; each
    system is trained once and attacked with all of them): ``clean_<task>`` and
    ``robust_<task>`` for every task, ``clean_mean``, ``robust_mean``, ``drop``
    (= clean_mean - robust_mean), and with several ``seeds`` the mean over seeds
    plus ``robust_mean_sd`` (sample standard deviation) and ``seeds``. ``seeds``
    (default: the train config's seed) reseed both the initial weights and training.
    """
    attacks = [attack] if isinstance(attack, Attack) else list(attack)
    if not attacks or not all(isinstance(a, Attack) for a in attacks):
        raise ValueError(f"attack must be an Attack or a non-empty list of them, got {attack!r}")
    strategies = list(strategies)
    unknown = [s for s in strategies if s not in COUPLINGS]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
    seeds = list(seeds) if seeds is not None else [train_config.seed]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    names = data.task_names
    runs: dict[tuple[int, str], list[tuple[dict, dict]]] = {}
    for strategy in strategies:
        for seed in seeds:
            result = run_strategy(data, replace(system_config, strategy=strategy, seed=seed),
                                  replace(train_config, seed=seed), weighting=weighting, adversarial=adversarial,
                                  progress=progress)
            for a, att in enumerate(attacks):
                robust = robust_accuracy(result.system, data.test, att, batch_size=batch_size, seed=seed)
                runs.setdefault((a, strategy), []).append((result.test_metric, robust))
    rows = []
    for a, att in enumerate(attacks):
        for strategy in strategies:
            pairs = runs[(a, strategy)]
            row: dict = {"strategy": strategy, "attack": att.label}
            for t in names:
                row[f"clean_{t}"] = statistics.fmean(c[t] for c, _ in pairs)
                row[f"robust_{t}"] = statistics.fmean(r[t] for _, r in pairs)
            robust_means = [statistics.fmean(r.values()) for _, r in pairs]
            row["clean_mean"] = statistics.fmean(statistics.fmean(c.values()) for c, _ in pairs)
            row["robust_mean"] = statistics.fmean(robust_means)
            row["drop"] = row["clean_mean"] - row["robust_mean"]
            if len(seeds) > 1:
                row["robust_mean_sd"] = statistics.stdev(robust_means)
                row["seeds"] = len(seeds)
            rows.append(row)
    return rows
