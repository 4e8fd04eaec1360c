"""Target exercises: checked against the learner's own run or panel, read through public attributes.

The panels are passed in (duck typing: this core module never imports ``lab.ui``). A panel with no result
yet gets a red check saying what to do first. Numbers a target needs (an AUC, robust accuracy at an eps) are
measured here with the lab's own functions, on the learner's trained systems.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..adversarial import input_range, robust_accuracy
from ..coupling.recovery import edge_scores, recovery_report
from ..cost import KB
from .result import CheckResult, failed, passed

FULL_DIGITS_TEST = 300          # the full digits test split has 360 examples; LAB_FAST subsets are smaller


def _off_diagonal_edges(W_true) -> set[tuple[int, int]]:
    """True edges as (source j, receiver i) for W*_ij != 0, i != j: the arrows j -> i of the W graphs."""
    A = np.asarray(W_true, dtype=float)
    return {(j, i) for i in range(A.shape[0]) for j in range(A.shape[1]) if i != j and A[i, j] != 0}


# --- 00.2 ------------------------------------------------------------------------------------------
def borrowed_most(answer: Any, system) -> CheckResult:
    """Which module do the others borrow from most in stage 1 of ``system``'s learned W?"""
    ex = "00.2"
    if system is None or not hasattr(system, "coupling_matrices"):
        return failed(ex, "no trained system yet", "run the training cell above first, then pass `system`")
    W = system.coupling_matrices()[0].detach().abs().double()
    n = W.shape[0]
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or not 0 <= int(answer) < n:
        return failed(ex, f"answer with a module number 0..{n - 1}, got {answer!r}",
                      "replace None by the number of the module you read off the heatmap")
    given = (W.sum(0) - torch.diagonal(W))          # column j without W_jj: what the others take from j
    best = int(given.argmax())
    if int(answer) == best:
        return passed(ex, f"module {best}: the others take {float(given[best]):.2f} from it in total "
                          "(sum of its column off the diagonal)")
    return failed(ex, f"module {int(answer)} is not the one the others borrow from most in your stage-1 W",
                  "add up each module's column of the heatmap, leaving out the diagonal: column j is what the "
                  "other modules take from module j")


# --- 01.2 ------------------------------------------------------------------------------------------
def w_recovered(playground, min_auc: float = 0.9) -> CheckResult:
    """Your playground run recovers the synthetic W* with an edge-detection AUC >= ``min_auc``."""
    ex = "01.2"
    history = getattr(playground, "history", None)
    if history is None:
        return failed(ex, "the playground has no run yet", "press Train in the playground first")
    if history.W_true is None:
        return failed(ex, "your last run has no known W* (it ran on the digits)",
                      "choose data 'synthetic' (a W* structure, e.g. chain) and press Train again")
    if not history.W:
        return failed(ex, "your run has no learned W (the coupling has no W to learn)",
                      "choose a learnable coupling such as cross_stitch")
    auc = recovery_report(history.W[-1], history.W_true)["auc"]
    strategy = history.config.get("strategy", "?") if isinstance(history.config, dict) else "?"
    if auc >= min_auc:
        return passed(ex, f"W* recovered: AUC {auc:.3f} >= {min_auc} ({strategy}, {history.num_epochs} epochs)")
    return failed(ex, f"AUC {auc:.3f} < {min_auc} ({strategy}, {history.num_epochs} epochs)",
                  "give W time and room to learn: more epochs, a higher learning rate, or a W init that is not "
                  "stuck at the identity; watch the W heatmap while it trains")


# --- 02.2 ------------------------------------------------------------------------------------------
def _overtake_epoch(history) -> int | None:
    true = _off_diagonal_edges(history.W_true)
    for epoch, mats in zip(history.epochs, history.W):
        S = edge_scores(mats)
        t = [S[i, j] for (j, i) in true]
        f = [S[i, j] for i in range(len(S)) for j in range(len(S)) if i != j and (j, i) not in true]
        if t and f and max(t) > max(f):
            return int(epoch)
    return None


def overtaking_epoch(answer: Any, history) -> CheckResult:
    """At which epoch does the strongest true edge first score above every false one (mean |W| over
    stages)? ``None`` when it never does."""
    ex = "02.2"
    if history is None or getattr(history, "W_true", None) is None or not history.W:
        return failed(ex, "no run with a known W* yet", "run the training cell of section 0 first")
    right = _overtake_epoch(history)
    if answer is None:
        return failed(ex, "no answer yet", "replace None by an epoch number, or by \"never\" if no true edge ever "
                                           "leads")
    if answer == "never":
        answer = None
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (int, np.integer))):
        return failed(ex, f"answer with an epoch number (or 'never'), got {answer!r}",
                      "scrub the epoch slider of the inspector or read the trajectories plot")
    if answer == right:
        return passed(ex, "right: " + (f"from epoch {right} on, a true edge leads" if right is not None
                                       else "in this run no true edge ever leads every false one"))
    if right is None:
        return failed(ex, f"at epoch {answer} a false edge still scores at least as high as every true one",
                      "look at every epoch: does a true edge ever lead?")
    if answer is None or answer > right:
        return failed(ex, "a true edge already leads before that" if answer is not None else
                      "in this run a true edge does take the lead", "look at earlier epochs")
    return failed(ex, f"at epoch {answer} a false edge still scores at least as high as the strongest true one",
                  "look at later epochs")


