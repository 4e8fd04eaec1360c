"""Exercises that check themselves: write-a-function, target and prediction exercises for notebooks 00-08.

Design (why a checker of the lab's own). otter-grader (``grader.check``) and jupyterquiz would be the
well-kept choices, but neither fits here: they are not installed (and the lab installs nothing at class
time), otter's checks are doctest-style test files run against notebook globals that cannot read a widget
panel's state (a trained system, a running study) or run a measurement on it, and jupyterquiz is a
multiple-choice renderer without a way to compare a recorded guess with an experiment's result. So a
check here is a plain, tested function returning a :class:`CheckResult` (``passed``, a ``message``, a
``hint`` that names the misconception but never the code of the solution, and an optional before/after
figure); ``lab.ui.exercises.check`` shows it green or red (CSS classes ``lab-check-pass`` /
``lab-check-fail``) and never raises. Solutions live outside the learner's path: ``teacher/solutions.py``
and ``docs/TEACHER_GUIDE.md``; nothing in ``lab/`` imports them.

Three kinds (``EXERCISES`` lists them all, numbered "NN.k" by notebook):

* **function**: the learner's function runs on fixed tensors against the lab's own implementation; typical
  wrong answers are recognised by matching the output of known mistakes (:mod:`.checker`).
* **target**: reads the learner's own run or panel through public attributes (:mod:`.targets`).
* **prediction**: ``predict(number, choice)`` records a guess before the experiment; the check measures the
  result on the learner's objects and explains it (:mod:`.predictions`).
"""
from .catalog import EXERCISES, Exercise, check_exercise, exercises_of
from .checker import FunctionCheck, Mistake
from .predictions import QUESTIONS, Guess, predict
from .result import CheckResult

__all__ = ["CheckResult", "EXERCISES", "Exercise", "FunctionCheck", "Guess", "Mistake", "QUESTIONS", "check_exercise",
           "exercises_of", "predict"]
