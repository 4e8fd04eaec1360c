"""Loss weightings and gradient aggregators for joint multi-task training (plugged into ``lab.train``).

One file per method, one name -> class table. Loss weightings (one backward pass,
lambda_i scales task i's loss):

* ``equal`` / ``fixed`` — L = sum_i lambda_i L_i with lambda = 1 or user-given (``fixed.py``);
* ``uncertainty`` — learned log-variances, Kendall et al. 2018 (``uncertainty.py``);
* ``gradnorm`` — gradient-norm balancing, Chen et al. 2018 (``gradnorm.py``);
* ``dwa`` — Dynamic Weight Average, Liu et al. 2019 (``dwa.py``);
* ``rlw`` — random loss weights every step, Lin et al. 2022 (``rlw.py``);
* ``famo`` — fast adaptive multitask optimisation, Liu et al. 2023 (``famo.py``).

Gradient aggregators (one backward pass per task; the parameters several tasks
reach get a combination of the per-task gradients, heads keep their own — see
``gramian.py``; lambda_i is the weight alpha_i of task i's gradient):

* ``pcgrad`` — gradient surgery, Yu et al. 2020 (``pcgrad.py``);
* ``mgda`` — min-norm point of the gradients' hull, Sener & Koltun 2018 (``mgda.py``);
* ``imtl_g`` — equal projection on every task's direction, Liu et al. 2021 (``imtl_g.py``);
* ``cagrad`` — best worst-task progress near the mean gradient, Liu et al. 2021 (``cagrad.py``);
* ``nash_mtl`` — Nash bargaining solution, Navon et al. 2022 (``nash_mtl.py``);
* ``aligned_mtl`` — aligned principal components, Senushkin et al. 2023 (``aligned_mtl.py``);
* ``upgrad`` — projection onto the dual cone, Quinton & Rey 2024 (``upgrad.py``).

Scales differ by design (each follows its paper): equal/fixed weights sum to T;
mgda, imtl_g, rlw and famo weights sum to 1; upgrad and aligned_mtl average
(preferences 1/T); cagrad is the mean gradient plus a correction, divided by
1 + c^2; nash_mtl's update has norm <= max_norm. With Adam (the default
optimiser) the overall scale matters little.
"""
from __future__ import annotations

from typing import Callable

from .aligned_mtl import AlignedMTL, aligned_mtl_weights, balance_transformation
from .base import Weighting
from .cagrad import CAGrad, cagrad_weights
from .dwa import DWA, dwa_weights
from .famo import FAMO, famo_logit_gradient, famo_weights
from .fixed import Equal, Fixed
from .gradnorm import GradNorm, gradnorm_parameters, gradnorm_targets
from .gramian import GramianWeighting, TaskGradients, gramian, task_gradients, write_gradients
from .imtl_g import IMTLG, imtl_g_weights
from .mgda import MGDA, mgda_weights
from .nash_mtl import NashMTL, nash_mtl_weights, nash_solution
from .pcgrad import PCGrad, project_conflicting
from .rlw import RLW, random_loss_weights
from .uncertainty import Uncertainty
from .upgrad import UPGrad, dual_cone_weights, upgrad_weights

WEIGHTINGS: dict[str, Callable[..., Weighting]] = {
    "equal": Equal,
    "fixed": Fixed,
    "uncertainty": Uncertainty,
    "gradnorm": GradNorm,
    "dwa": DWA,
    "pcgrad": PCGrad,
    "rlw": RLW,
    "famo": FAMO,
    "mgda": MGDA,
    "imtl_g": IMTLG,
    "cagrad": CAGrad,
    "nash_mtl": NashMTL,
    "aligned_mtl": AlignedMTL,
    "upgrad": UPGrad,
}

GRADIENT_AGGREGATORS: tuple[str, ...] = ("pcgrad", "mgda", "imtl_g", "cagrad", "nash_mtl", "aligned_mtl", "upgrad")
"""Names in ``WEIGHTINGS`` that need one backward pass per task (slower per step)."""


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


__all__ = ["AlignedMTL", "CAGrad", "DWA", "FAMO", "GRADIENT_AGGREGATORS", "IMTLG", "MGDA", "NashMTL", "RLW",
           "UPGrad", "WEIGHTINGS", "Equal", "Fixed", "GradNorm", "GramianWeighting", "PCGrad", "TaskGradients",
           "Uncertainty", "Weighting", "aligned_mtl_weights", "balance_transformation", "cagrad_weights",
           "dual_cone_weights", "dwa_weights", "famo_logit_gradient", "famo_weights", "gradnorm_parameters",
           "gradnorm_targets", "gramian", "imtl_g_weights", "make_weighting", "mgda_weights", "nash_mtl_weights",
           "nash_solution", "project_conflicting", "random_loss_weights", "task_gradients", "upgrad_weights",
           "write_gradients"]
