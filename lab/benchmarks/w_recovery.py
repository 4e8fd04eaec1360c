"""W-recovery benchmark: does a learned coupling W find the true dependency structure W*?

For every ground-truth structure (chain, star, block, random sparse) and seed,
synthetic coupled tasks are generated (``lab.data.load_synthetic``; module i
sees only its own input, task i depends on the modules its row of W* names),
every coupling strategy is trained with the same architecture, budget and seed,
and its final W is scored against W* with ``recovery_report``:

* ``auc`` — edge-detection ROC-AUC, off-diagonal |W_ij| (mean over stages) as
  scores for W*_ij != 0 (0.5 = chance);
* ``precision`` / ``recall`` — of the top-k off-diagonal |W_ij|, k = number of
  true edges (so the two are equal);
* ``spearman`` — rank correlation of |W_ij| with |W*_ij| off the diagonal (0/1
  W* ties cap it below 1; a constant W scores 0);
* ``metric`` — mean test accuracy over the tasks.

Reported as mean and sample standard deviation over seeds. Strategies with a
fixed W (independent, pipeline, ensemble, shared) are included as baselines and
marked ``learned = no``: their scores say how well a *fixed* wiring happens to
match W* (pipeline's shift matrix *is* the chain), not anything learned. With
``random`` the structure itself changes with the seed.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

from ..compare import run_strategy
from ..coupling.recovery import recovery_report
from ..coupling.system import COUPLINGS, SystemConfig
from ..data.synthetic import STRUCTURES, load_synthetic
from ..tables import format_table
from ..train import TrainConfig

SCORES: tuple[str, ...] = ("auc", "precision", "recall", "spearman", "metric")


@dataclass(frozen=True)
class RecoveryBenchConfig:
    """What the benchmark sweeps (structures x seeds x strategies) and how each run trains."""

    structures: tuple[str, ...] = STRUCTURES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    strategies: tuple[str, ...] = tuple(COUPLINGS)
    num_modules: int = 5
    num_samples: int = 2000
    density: float = 0.3
    widths: tuple[int, ...] = (32, 32)
    epochs: int = 12
    lr: float = 3e-3
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("structures", "seeds", "strategies", "widths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        bad = [s for s in self.structures if s not in STRUCTURES]
        if bad:
            raise ValueError(f"unknown structures {bad}; choose from {list(STRUCTURES)}")
        bad = [s for s in self.strategies if s not in COUPLINGS]
        if bad:
            raise ValueError(f"unknown strategies {bad}; choose from {list(COUPLINGS)}")
        if self.num_modules < 3:
            raise ValueError(f"num_modules must be >= 3 so W* has edges and non-edges, got {self.num_modules}")
        TrainConfig(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size)   # validates these

    def to_dict(self) -> dict:
        return asdict(self)


def run_w_recovery(config: RecoveryBenchConfig, on_run: Callable[[dict], None] | None = None) -> list[dict]:
    """Train every (structure, seed, strategy); one row each with the recovery scores and test metric."""
    rows = []
    for structure in config.structures:
        for seed in config.seeds:
            data = load_synthetic(num_modules=config.num_modules, structure=structure, num_samples=config.num_samples,
                                  density=config.density, seed=seed)
            for strategy in config.strategies:
                t0 = time.perf_counter()
                result = run_strategy(data, SystemConfig(strategy=strategy, widths=config.widths, seed=seed),
                                      TrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                                                  seed=seed))
                rec = recovery_report(result.system.coupling_matrices(), data.W_true)
                row = {"structure": structure, "strategy": strategy, "seed": seed,
                       "learned": bool(result.system.coupling_parameters()),
                       "edges": int(rec["k"]), "auc": rec["auc"], "precision": rec["precision_at_k"],
                       "recall": rec["recall_at_k"], "spearman": rec["spearman"], "metric": result.mean_metric,
                       "seconds": time.perf_counter() - t0}
                rows.append(row)
                if on_run is not None:
                    on_run(row)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and sample standard deviation (``<score>_sd``; 0 with one seed) per (structure, strategy)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["structure"], row["strategy"]), []).append(row)
    out = []
    for (structure, strategy), group in groups.items():
        summary = {"structure": structure, "strategy": strategy, "learned": group[0]["learned"], "seeds": len(group)}
        for score in SCORES:
            values = [r[score] for r in group]
            summary[score] = statistics.fmean(values)
            summary[f"{score}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        out.append(summary)
    return out


def format_summary(summary: list[dict], digits: int = 3) -> str:
    """The summary as a text table with "mean ± sd" cells."""
    table = [{"structure": s["structure"], "strategy": s["strategy"], "learned": "yes" if s["learned"] else "no",
              "seeds": s["seeds"],
              **{score: f"{s[score]:.{digits}f} ± {s[f'{score}_sd']:.{digits}f}" for score in SCORES}}
             for s in summary]
    return format_table(table)
