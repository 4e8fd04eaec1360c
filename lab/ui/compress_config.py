"""Settings of the compression panel's Model and Recipe tabs, as validated frozen dataclasses.

    ModelSource()                                   # the reference MLP, 40 epochs, seed 0, all digits
    ModelSource(kind="run", run="latest")           # the newest saved coupled run on the digits tasks
    RecipeConfig(recipe="prune:0.9,kmeans:16,int8", finetune_epochs=8, latency=True)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from ..compress.fakequant import check_bits
from ..compress.fit import FitConfig
from ..compress.recipe import RecipeOptions, StepSpec, parse_recipe
from ..compress.reference import FAST_EPOCHS, REFERENCE_FIT
from ..cost import CostWeights, MeasureConfig
from ..settings import fast_mode

REFERENCE_MODELS: tuple[str, ...] = ("mlp", "lenet", "dscnn")
SOURCE_KINDS: dict[str, str] = {"reference": "reference network", "run": "saved coupled run"}
DEFAULT_RECIPE = "prune:0.9,kmeans:16,int8"
BITS_CHOICES: tuple[str, ...] = tuple(str(b) for b in range(2, 17)) + ("float",)


def parse_bits(value: str | int | None) -> int | None:
    """``"4"`` or 4 -> 4; ``"float"`` or None -> None (no quantization). ValueError outside 2-16."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("float", "fp32", "none", "")):
        return None
    try:
        bits = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"bits must be an integer from 2 to 16 or 'float', got {value!r}") from None
    return check_bits(int(bits) if bits.is_integer() else bits)


# --- configs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSource:
    """Which model the panel compresses (the Model tab).

    ``kind="reference"``: build ``network`` (``REFERENCE_MODELS``) from ``seed`` and train it for
    ``epochs`` on the digit task (``limit``: a seeded subset of the 1797 digits; ``LAB_FAST=1`` caps
    training at ``FAST_EPOCHS``). ``kind="run"``: load the ``CoupledSystem`` saved in the run folder
    ``run`` (or ``"latest"``: the newest saved run on the digits tasks) and score it on the digits
    split it was trained on.
    """

    kind: Literal["reference", "run"] = "reference"
    network: str = "mlp"
    epochs: int = REFERENCE_FIT.epochs
    seed: int = 0
    limit: int | None = None
    run: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"model source must be one of {list(SOURCE_KINDS)}, got {self.kind!r}")
        if self.network not in REFERENCE_MODELS:
            raise ValueError(f"unknown reference network {self.network!r}; choose from {list(REFERENCE_MODELS)}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        if self.limit is not None and self.limit < 50:
            raise ValueError(f"limit (a subset of the digits) must be None or >= 50 examples, got {self.limit}")
        if self.kind == "run" and not self.run:
            raise ValueError("choose a saved run (its folder, or 'latest') to load a coupled system")

    def fit_config(self) -> FitConfig:
        return replace(REFERENCE_FIT, epochs=self.epochs, seed=self.seed)

    def planned_epochs(self) -> int:
        """Epochs that training will really take (``LAB_FAST=1`` caps them, see ``train_reference``)."""
        return min(self.epochs, FAST_EPOCHS) if fast_mode() else self.epochs


@dataclass(frozen=True)
class RecipeConfig:
    """How the Recipe tab runs: the ``recipe`` (``lab.compress.recipe`` syntax), fine-tuning after
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
        self.steps()
        self.finetune()
        self.measure()
        self.cost_weights()

    def steps(self) -> list[StepSpec]:
        return parse_recipe(self.recipe)

    def finetune(self) -> FitConfig:
        if isinstance(self.finetune_epochs, bool) or not isinstance(self.finetune_epochs, int):
            raise ValueError(f"fine-tuning epochs must be an integer >= 0, got {self.finetune_epochs!r}")
        if not (isinstance(self.finetune_lr, (int, float)) and math.isfinite(self.finetune_lr)
                and self.finetune_lr > 0):
            raise ValueError(f"fine-tuning learning rate must be a positive number, got {self.finetune_lr}")
        return FitConfig(epochs=self.finetune_epochs, lr=float(self.finetune_lr), seed=self.seed)

    def measure(self) -> MeasureConfig:
        return MeasureConfig(latency=self.latency, memory=self.latency, threads=self.threads)

    def cost_weights(self) -> CostWeights:
        if len(self.weights) not in (2, 3):
            raise ValueError(f"objective weights are flops, bytes[, latency]: 2 or 3 numbers, got {list(self.weights)}")
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
