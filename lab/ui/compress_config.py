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
from ..compress.recipe import RecipeOptions, StepSpec, check_recipe, parse_recipe
from ..compress.reference import FAST_EPOCHS, REFERENCE_FIT
from ..cost import CostWeights, MeasureConfig
from ..data.digits import NUM_DIGITS
from ..settings import fast_mode
from ..validation import LR_MAX, MAX_EPOCHS, _is_int, _is_real, check_bool, check_int, check_seed, normalise_fields, show

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
        if not _is_int(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be an integer >= 1, got {show(self.epochs)} (at most {MAX_EPOCHS})")
        if self.limit is not None and not (_is_int(self.limit) and 50 <= self.limit <= NUM_DIGITS):
            raise ValueError(f"limit (a subset of the digits) must be None or >= 50 examples, got {show(self.limit)} "
                             f"(at most the {NUM_DIGITS} digits there are)")
        if self.kind == "run" and not self.run:
            raise ValueError("choose a saved run (its folder, or 'latest') to load a coupled system")
        if self.run is not None and not isinstance(self.run, str):
            raise ValueError(f"run must be a run folder (text) or 'latest', got {show(self.run)}")
        normalise_fields(self, {"epochs": int(self.epochs), "seed": check_seed(self.seed),
                                "limit": None if self.limit is None else int(self.limit)})

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