# --- 03.2 ------------------------------------------------------------------------------------------
def half_accuracy_eps(eps: Any, robust, strategy: str = "cross_stitch", tolerance: float = 0.1) -> CheckResult:
    """At ``eps``, ``strategy`` keeps half of its clean mean test accuracy (within ``tolerance``), under the
    panel's attack (kind, steps, attacked modules)."""
    ex = "03.2"
    systems = getattr(robust, "systems", None) or {}
    if strategy not in systems:
        return failed(ex, f"the robustness panel has no trained {strategy} system",
                      f"tick {strategy} among the strategies and press Train first")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not np.isfinite(eps) or eps <= 0:
        return failed(ex, f"answer with an eps > 0, got {eps!r}", "try values on the eps slider first")
    data, config = robust.data, robust.trained_config
    clean = float(np.mean(list(robust.clean[strategy].values())))
    attack = config.attack_at(float(eps), input_range(data))
    attacked = robust_accuracy(systems[strategy], data.test, attack, seed=config.seed)
    kept = float(np.mean(list(attacked.values()))) / clean
    label = f"{attack.kind} at eps {float(eps):g}: {strategy} keeps {100 * kept:.0f}% of its clean accuracy"
    if abs(kept - 0.5) <= tolerance:
        return passed(ex, label + " - about half")
    return failed(ex, label, "too much left: attack harder (larger eps)" if kept > 0.5 else
                  "it lost more than half: try a smaller eps")


# --- 04.5 ------------------------------------------------------------------------------------------
def compression_target(cp, max_kb: float = 6.0, min_accuracy: float = 0.965) -> CheckResult:
    """The compression panel's latest recipe ends at <= ``max_kb`` KB with >= ``min_accuracy`` test accuracy,
    on the reference model and the full test digits."""
    ex = "04.5"
    loaded = getattr(cp, "loaded", None)
    runs = getattr(cp, "runs", None) or []
    if loaded is None:
        return failed(ex, "the compression panel has no model yet", "press Train / load in tab 1 first")
    if not runs or not runs[-1].reports:
        return failed(ex, "no recipe has run yet", "type a recipe in tab 3 and press Run recipe")
    run, last = runs[-1], runs[-1].reports[-1]
    if last.bytes is None or last.metric is None:
        return failed(ex, f"the last step of '{run.recipe}' has no size or accuracy", "run the recipe to its end")
    kb, acc = last.bytes / KB, last.metric
    label = f"'{run.recipe}' on {loaded.label}: {kb:.2f} KB at {100 * acc:.2f}%"
    if len(loaded.data.test) < FULL_DIGITS_TEST:
        return failed(ex, label + f" - but on a {len(loaded.data.test)}-example test subset (fast mode)",
                      "the target counts on the full test digits: restart the kernel without LAB_FAST and run "
                      "again")
    misses = ([f"{kb:.2f} KB > {max_kb:g} KB"] if kb > max_kb else []) + \
             ([f"{100 * acc:.2f}% < {100 * min_accuracy:g}%"] if acc < min_accuracy else [])
    if not misses:
        return passed(ex, label + f" - within {max_kb:g} KB and at least {100 * min_accuracy:g}%")
    hint = ("smaller: fewer non-zeros or fewer bits per value (more sparsity, fewer clusters)" if kb > max_kb else
            "more accurate: prune gradually, fine-tune longer, or keep a few more weights")
    return failed(ex, label + ": " + "; ".join(misses), hint)


# --- 05.2 ------------------------------------------------------------------------------------------
def recovered_edges(answer: Any, system, W_true) -> CheckResult:
    """Which edges of W* (as (source, receiver) pairs) are among the k strongest off-diagonal edges of your
    learned W (mean |W| over stages; k = number of true edges)?"""
    ex = "05.2"
    try:
        given = {(int(a), int(b)) for a, b in answer}
    except (TypeError, ValueError):
        return failed(ex, f"answer with a list of (source, receiver) pairs, e.g. [(0, 1)], got {answer!r}",
                      "an arrow j -> i of the graph is the pair (j, i): module i takes from module j")
    true = _off_diagonal_edges(W_true)
    S = edge_scores(system.coupling_matrices())
    n = S.shape[0]
    off = sorted(((S[i, j], (j, i)) for i in range(n) for j in range(n) if i != j), reverse=True)
    top = {e for _, e in off[:len(true)]}
    right = true & top
    if given == right:
        return passed(ex, f"right: your W recovered {len(right)} of the {len(true)} edges of W*")
    not_true = sorted(given - true)
    if not_true:
        return failed(ex, f"{not_true} {'is' if len(not_true) == 1 else 'are'} not an edge of W*",
                      "compare with W* printed in section 1: row i, column j non-zero means j -> i")
    return failed(ex, f"{len(given)} edges listed; that is not the set your W ranks among its {len(true)} strongest",
                  "an edge counts as recovered when it is a true edge *and* among the k strongest off-diagonal "
                  "entries of your learned |W| (k = number of true edges)")


# --- 06.2 ------------------------------------------------------------------------------------------
def front_beats_hand(tp, hand) -> CheckResult:
    """Every hand recipe of section 2 (``hand``: ``recipe_points`` rows) is dominated by the study's front."""
    from ..tune import dominated

    ex = "06.2"
    study = getattr(tp, "study", None)
    if study is None or not getattr(tp, "rows", None):
        return failed(ex, "the study has no finished trial yet", "press Start in the tuning panel first")
    if not hand:
        return failed(ex, "no hand recipes measured", "run the cell of section 2 first")
    beaten = dominated(hand, study, tp.config.objectives)
    left = [p["recipe"] for p, b in zip(hand, beaten) if b is False]
    if not left:
        return passed(ex, f"the front ({len(tp.rows)} trials) dominates all {len(hand)} hand recipes")
    return failed(ex, f"not dominated yet: {', '.join(left)}",
                  "run more trials (raise trials and press Start: the study continues), or narrow the ranges "
                  "around the hand recipe's sparsity and clusters")
