"""Write-a-function checks of the coupling notebooks: the cross-stitch mix (00), the PCGrad projection (01),
W's edge scores (02), an FGSM step (03), W's module influence (05) and DWA weights (06) - each against the
lab's own implementation on fixed tensors."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..adversarial import Attack, perturb
from ..coupling.cross_stitch import CrossStitch
from ..coupling.recovery import edge_scores
from ..data.base import Task
from ..metrics import task_loss
from ..weighting.dwa import dwa_weights
from ..weighting.pcgrad import project_conflicting
from . import figures
from .checker import FunctionCheck, Mistake
from .result import as_tensor


def _like(out, exp):
    shape = tuple(exp.shape) if exp is not None else tuple(torch.as_tensor(np.asarray(out)).shape)
    return as_tensor(out, shape)


# --- 00.1 the cross-stitch mix ---------------------------------------------------------------------
_W_MIX = torch.tensor([[0.8, 0.3, -0.1], [0.0, 0.6, 0.5], [0.4, -0.2, 0.9]])
_STATES = torch.arange(3 * 2 * 4, dtype=torch.float32).reshape(3, 2, 4).sin()       # (modules, batch, features)


def _mix_reference(W, states):
    unit = CrossStitch(W.shape[0], 1, [(states.shape[-1],)])
    with torch.no_grad():
        unit.W[0].copy_(W)
    return torch.stack(unit.mix(0, list(states))).detach()


CROSS_STITCH_MIX = FunctionCheck(
    exercise="00.1", what="cross-stitch mix",
    cases=[(_W_MIX, _STATES), (_W_MIX[:2, :2], _STATES[:2, :, :3])],
    reference=_mix_reference, normalise=_like,
    mistakes=[
        Mistake("transposed", lambda W, x: _mix_reference(W.T, x),
                "you mixed with the columns of W: row i of W lists what module i *takes* from every module j"),
        Mistake("unmixed", lambda W, x: x.clone(),
                "you returned the states unmixed: every module's new state is a weighted sum over all modules"),
        Mistake("diagonal only", lambda W, x: torch.diagonal(W).reshape(-1, 1, 1) * x,
                "you kept only the diagonal (what a module keeps of itself); add what it takes from the others"),
        Mistake("no weights", lambda W, x: x.sum(0, keepdim=True).expand_as(x).clone(),
                "you summed the modules without the weights of W"),
    ],
    generic_hint="states is (modules, batch, features); the new state of module i is the sum over j of W[i, j] "
                 "times the state of module j",
    figure=lambda case, got, exp: figures.before_after(case[1][:, 0], got[:, 0], exp[:, 0],
                                                       "states of the first example (rows: modules)"),
    describe=lambda case: f"{case[0].shape[0]} modules",
)


# --- 01.1 PCGrad -----------------------------------------------------------------------------------
_G = torch.tensor([[1.0, 0.0], [-0.8, 0.6], [0.3, -1.0]])
_G4 = torch.tensor([[1.0, 2.0, 0.0, -1.0], [-1.0, 0.5, 1.0, 0.0], [0.5, 0.5, 0.5, 0.5]])


def _pc_variant(grads, conflict=lambda d: d < 0, sign=-1.0, original=True, squared=True):
    out = grads.clone()
    for i in range(len(grads)):
        for j in range(len(grads)):
            if j == i:
                continue
            g_j = grads[j] if original else out[j]
            dot = out[i] @ g_j
            if conflict(dot):
                norm = (g_j @ g_j) if squared else g_j.norm()
                out[i] = out[i] + sign * (dot / norm) * g_j
    return out


PCGRAD = FunctionCheck(
    exercise="01.1", what="PCGrad projection",
    cases=[(_G,), (_G4,), (_G[:2],)],
    reference=lambda g: project_conflicting(g), normalise=_like,
    mistakes=[
        Mistake("projects when cos > 0", lambda g: _pc_variant(g, conflict=lambda d: d > 0),
                "you projected gradients that *agree* (positive dot product); PCGrad only removes the component "
                "along a gradient it conflicts with (negative dot product)"),
        Mistake("always projects", lambda g: _pc_variant(g, conflict=lambda d: True),
                "you projected every pair; only conflicting pairs (negative dot product) are touched"),
        Mistake("wrong sign", lambda g: _pc_variant(g, sign=1.0),
                "you added the conflicting component instead of removing it: after the projection g_i . g_j "
                "must be 0"),
        Mistake("not squared", lambda g: _pc_variant(g, squared=False),
                "the component of g_i along g_j is (g_i . g_j / |g_j|^2) g_j - you divided by |g_j|, not its "
                "square"),
        Mistake("projected gradients", lambda g: _pc_variant(g, original=False),
                "you projected off the *already projected* gradients of the other tasks; use their original "
                "gradients"),
    ],
    generic_hint="grads is (tasks, values); for each task i, visit the other tasks j in index order and, when "
                 "g_i conflicts with the original g_j, remove from g_i its component along g_j",
    figure=lambda case, got, exp: figures.arrows(case[0][:, :2], got[:, :2], exp[:, :2],
                                                 "task gradients (first two coordinates)"),
    describe=lambda case: f"{case[0].shape[0]} tasks, {case[0].shape[1]} values",
)


# --- 02.1 edge scores ------------------------------------------------------------------------------
_STAGE_W = [torch.tensor([[0.9, 0.4, -0.1], [-0.3, 0.8, 0.2], [0.05, -0.6, 1.0]]),
            torch.tensor([[1.1, -0.4, 0.3], [0.3, 0.7, 0.0], [0.1, 0.2, 0.9]])]

EDGE_SCORES = FunctionCheck(
    exercise="02.1", what="edge scores",
    cases=[(_STAGE_W,), (_STAGE_W[:1],), ([_STAGE_W[1], -_STAGE_W[0], _STAGE_W[0]],)],
    reference=lambda mats: torch.as_tensor(edge_scores(mats)), normalise=_like,
    mistakes=[
        Mistake("signed mean", lambda mats: torch.stack(mats).mean(0),
                "your scores keep the sign: a strong negative edge is as informative as a positive one"),
        Mistake("abs of the mean", lambda mats: torch.stack(mats).mean(0).abs(),
                "you averaged first and took the size after, so a + edge in one stage cancels a - edge in "
                "another: take the size per stage, then average"),
        Mistake("sum", lambda mats: torch.stack(mats).abs().sum(0),
                "you summed over stages; the score is the average over stages"),
        Mistake("last stage", lambda mats: mats[-1].abs(),
                "you used the last stage only; average over all stages"),
    ],
    generic_hint="return an (n, n) array: entry (i, j) is |W_ij| averaged over the stages",
    figure=lambda case, got, exp: figures.before_after(case[0][0], got, exp, "stage-1 W, your scores, the lab's"),
    describe=lambda case: f"{len(case[0])} stage(s)",
)


# --- 03.1 an FGSM step -----------------------------------------------------------------------------
class _TinySystem(nn.Module):
    """One linear classifier on 6 'pixels' in [0, 1], shaped like a coupled system for ``perturb``."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks = (Task("digit", "classification", 3),)
        self.linear = nn.Linear(6, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.linspace(-1.5, 1.2, 18).reshape(3, 6).sin() * 2)
            self.linear.bias.zero_()

    def forward(self, x):
        return {"digit": self.linear(x)}


