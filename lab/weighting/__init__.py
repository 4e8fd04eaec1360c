"""Loss weighting strategies for joint multi-task training (plugged into ``lab.train``)."""
from __future__ import annotations

from typing import Callable

from .base import Weighting
from .fixed import Equal, Fixed

WEIGHTINGS: dict[str, Callable[..., Weighting]] = {
    "equal": Equal,
    "fixed": Fixed,
}


def make_weighting(name: str, **options) -> Weighting:
    """A weighting by name (see ``WEIGHTINGS``); options go to its constructor."""
    if name not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {name!r}; choose from {list(WEIGHTINGS)}")
    return WEIGHTINGS[name](**options)


__all__ = ["WEIGHTINGS", "Equal", "Fixed", "Weighting", "make_weighting"]
