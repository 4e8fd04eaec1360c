"""Prediction exercises: the learner records a guess *before* the experiment, the check measures the result
on the learner's own objects and says whether the guess was right, and why.

``predict(exercise, choice)`` returns a :class:`Guess` (the choice and when it was recorded); the notebook
keeps it in a variable and passes it to the check after the experiment. A guess that is missing (None) or
not one of the offered choices is a red check that says what to do, never an exception.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..adversarial import Attack, robust_accuracy
from ..coupling.recovery import recovery_report
from ..metrics import evaluate_model
from .result import CheckResult, failed, passed


@dataclass(frozen=True)
class Guess:
    """A learner's recorded answer to prediction ``exercise`` (``choice`` None: not answered yet)."""

    exercise: str
    choice: str | None
    recorded_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Question:
    """A prediction: the question, the allowed answers, and ``measure(*objects) -> (answer, why)`` that
    runs or reads the experiment on the learner's objects."""

    exercise: str
    title: str
    question: str
    choices: tuple[str, ...]
    measure: Callable[..., tuple[str, str]]


def _off_diagonal_max(mats) -> float:
    return max(float((W - torch.diag(torch.diagonal(W))).abs().max()) for W in mats)


def _identity_moves(system) -> tuple[str, str]:
    moved = _off_diagonal_max(system.coupling_matrices())
    answer = "move" if moved > 1e-3 else "stay"
    return answer, (f"the largest off-diagonal |W_ij| is now {moved:.4f}. The gradient of the loss with respect to "
                    "W_ij is (what module i's loss wants) x (module j's state): not zero even when W_ij = 0, so "
                    "W can leave the identity - unlike a weight multiplied by a dead (zero) input")


def _row_sums(system) -> tuple[str, str]:
    dev = max(float((W.sum(1) - 1).abs().max()) for W in system.coupling_matrices())
    answer = "yes" if dev < 0.01 else "no"
    return answer, (f"the row sums now differ from 1 by up to {dev:.3f}. W starts with rows summing to 1 but "
                    "training updates every W_ij freely: nothing in the loss keeps a row a weighted average")


def _attention_vs_cross_stitch(results) -> tuple[str, str]:
    auc = {s: recovery_report(results[s].history.W[-1], results[s].history.W_true)["auc"]
           for s in ("cross_stitch", "attention")}
    answer = max(auc, key=auc.get)
    why = (f"AUC cross_stitch {auc['cross_stitch']:.3f}, attention {auc['attention']:.3f}. Cross-stitch learns one "
           "number per pair of modules from the loss; attention's W is the average of mixes computed from each "
           "input, so it can follow the data but also blur a fixed structure. ")
    if max(auc.values()) < 0.7:
        why += ("Neither has found the chain yet (0.5 = chance): with so few epochs the difference is noise - "
                "train longer.")
    else:
        why += "One seed is one draw: rerun with another seed before you trust a small difference."
    return answer, why


def _other_module_attack(star, eps: float = 0.5) -> tuple[str, str]:
    config, data = star.trained_config, star.data
    system = star.systems["cross_stitch"]
    clean = star.clean["cross_stitch"]["task0"]
    attack = Attack(config.attack, eps=eps, steps=config.steps, modules=(1,), clamp=None)
    attacked = robust_accuracy(system, data.test, attack, seed=config.seed)["task0"]
    drop = clean - attacked
    answer = "falls a lot" if drop > 0.1 else "barely moves"
    return answer, (f"task 0 of cross_stitch: {100 * clean:.1f}% clean, {100 * attacked:.1f}% with module 1's "
                    f"input attacked at eps {eps:g}. In the star W* task 0 needs module 0 only; what reaches it "
                    "from module 1 goes through a W entry that training had no reason to make large")


def _granularity(cp, sparsity: float = 0.5, bits: int = 2) -> tuple[str, str]:
    acc = {g: cp.preview(sparsity, bits, g).accuracy for g in ("channel", "tensor")}
    answer = "per tensor" if acc["tensor"] < acc["channel"] else "per channel"
    return answer, (f"at {bits} bits: per channel {100 * acc['channel']:.1f}%, per tensor {100 * acc['tensor']:.1f}%. "
                    "One step size for the whole tensor is set by its single largest weight, so rows with small "
                    "weights round to zero; a step per output channel fits each row's own range")


def _hub_vs_leaf(system, data) -> tuple[str, str]:
    from ..coupling.restructure import restructure

    def acc(modules):
        m = evaluate_model(restructure(system, modules=modules), data.test, data.tasks)
        return sum(m.values()) / len(m)

    full = acc(range(system.num_modules))
    without = {k: acc([m for m in range(system.num_modules) if m != k]) for k in (0, 3)}
    cost = {k: full - v for k, v in without.items()}
    answer = ("about the same" if abs(cost[0] - cost[3]) < 0.02 else
              "removing module 0" if cost[0] > cost[3] else "removing module 3")
    return answer, (f"without fine-tuning, removing module 0 costs {100 * cost[0]:.1f} points, module 3 "
                    f"{100 * cost[3]:.1f}. Module 0 starts the chain 0 -> 1 -> 2 that tasks 0-2 need; module 3's own "
                    "input is needed by no task (task 3 reads module 2), so removing it loses little that W had not "
                    "already learned to route around")


