"""Per-module budgets: each sub-module gets its own sparsity and bit width, from its importance.

A module's weights are its stack's Linear/Conv weights (heads and W are left as they are). Its
importance (``module_importance``):

* ``w``:         half its share of the W influence (``lab.compress.modules``, score ``w``), half its
                 share of the sensitivity (validation loss gained when that module alone is pruned to the
                 mean sparsity, no fine-tuning);
* ``magnitude``: its share of the mean |weight| (ignores W);
* ``uniform``:   equal (every module the same budget);
* ``random``:    the ``w`` budgets dealt to the modules in a seeded random order (same bytes, no W).

``allocate`` turns importances into budgets: density (1 - sparsity) proportional to importance^spread,
scaled so the parameter-weighted mean sparsity is the target; with ``bits``, the most important
quarter of the modules gets one bit more and the least important quarter one bit less. Pruning
(global magnitude within a module), fine-tuning with the masks held, then fake quantization per
module. ``uniform_at_bytes`` finds the uniform sparsity whose packed file has the same bytes as a
given model's, for comparisons at equal size.

    model, report = budget_compress(system, BudgetConfig(sparsity=0.8, bits=4), data=data)
    report.extra["budgets"]      # {"0": {"sparsity": 0.62, "bits": 5}, ...}
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..coupling.system import CoupledSystem
from ..cost import MeasureConfig, Report, measure, packed_size
from ..data.base import MultiTaskData
from ..metrics import evaluate
from .fakequant import check_bits, fake_quantize_tensor
from .fit import FitConfig, fit
from .modules import module_scores
from .prune import apply_masks_inplace, check_sparsity, global_magnitude_masks

ALLOCATIONS: tuple[str, ...] = ("w", "uniform", "magnitude", "random")


@dataclass(frozen=True)
class ModuleBudget:
    sparsity: float
    bits: int | None


@dataclass(frozen=True)
class BudgetConfig:
    """Mean ``sparsity`` of the modules' weights, mean ``bits`` (None: float), how budgets are
    ``allocation``-ed, ``spread`` (exponent on importance; 0 = uniform), ``finetune`` (None: off)."""

    sparsity: float = 0.8
    bits: int | None = None
    allocation: Literal["w", "uniform", "magnitude", "random"] = "w"
    spread: float = 1.0
    finetune: FitConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sparsity", check_sparsity(self.sparsity))
        if self.bits is not None:
            check_bits(self.bits)
        if self.allocation not in ALLOCATIONS:
            raise ValueError(f"allocation must be one of {list(ALLOCATIONS)}, got {self.allocation!r}")
        if not (isinstance(self.spread, (int, float)) and 0 <= self.spread <= 4):
            raise ValueError(f"spread must be a number in [0, 4] (0: uniform budgets), got {self.spread!r}")

    def describe(self) -> str:
        return (f"budget:{self.sparsity:g}" + ("" if self.bits is None else f":bits={self.bits}")
                + ("" if self.allocation == "w" else f":{self.allocation}"))


def module_weights(system: CoupledSystem) -> dict[int, dict[str, nn.Parameter]]:
    """{module (original index): {name: Linear/Conv weight of its stack}}."""
    if not isinstance(system, CoupledSystem):
        raise ValueError(f"per-module budgets need a CoupledSystem (sub-modules to budget); this model is a "
                         f"{type(system).__name__} (use prune/fakequant for it)")
    modules = getattr(getattr(system, "structure", None), "modules", tuple(range(len(system.stacks))))
    out = {}
    for k, m in enumerate(modules):
        out[m] = {f"stacks.{k}.{name}": layer.weight for name, layer in system.stacks[k].named_modules()
                  if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))}
    if len(out) < 2:
        raise ValueError(f"per-module budgets need at least 2 sub-modules; this system has {len(out)}")
    return out


@torch.no_grad()
def module_sensitivity(system: CoupledSystem, data: MultiTaskData, sparsity: float) -> dict[int, float]:
    """Validation loss gained (summed over tasks; smoother than accuracy on a small split) when one module
    alone is pruned to ``sparsity``, no fine-tuning."""
    def loss() -> float:
        return sum(evaluate(system, data.val, data.tasks)["loss"].values())

    base, out = loss(), {}
    for m, weights in module_weights(system).items():
        saved = {n: p.detach().clone() for n, p in weights.items()}
        apply_masks_inplace(weights, global_magnitude_masks(dict(weights), sparsity))
        out[m] = max(loss() - base, 0.0)
        for n, p in weights.items():
            p.copy_(saved[n])
    return out


def _shares(values: dict[int, float]) -> dict[int, float]:
    total = sum(values.values())
    return {m: (v / total if total > 0 else 1.0 / len(values)) for m, v in values.items()}


def module_importance(system: CoupledSystem, allocation: str, data: MultiTaskData | None, sparsity: float,
                      seed: int = 0) -> dict[int, float]:
    """{module: importance share (sums to 1)} for ``allocation`` w, magnitude or uniform."""
    modules = list(module_weights(system))
    if allocation == "uniform":
        return {m: 1.0 / len(modules) for m in modules}
    if allocation == "magnitude":
        return _shares(module_scores(system, "magnitude"))
    if allocation != "w":
        raise ValueError(f"importance is defined for allocations w, magnitude and uniform, got {allocation!r}")
    if data is None:
        raise ValueError("W-guided budgets need data (validation split) for the sensitivity of each module")
    w = _shares(module_scores(system, "w", data, seed))
    sens = _shares(module_sensitivity(system, data, sparsity))
    return {m: 0.5 * w[m] + 0.5 * sens[m] for m in modules}


def allocate(importance: dict[int, float], sizes: dict[int, int], sparsity: float, bits: int | None,
             spread: float = 1.0) -> dict[int, ModuleBudget]:
    """Budgets whose parameter-weighted mean sparsity is ``sparsity`` (density ∝ importance^spread, capped
    at 1) and, with ``bits``, one bit more for the top quarter of modules and one less for the bottom one."""
    sparsity = check_sparsity(sparsity)
    raw = {m: max(v, 1e-9) ** spread for m, v in importance.items()}
    total, target = sum(sizes.values()), (1.0 - sparsity) * sum(sizes.values())
    lo, hi = 0.0, 1.0 / min(raw.values())
    for _ in range(60):                         # bisection on the scale c: sum size·min(1, c·raw) = target
        c = (lo + hi) / 2
        lo, hi = (c, hi) if sum(sizes[m] * min(1.0, c * raw[m]) for m in raw) < target else (lo, c)
    density = {m: min(1.0, hi * raw[m]) for m in raw}
    quarter = len(raw) // 4 if len(set(raw.values())) > 1 and spread > 0 else 0
    order = sorted(raw, key=lambda m: (raw[m], m))
    shift = {m: (-1 if r < quarter else 1 if r >= len(order) - quarter else 0) for r, m in enumerate(order)}
    out = {}
    for m in raw:
        b = None if bits is None else min(16, max(2, bits + shift[m]))
        out[m] = ModuleBudget(min(max(1.0 - density[m], 0.0), 0.999), b)
    assert abs(sum(sizes[m] * (1 - out[m].sparsity) for m in out) - target) <= 1e-6 * total + 1
    return out


def budgets_for(system: CoupledSystem, config: BudgetConfig, data: MultiTaskData | None) -> dict[int, ModuleBudget]:
    """The per-module budgets ``config`` gives ``system``."""
    weights = module_weights(system)
    sizes = {m: sum(p.numel() for p in ws.values()) for m, ws in weights.items()}
    if config.allocation == "random":
        w_budgets = budgets_for(system, BudgetConfig(config.sparsity, config.bits, "w", config.spread, None,
                                                     config.seed), data)
        order = torch.randperm(len(weights), generator=torch.Generator().manual_seed(config.seed)).tolist()
        modules = list(weights)
        return {m: w_budgets[modules[order[k]]] for k, m in enumerate(modules)}
    importance = module_importance(system, config.allocation, data, config.sparsity, config.seed)
    return allocate(importance, sizes, config.sparsity, config.bits, config.spread)


def apply_budgets(system: CoupledSystem, budgets: dict[int, ModuleBudget], data: MultiTaskData | None = None,
                  finetune: FitConfig | None = None) -> CoupledSystem:
    """A copy pruned module by module (global magnitude within each), fine-tuned with the masks held
    (when ``finetune``), then fake-quantized module by module."""
    model = copy.deepcopy(system)
    weights = module_weights(model)
    unknown = sorted(set(budgets) - set(weights))
    if unknown:
        raise ValueError(f"budgets for modules {unknown} that this system does not have ({list(weights)})")
    params = {n: p for m in budgets for n, p in weights[m].items()}
    masks = {}
    for m, b in budgets.items():
        masks.update(global_magnitude_masks(dict(weights[m]), b.sparsity))
    apply_masks_inplace(params, masks)
    if finetune is not None and finetune.epochs > 0:
        if data is None:
            raise ValueError("fine-tuning after budgeted pruning needs data")
        fit(model, data, finetune, after_step=lambda _: apply_masks_inplace(params, masks))
    with torch.no_grad():
        for m, b in budgets.items():
            if b.bits is not None:
                for p in weights[m].values():
                    p.copy_(fake_quantize_tensor(p, b.bits))
    return model.eval()


def budget_compress(system: CoupledSystem, config: BudgetConfig, *, data: MultiTaskData | None = None,
                    measure_config: MeasureConfig = MeasureConfig()) -> tuple[CoupledSystem, Report]:
    """``system`` compressed with per-module budgets, and its Report (``extra["budgets"]``)."""
    budgets = budgets_for(system, config, data)
    model = apply_budgets(system, budgets, data, config.finetune)
    extra = {"allocation": config.allocation,
             "budgets": {str(m): {"sparsity": b.sparsity, "bits": b.bits} for m, b in budgets.items()}}
    return model, measure(model, data, config.describe(), measure_config, extra=extra)


def uniform_at_bytes(system: CoupledSystem, target_bytes: int, bits: int | None, steps: int = 14) -> float:
    """The uniform sparsity whose pruned (and quantized) model's packed file is closest to ``target_bytes``
    without exceeding it (bisection; no fine-tuning: the file's size depends on the masks and bits)."""
    modules = list(module_weights(system))

    def size(s: float) -> int:
        model = apply_budgets(system, {m: ModuleBudget(s, bits) for m in modules})
        with tempfile.TemporaryDirectory(prefix="lab-bytes-") as tmp:
            return packed_size(model, tmp)

    lo, hi = 0.0, 0.999
    if size(lo) <= target_bytes:
        return lo
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if size(mid) <= target_bytes else (mid, hi)
    return hi


def uniform_model_at_bytes(system: CoupledSystem, target_bytes: int, bits: int | None, data: MultiTaskData,
                           finetune: FitConfig, steps: int = 6, tolerance: float = 0.005
                           ) -> tuple[CoupledSystem, float, int]:
    """A uniformly budgeted model fine-tuned like the one it is compared with, whose packed file (after
    fine-tuning, which moves the file's size by a few percent) is the closest to ``target_bytes`` of at
    most ``steps`` bisection steps around ``uniform_at_bytes`` (ending early within ``tolerance``, a
    fraction of the target); returns (model, sparsity, bytes)."""
    modules = list(module_weights(system))
    start = uniform_at_bytes(system, target_bytes, bits)
    lo, hi = max(0.0, start - 0.1), min(0.999, start + 0.1)
    best = None
    for k in range(steps + 1):
        s = start if k == 0 else (lo + hi) / 2
        model = apply_budgets(system, {m: ModuleBudget(s, bits) for m in modules}, data, finetune)
        with tempfile.TemporaryDirectory(prefix="lab-bytes-") as tmp:
            size = packed_size(model, tmp)
        if best is None or abs(size - target_bytes) < abs(best[2] - target_bytes):
            best = (model, s, size)
        if abs(size - target_bytes) <= tolerance * target_bytes:
            break
        lo, hi = (lo, s) if size < target_bytes else (s, hi)
    return best