_X = torch.tensor([[0.0, 0.95, 0.5, 0.02, 1.0, 0.3], [0.6, 0.1, 0.98, 0.0, 0.45, 0.7]])
_Y = {"digit": torch.tensor([0, 2])}


def _gradient(x: torch.Tensor) -> torch.Tensor:
    system = _TinySystem()
    x = x.clone().requires_grad_(True)
    loss = sum(task_loss(t, system(x)[t.name], _Y[t.name]) for t in system.tasks)
    return torch.autograd.grad(loss, x)[0].detach()


def _fgsm_reference(x, grad, eps):
    return perturb(_TinySystem(), x, _Y, Attack("fgsm", eps=eps, clamp=(0.0, 1.0)))


FGSM_STEP = FunctionCheck(
    exercise="03.1", what="FGSM step",
    cases=[(_X, _gradient(_X), 0.1), (_X, _gradient(_X), 0.3)],
    reference=_fgsm_reference, normalise=_like,
    mistakes=[
        Mistake("descends", lambda x, g, eps: (x - eps * g.sign()).clamp(0, 1),
                "you stepped *down* the loss (that makes the model more sure); an attack climbs it"),
        Mistake("raw gradient", lambda x, g, eps: (x + eps * g).clamp(0, 1),
                "you stepped along the raw gradient; FGSM moves every pixel by the full eps, in the direction "
                "of the gradient's sign (the steepest step in the L-infinity ball)"),
        Mistake("unclamped", lambda x, g, eps: x + eps * g.sign(),
                "some pixels left [0, 1]: an image must stay a valid image"),
        Mistake("half step", lambda x, g, eps: (x + 0.5 * eps * g.sign()).clamp(0, 1),
                "your step is half of eps; FGSM uses the whole budget in its single step"),
    ],
    generic_hint="x' = x moved by eps in the direction that increases the loss, pixel by pixel, then kept in "
                 "[0, 1]",
    figure=lambda case, got, exp: figures.before_after(case[0], got, exp, f"pixels, FGSM eps = {case[2]}"),
    describe=lambda case: f"eps = {case[2]}",
)