def _new_hand_recipe(tp, recipe: str = "prune:0.8,kmeans:32", epochs: int = 1) -> tuple[str, str]:
    from ..compress.fit import FitConfig
    from ..tune import dominated, recipe_points

    (point,) = recipe_points(tp.context, [recipe], FitConfig(epochs=epochs, lr=1e-3))
    if "error" in point:
        return "dominated", f"the recipe was refused: {point['error']}"
    (beaten,) = dominated([point], tp.study, tp.config.objectives)
    answer = "dominated" if beaten else "not dominated"
    measured = f"'{recipe}': val {point['val_%']:.2f}% at {point['bytes']:,} bytes. "
    if beaten:
        return answer, measured + ("The front holds a trial at least as accurate and at most as large: a mild "
                                   "recipe keeps many weights, and the tuner found a smaller file that is as good")
    return answer, measured + ("No trial of the front is both at least as accurate and at most as large: the hand "
                               "recipe sits on the front, in a corner the tuner has not explored yet - with few "
                               "trials the front is rough")


def _pipeline_vs_independent(panel, margin: float = 2.0) -> tuple[str, str]:
    """From a DetectionPanel's ``rows``: the latest lambda at which both pipeline and independent ran (box not
    detached); within ``margin`` detection points is "about the same"."""
    by_lam: dict[float, dict[str, dict]] = {}
    for r in panel.rows:
        if not r.get("detach"):
            by_lam.setdefault(float(r["lambda"]), {})[r["coupling"]] = r
    both = [lam for lam, runs in by_lam.items() if {"pipeline", "independent"} <= set(runs)]
    if not both:
        raise KeyError("train both pipeline and independent at the same lambda (coupling 'all' does)")
    lam = both[-1]
    pipe, ind = by_lam[lam]["pipeline"], by_lam[lam]["independent"]
    d = 100 * (pipe["detection"] - ind["detection"])
    answer = "about the same" if abs(d) < margin else "pipeline" if d > 0 else "independent"
    return answer, (f"at lambda {lam:g}: pipeline {100 * pipe['detection']:.1f} %, independent "
                    f"{100 * ind['detection']:.1f} % (class accuracy {100 * pipe['class_acc']:.1f} vs "
                    f"{100 * ind['class_acc']:.1f} %). Both find the box; the independent classifier reads the whole "
                    "canvas with two digits on it and must guess which one is meant, the pipeline's classifier reads "
                    "the proposal's crop - mostly the right digit")


QUESTIONS: dict[str, Question] = {q.exercise: q for q in [
    Question("00.3", "predict: do W's rows still sum to 1?",
             "W's rows start summing to 1 (0.9 kept + 0.1 spread). After training, do they still sum to 1 (within "
             "0.01)?", ("yes", "no"), _row_sums),
    Question("01.3", "predict: does W leave the identity?",
             "Start cross-stitch at the identity (W init: self 1, others 0). After training, do the off-diagonal "
             "entries of W stay at 0 or move?", ("stay", "move"), _identity_moves),
    Question("02.3", "predict: which coupling recovers W* better?",
             "Which coupling recovers the chain W* better (higher AUC): cross_stitch or attention?",
             ("cross_stitch", "attention"), _attention_vs_cross_stitch),
    Question("03.3", "predict: attack another module",
             "In the star panel, attack module 1's input instead of module 0's (eps 0.5): does cross-stitch's task 0 "
             "fall a lot (> 10 points) or barely move?", ("falls a lot", "barely moves"), _other_module_attack),
    Question("04.6", "predict: per channel or per tensor at 2 bits?",
             "At 50% sparsity and 2 bits, which loses more accuracy: one scale per channel or one per tensor?",
             ("per channel", "per tensor"), _granularity),
    Question("05.3", "predict: which module costs more?",
             "Without fine-tuning, which removal costs more accuracy: module 0 (the start of the chain) or module 3?",
             ("removing module 0", "removing module 3", "about the same"), _hub_vs_leaf),
    Question("06.3", "predict: is a mild hand recipe dominated?",
             "Is the hand recipe 'prune:0.8,kmeans:32' dominated by the tuner's front?",
             ("dominated", "not dominated"), _new_hand_recipe),
    Question("07.3", "predict: does the pipeline beat independent modules?",
             "On the detection score (class right and IoU >= 0.5), does the pipeline beat independent modules, "
             "lose to them, or do they end about the same (within 2 points)?",
             ("pipeline", "independent", "about the same"), _pipeline_vs_independent),
]}


def predict(exercise: str, choice: str | None) -> Guess:
    """Record a guess for prediction ``exercise`` (ValueError for an unknown exercise)."""
    if exercise not in QUESTIONS:
        raise ValueError(f"no prediction exercise {exercise!r}; there are {sorted(QUESTIONS)}")
    return Guess(exercise, choice)


def check_prediction(exercise: str, guess: Any, *objects) -> CheckResult:
    """Measure the experiment on ``objects`` and compare with ``guess``."""
    q = QUESTIONS[exercise]
    if not isinstance(guess, Guess) or guess.exercise != exercise:
        return failed(exercise, "pass the guess that `predict` returned for this exercise",
                      f"record it first: guess = show_guess({exercise!r}, ...)")
    if guess.choice is None:
        return failed(exercise, "no guess recorded yet",
                      f"replace None by one of {list(q.choices)} in the guess cell and run it, *then* the "
                      "experiment")
    if guess.choice not in q.choices:
        return failed(exercise, f"{guess.choice!r} is not one of the answers", f"choose one of {list(q.choices)}")
    try:
        answer, why = q.measure(*objects)
    except (AttributeError, KeyError, TypeError) as err:
        return failed(exercise, f"the experiment has not run yet ({type(err).__name__}: {err})",
                      "run the cells above in order: train first (press Train), then run the experiment")
    if guess.choice == answer:
        return passed(exercise, f"you predicted '{guess.choice}' - right: {why}")
    return failed(exercise, f"you predicted '{guess.choice}', measured '{answer}'", why)
