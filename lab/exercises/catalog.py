"""Every exercise of notebooks 00-08 by number ("NN.k": notebook NN, exercise k), with its kind and check."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from . import compress_checks as cc
from . import coupling_checks as kc
from . import detection_checks as dc
from . import targets
from .checker import FunctionCheck
from .predictions import QUESTIONS, check_prediction
from .result import CheckResult, failed

Kind = Literal["function", "target", "prediction"]


@dataclass(frozen=True)
class Exercise:
    """``run(*args, **kwargs) -> CheckResult``: the check the learner calls (through ``check``)."""

    number: str
    kind: Kind
    title: str
    run: Callable[..., CheckResult]

    @property
    def notebook(self) -> str:
        return self.number.split(".")[0]


def _function(check: FunctionCheck) -> Exercise:
    return Exercise(check.exercise, "function", check.what, check.check)


def _prediction(number: str) -> Exercise:
    return Exercise(number, "prediction", QUESTIONS[number].title,
                    lambda guess, *objects: check_prediction(number, guess, *objects))


EXERCISES: dict[str, Exercise] = {e.number: e for e in [
    _function(kc.CROSS_STITCH_MIX),
    Exercise("00.2", "target", "which module do the others borrow from most?", targets.borrowed_most),
    _prediction("00.3"),
    _function(kc.PCGRAD),
    Exercise("01.2", "target", "recover W* with your playground run", targets.w_recovered),
    _prediction("01.3"),
    _function(kc.EDGE_SCORES),
    Exercise("02.2", "target", "when does a true edge take the lead?", targets.overtaking_epoch),
    _prediction("02.3"),
    _function(kc.FGSM_STEP),
    Exercise("03.2", "target", "the eps where cross-stitch keeps half its accuracy", targets.half_accuracy_eps),
    _prediction("03.3"),
    _function(cc.MAGNITUDE_MASK),
    _function(cc.QUANTIZE),
    _function(cc.KMEANS_ASSIGN),
    _function(cc.HUFFMAN),
    Exercise("04.5", "target", "at most 6 KB at 96.5% or better", targets.compression_target),
    _prediction("04.6"),
    _function(kc.MODULE_INFLUENCE),
    Exercise("05.2", "target", "which edges of W* did your run recover?", targets.recovered_edges),
    _prediction("05.3"),
    _function(kc.DWA),
    Exercise("06.2", "target", "a front that beats every hand recipe", targets.front_beats_hand),
    _prediction("06.3"),
    _function(dc.DETECTION_SCORE),
    Exercise("07.2", "target", "a detection score of 85% or more", dc.detection_target),
    _prediction("07.3"),
    _function(dc.DELTA_M),
]}


def exercises_of(notebook: str) -> list[Exercise]:
    """The exercises of one notebook ("04"), in order."""
    return [e for e in EXERCISES.values() if e.notebook == notebook]


def check_exercise(number: str, *args, **kwargs) -> CheckResult:
    """Run exercise ``number``'s check; never raises (a check that cannot run is a red result saying why)."""
    exercise = EXERCISES.get(number)
    if exercise is None:
        return failed(str(number), f"there is no exercise {number!r}", f"numbers are {', '.join(EXERCISES)}")
    try:
        return exercise.run(*args, **kwargs)
    except TypeError as err:             # wrong arguments to the check itself
        return failed(number, f"the check was called with the wrong arguments ({err})",
                      "use the check(...) line as the notebook gives it; `make reset-notebook NB=...` restores it")
