"""The exercises' face in a notebook: ``check(...)`` shows a check green or red, ``predict(...)`` records a guess,
``GuessBox`` records it with buttons.

A check's output is an HTML block (not a widget, so a saved notebook shows it without a kernel) with stable
CSS classes for the browser test: ``lab-check`` on every block, plus ``lab-check-pass`` or ``lab-check-fail``,
and ``data-exercise="04.2"``. A failing check displays red; it never raises, so Run All stays clean.
"""
from __future__ import annotations

import html

import ipywidgets as widgets
from IPython.display import HTML, display

from ..exercises import QUESTIONS, CheckResult, Guess, check_exercise, predict
from ..exercises.catalog import EXERCISES

PASS_CLASS, FAIL_CLASS = "lab-check-pass", "lab-check-fail"
_STYLE = {True: ("#eef8ee", "#2e7d32", "&#10004;"), False: ("#fdecea", "#c62828", "&#10008;")}


def selector(number: str, passed: bool | None = True) -> str:
    """CSS selector of exercise ``number``'s check output (green, red, or either with None) - for browser tests."""
    css = "lab-check" if passed is None else PASS_CLASS if passed else FAIL_CLASS
    return f".{css}[data-exercise='{number}']"


def result_html(result: CheckResult) -> str:
    """The check as one HTML block: green with a tick, or red with a cross and the hint."""
    bg, fg, mark = _STYLE[result.passed]
    css = PASS_CLASS if result.passed else FAIL_CLASS
    title = EXERCISES[result.exercise].title if result.exercise in EXERCISES else ""
    hint = (f"<div style='margin-top:4px'><b>Hint:</b> {html.escape(result.hint)}</div>" if result.hint else "")
    verdict = "passed" if result.passed else "not yet"
    return (f"<div class='lab-check {css}' data-exercise='{html.escape(result.exercise)}' "
            f"style='background:{bg};border-left:6px solid {fg};padding:6px 10px;margin:4px 0;color:#222'>"
            f"<b style='color:{fg}'>{mark} Exercise {html.escape(result.exercise)}"
            f"{' - ' + html.escape(title) if title else ''}: {verdict}</b>"
            f"<div>{html.escape(result.message)}</div>{hint}</div>")


class CheckView:
    """What ``check`` returns: displays the result block and, when there is one, its before/after figure."""

    def __init__(self, result: CheckResult):
        self.result = result

    @property
    def passed(self) -> bool:
        return self.result.passed

    def __bool__(self) -> bool:
        return self.result.passed

    def __repr__(self) -> str:
        return self.result.text()

    def _repr_html_(self) -> str:
        return result_html(self.result)

    def _ipython_display_(self) -> None:
        display(HTML(result_html(self.result)))
        if self.result.figure is not None:
            self.result.figure.show()


def check(number: str, *args, **kwargs) -> CheckView:
    """Run exercise ``number``'s check on ``args`` (your function, your panel, your guess...) and show it."""
    return CheckView(check_exercise(number, *args, **kwargs))


def guess_html(guess: Guess) -> str:
    if guess.choice is None:
        return (f"<div class='lab-guess lab-guess-missing' data-exercise='{html.escape(guess.exercise)}'>"
                f"<i>No guess recorded for exercise {html.escape(guess.exercise)} yet.</i></div>")
    return (f"<div class='lab-guess' data-exercise='{html.escape(guess.exercise)}'>Your guess for exercise "
            f"{html.escape(guess.exercise)} is recorded: <b>{html.escape(str(guess.choice))}</b>. Now run the "
            "experiment.</div>")


class GuessBox:
    """Buttons with the answers of prediction ``number``; ``guess`` holds the latest choice (a :class:`Guess`,
    recorded when clicked). Pass ``box.guess`` to ``check``."""

    def __init__(self, number: str):
        question = QUESTIONS[number]
        self.guess: Guess = predict(number, None)
        self.buttons = widgets.ToggleButtons(options=list(question.choices), value=None,
                                             description="your guess", style={"description_width": "initial"})
        self.buttons.add_class("lab-guess-box")
        self.buttons.observe(self._record, names="value")
        self.ui = widgets.VBox([widgets.HTML(f"<b>Exercise {number}.</b> {html.escape(question.question)}"),
                                self.buttons])

    def _record(self, change) -> None:
        self.guess = predict(self.guess.exercise, change["new"])

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)


def show_guess(number: str, choice: str | None) -> Guess:
    """``predict`` that also shows what was recorded (for notebooks without widgets)."""
    guess = predict(number, choice)
    display(HTML(guess_html(guess)))
    return guess


__all__ = ["CheckView", "FAIL_CLASS", "GuessBox", "PASS_CLASS", "check", "guess_html", "predict", "result_html", "selector",
           "show_guess"]
