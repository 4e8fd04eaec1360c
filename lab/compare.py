"""Train several coupling strategies with the same seed and budget and compare them."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .coupling.recovery import recovery_report
from .coupling.system import COUPLINGS, CoupledSystem, SystemConfig, build_system
from .data.base import MultiTaskData
from .history import History
from .metrics import evaluate
from .train import Callback, TrainConfig, train
from .weighting import Weighting


@dataclass
class StrategyResult:
    strategy: str
    system: CoupledSystem
    history: History
    test_metric: dict[str, float]
    train_seconds: float
    recovery: dict[str, float] | None = None   # only when the data has a ground-truth W*

    @property
    def mean_metric(self) -> float:
        return sum(self.test_metric.values()) / len(self.test_metric)

    def row(self) -> dict:
        row = {"strategy": self.strategy, **self.test_metric, "mean": self.mean_metric,
               "params": self.system.num_parameters(), "train_s": self.train_seconds}
        if self.recovery is not None:
            row["W_auc"] = self.recovery["auc"]
        return row


def run_strategy(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                 weighting: Weighting | None = None, callbacks=(), stop=None, progress: bool = False) -> StrategyResult:
    """Build, train and test one system."""
    system = build_system(data, system_config)
    t0 = time.perf_counter()
    history = train(system, data, train_config, weighting=weighting, callbacks=callbacks, stop=stop,
                    progress=progress)
    seconds = time.perf_counter() - t0
    test = evaluate(system, data.test, system.tasks)["metric"]
    history.extra["test_metric"] = test
    recovery = None
    if data.W_true is not None and system.num_modules == data.W_true.shape[0]:
        recovery = recovery_report(system.coupling_matrices(), data.W_true)
        history.extra["recovery"] = recovery
    return StrategyResult(system_config.strategy, system, history, test, seconds, recovery)


def compare_strategies(data: MultiTaskData, system_config: SystemConfig, train_config: TrainConfig,
                       strategies: list[str] | tuple[str, ...] | None = None,
                       callbacks: tuple[Callback, ...] = (), progress: bool = False) -> list[StrategyResult]:
    """Every strategy (all by default) with the same architecture settings, seed and epochs."""
    strategies = list(strategies or COUPLINGS)
    unknown = [s for s in strategies if s not in COUPLINGS]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
    return [run_strategy(data, replace(system_config, strategy=s), train_config, callbacks=callbacks,
                         progress=progress) for s in strategies]
