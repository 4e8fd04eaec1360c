"""Loss weighting strategies for joint multi-task training (plugged into ``lab.train``).

One file per method, one name -> class table:

* ``equal`` / ``fixed`` — L = sum_i lambda_i L_i with lambda = 1 or user-given (``fixed.py``);
* ``uncertainty`` — learned log-variances, Kendall et al. 2018 (``uncertainty.py``);
* ``gradnorm`` — gradient-norm balancing, Chen et al. 2018 (``gradnorm.py``);
* ``dwa`` — Dynamic Weight Average, Liu et al. 2019 (``dwa.py``);
* ``pcgrad`` — gradient surgery, Yu et al. 2020 (``pcgrad.py``).
"""
from __future__ import annotations

from typing import Callable

from .base import Weighting
from .dwa import DWA, dwa_weights
from .fixed import Equal, Fixed
from .gradnorm import GradNorm, gradnorm_parameters, gradnorm_targets
from .pcgrad import PCGrad, project_conflicting
from .uncertainty import Uncertainty

WEIGHTINGS: dict[str, Callable[..., Weighting]] = {
    "equal": Equal,
    "fixed": Fixed,
    "uncertainty": Uncertainty,
    "gradnorm": GradNorm,
    "dwa": DWA,
    "pcgrad": PCGrad,
}


def make_weighting(name: str, **options) -> Weighting:
    """A weighting by name (see ``WEIGHTINGS``); options go to its constructor."""
    if name not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {name!r}; choose from {list(WEIGHTINGS)}")
    import inspect

    allowed = [p for p in inspect.signature(WEIGHTINGS[name]).parameters]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"bad options {options} for weighting {name!r}: it takes {allowed or 'no options'}")
    try:
        return WEIGHTINGS[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options {options} for weighting {name!r}: {err}") from None


__all__ = ["DWA", "WEIGHTINGS", "Equal", "Fixed", "GradNorm", "PCGrad", "Uncertainty", "Weighting", "dwa_weights",
           "gradnorm_parameters", "gradnorm_targets", "make_weighting", "project_conflicting"]
