"""Checks the panel configs share: the architecture pieces every panel offers (width x stages) and
typed widget values, so a value a widget lets through (a huge seed, a NaN rate, text where a
number belongs) is refused with the field's name before anything is loaded or trained.

Each function raises ValueError naming the setting; ``TrainingPanel`` shows it as
"Cannot train with these settings: ...".
"""
from __future__ import annotations

from typing import Any

from ..coupling.limits import MAX_STAGES, MAX_WIDTH
from ..validation import LR_MAX, _is_int, _is_real, normalise_fields, show


def check_shape_settings(config: Any) -> None:
    """``config.width`` (1..MAX_WIDTH) and ``config.stages`` (1..MAX_STAGES) as integers."""
    width, stages = config.width, config.stages
    if not (_is_int(width) and _is_int(stages) and 1 <= width <= MAX_WIDTH and 1 <= stages <= MAX_STAGES):
        raise ValueError(f"width and stages must be >= 1 (integers; width at most {MAX_WIDTH}, stages at most "
                         f"{MAX_STAGES}), got width={show(width)}, stages={show(stages)}")
    normalise_fields(config, {"width": int(width), "stages": int(stages)})


def check_weighting_options(options: Any) -> None:
    """Weighting options as (name, number) pairs with identifier names and finite numbers."""
    if isinstance(options, (str, dict)) or not isinstance(options, (tuple, list)) or not all(
            isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], str) and p[0].isidentifier()
            and _is_real(p[1]) and abs(float(p[1])) != float("inf") and p[1] == p[1] for p in options):
        raise ValueError(f"weighting options must be name=number pairs with finite numbers (e.g. alpha=1.5), "
                         f"got {show(options)}")


def check_rate(what: str, value: Any) -> float:
    """A learning rate: a finite number in (0, LR_MAX]."""
    if not (_is_real(value) and float(value) == float(value) and 0 < float(value) <= LR_MAX):
        raise ValueError(f"{what} must be a positive number, got {show(value)} (finite, at most {LR_MAX:g})")
    return float(value)
