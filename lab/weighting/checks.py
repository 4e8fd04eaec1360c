"""Option checks shared by the weightings: each names the method, the option and what is allowed.

The playground hands every option over as a float (``seed=3`` arrives as 3.0), so an
integer option accepts an integral float and returns an ``int``; booleans are refused
(``True`` is not a number a user meant to type).
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Sequence


def check_number(method: str, name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, integer: bool = False) -> float | int:
    """``value`` as a float (or int with ``integer``) inside [low, high] (``low_open``: > low); else ValueError."""
    kind = "an integer" if integer else "a finite number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"<= {high:g}")
    allowed = kind + (" " + " and ".join(bounds) if bounds else "")
    bad = isinstance(value, bool) or not isinstance(value, Real)
    if not bad:
        v = float(value)
        bad = (not math.isfinite(v) or (integer and v != int(v))
               or (low is not None and (v <= low if low_open else v < low))
               or (high is not None and v > high))
    if bad:
        raise ValueError(f"{method}: {name} must be {allowed}, got {value!r}")
    return int(value) if integer else float(value)


def check_choice(method: str, name: str, value, choices: Sequence) -> object:
    """``value`` if it is one of ``choices``; else ValueError listing them."""
    if isinstance(value, bool) or value not in tuple(choices):
        raise ValueError(f"{method}: {name} must be one of {list(choices)}, got {value!r}")
    return value
