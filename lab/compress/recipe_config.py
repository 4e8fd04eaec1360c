"""Settings of one recipe run, as a validated frozen dataclass: what the compression panel's Recipe
tab and ``python -m lab compress`` both build, and what a saved recipe run records (``to_dict``).

    RecipeConfig(recipe="prune:0.9,kmeans:16,int8", finetune_epochs=8, latency=True)
    RecipeConfig.defaults()                        # LAB_FAST=1: 2 fine-tuning epochs
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..cost import CostWeights, MeasureConfig
from ..settings import fast_mode
from ..validation import LR_MAX, MAX_EPOCHS, _is_int, _is_real, check_bool, check_int, check_seed, normalise_fields, show
from .fit import FitConfig
from .recipe import RecipeOptions, StepSpec, check_recipe, parse_recipe

DEFAULT_RECIPE = "prune:0.9,kmeans:16,int8"


@dataclass(frozen=True)
class RecipeConfig:
    """How a recipe runs: the ``recipe`` (``lab.compress.recipe`` syntax), fine-tuning after
    each step (``finetune_epochs``, ``finetune_lr``), whether to time every step (``latency``: median
    at batch 1 over ``threads`` threads, and peak memory; off is much faster), the objective's
    weights (flops, bytes, latency) for f = C/C0 + S/S0 (+ L/L0) in the table, and the ``seed``.
    """

    recipe: str = DEFAULT_RECIPE
    finetune_epochs: int = 8
    finetune_lr: float = 1e-3
    latency: bool = True
    threads: int = 1
    weights: tuple[float, ...] = (1.0, 1.0, 0.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.recipe, str):
            raise ValueError(f"recipe must be text like {DEFAULT_RECIPE}, got {show(self.recipe)}")
        normalise_fields(self, {"latency": check_bool("latency", self.latency),
                                "threads": check_int("threads", self.threads, min=1, max=1024),
                                "seed": check_seed(self.seed)})
        self.steps()
        self.finetune()
        self.measure()
        self.cost_weights()

    def steps(self) -> list[StepSpec]:
        return parse_recipe(self.recipe)

    def check_for(self, model: Any, data: Any) -> None:
        """ValueError when the recipe cannot apply to ``model`` and ``data`` (a distill task the data lacks,
        int8:dynamic without Linear layers, more k-means clusters than a layer has weights)."""
        check_recipe(self.steps(), data, model)

    def finetune(self) -> FitConfig:
        if not _is_int(self.finetune_epochs) or not 0 <= self.finetune_epochs <= MAX_EPOCHS:
            raise ValueError(f"fine-tuning epochs must be an integer >= 0, got {show(self.finetune_epochs)} "
                             f"(at most {MAX_EPOCHS})")
        if not (_is_real(self.finetune_lr) and math.isfinite(self.finetune_lr) and 0 < self.finetune_lr <= LR_MAX):
            raise ValueError(f"fine-tuning learning rate must be a positive number, got {show(self.finetune_lr)} "
                             f"(finite, at most {LR_MAX:g})")
        return FitConfig(epochs=self.finetune_epochs, lr=float(self.finetune_lr), seed=self.seed)

    def measure(self) -> MeasureConfig:
        return MeasureConfig(latency=self.latency, memory=self.latency, threads=self.threads)

    def cost_weights(self) -> CostWeights:
        if isinstance(self.weights, (str, dict)) or not isinstance(self.weights, (tuple, list)) \
                or len(self.weights) not in (2, 3):
            got = list(self.weights) if isinstance(self.weights, (tuple, list)) else show(self.weights)
            raise ValueError(f"objective weights are flops, bytes[, latency]: 2 or 3 numbers, got {got}")
        return CostWeights(*self.weights)

    def options(self) -> RecipeOptions:
        return RecipeOptions(finetune=self.finetune(), measure=self.measure(), seed=self.seed)

    @classmethod
    def defaults(cls, fast: bool | None = None, **overrides) -> "RecipeConfig":
        """8 epochs of fine-tuning after each step; ``LAB_FAST=1`` (``fast`` None reads it): 2, as the CLI."""
        fast = fast_mode() if fast is None else fast
        return cls(**{**({"finetune_epochs": 2} if fast else {}), **overrides})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "weights": list(self.weights)}
