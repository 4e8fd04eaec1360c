"""Settings of the compression panel's Model tab (a validated frozen dataclass) and the Preview
tab's bits; the Recipe tab's settings are ``lab.compress.recipe_config.RecipeConfig`` (core: the CLI
builds the same), re-exported here.

    ModelSource()                                   # the reference MLP, 40 epochs, seed 0, all digits
    ModelSource(kind="run", run="latest")           # the newest saved coupled run on the digits tasks
    RecipeConfig(recipe="prune:0.9,kmeans:16,int8", finetune_epochs=8, latency=True)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ..compress.fakequant import check_bits
from ..compress.fit import FitConfig
from ..compress.recipe_config import DEFAULT_RECIPE, RecipeConfig
from ..compress.reference import FAST_EPOCHS, REFERENCE_FIT
from ..data.digits import NUM_DIGITS
from ..settings import fast_mode
from ..validation import MAX_EPOCHS, _is_int, check_seed, normalise_fields, show

REFERENCE_MODELS: tuple[str, ...] = ("mlp", "lenet", "dscnn")
SOURCE_KINDS: dict[str, str] = {"reference": "reference network", "run": "saved coupled run"}
BITS_CHOICES: tuple[str, ...] = tuple(str(b) for b in range(2, 17)) + ("float",)

__all__ = ["BITS_CHOICES", "DEFAULT_RECIPE", "REFERENCE_MODELS", "SOURCE_KINDS", "ModelSource", "RecipeConfig",
           "parse_bits"]


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