# --- 05.1 module influence -------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _four_module_system():
    from ..coupling import SystemConfig, build_system
    from ..data import load_synthetic

    data = load_synthetic(num_modules=4, num_samples=30, seed=0)
    return build_system(data, SystemConfig(strategy="cross_stitch", widths=(4, 4), seed=0))


_W_STAGES = [torch.tensor([[0.9, 0.5, 0.0, 0.1], [0.4, 0.8, -0.3, 0.0], [0.0, 0.6, 0.7, -0.05], [0.2, 0.0, 0.9, 0.6]]),
             torch.tensor([[1.0, -0.2, 0.1, 0.0], [0.3, 0.9, 0.0, 0.05], [0.1, 0.4, 0.8, 0.0], [0.0, 0.3, 0.7, 0.5]])]


def _influence_reference(mats):
    from ..compress.modules import module_scores

    system = _four_module_system()
    with torch.no_grad():
        for p, W in zip(system.coupling.W, mats):
            p.copy_(W)
    scores = module_scores(system, "w")
    return torch.tensor([scores[m] for m in sorted(scores)])


MODULE_INFLUENCE = FunctionCheck(
    exercise="05.1", what="W's module influence",
    cases=[(_W_STAGES,), ([_W_STAGES[1], -_W_STAGES[0]],)],
    reference=_influence_reference, normalise=_like,
    mistakes=[
        Mistake("rows", lambda mats: torch.stack(mats).abs().sum((0, 2)),
                "you summed the rows: row i is what module i *takes*; a module's influence is what the others "
                "take *from* it - its column"),
        Mistake("off-diagonal only", lambda mats: torch.stack(mats).abs().sum((0, 1)) - torch.stack(
            [torch.diagonal(W).abs() for W in mats]).sum(0),
                "you left out the diagonal: what a module passes on to its own next stage counts too (its own "
                "task needs it)"),
        Mistake("signed", lambda mats: torch.stack(mats).sum((0, 1)),
                "your sum keeps the signs, so + and - edges cancel: add up sizes"),
        Mistake("last stage", lambda mats: mats[-1].abs().sum(0),
                "you used the last stage only; add up every stage"),
    ],
    generic_hint="return one number per module j: the |W_ij| summed over every stage and every receiver i "
                 "(itself included)",
    figure=lambda case, got, exp: figures.bars([f"module {m}" for m in range(len(exp))], got, exp,
                                               "outgoing influence", "sum of |W|"),
    describe=lambda case: f"{len(case[0])} stages",
)


# --- 06.1 DWA weights ------------------------------------------------------------------------------
_HISTORY = [[2.0, 1.0, 0.8, 1.5], [1.6, 0.9, 0.8, 0.9], [1.5, 0.6, 0.8, 0.8]]


def _dwa_variant(history, T, invert=False, scale=True, temper=True):
    if len(history) < 2:
        return [1.0] * len(history[0])
    last, before = torch.tensor(history[-1], dtype=torch.float64), torch.tensor(history[-2], dtype=torch.float64)
    ratio = before / last if invert else last / before
    lam = torch.softmax(ratio / (T if temper else 1.0), 0)
    return lam * len(last) if scale else lam


DWA = FunctionCheck(
    exercise="06.1", what="DWA weights",
    cases=[(_HISTORY, 2.0), (_HISTORY, 0.5), (_HISTORY[:1], 2.0), (_HISTORY[:2], 1.0)],
    reference=lambda h, T: torch.tensor(dwa_weights(h, T)), normalise=_like,
    mistakes=[
        Mistake("inverted ratio", lambda h, T: _dwa_variant(h, T, invert=True),
                "your ratio is upside down: a task whose loss fell *least* (last / previous close to 1 or above) "
                "is the one that needs more weight"),
        Mistake("not scaled", lambda h, T: _dwa_variant(h, T, scale=False),
                "your weights sum to 1; DWA's sum to the number of tasks (equal weighting = all ones)"),
        Mistake("no temperature", lambda h, T: _dwa_variant(h, T, temper=False),
                "the temperature T is missing: it divides the ratios before the softmax (large T = nearly "
                "equal weights)"),
        Mistake("warm-up sums to 1", lambda h, T: [1.0 / len(h[0])] * len(h[0]) if len(h) < 2 else _dwa_variant(h, T),
                "with fewer than two epochs recorded there is no ratio yet: every weight is 1 (equal weighting, "
                "summing to the number of tasks)"),
    ],
    generic_hint="loss_history[e][k] is task k's mean loss in epoch e; compare each task's last two epochs, turn "
                 "the ratios into weights with a softmax at temperature T, scaled to sum to the number of tasks",
    figure=lambda case, got, exp: figures.bars([f"task {k}" for k in range(len(exp))], got, exp,
                                               f"DWA weights (T = {case[1]})", "lambda"),
    describe=lambda case: f"{len(case[0])} epoch(s), T = {case[1]}",
)
