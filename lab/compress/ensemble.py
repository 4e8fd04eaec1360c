"""An ensemble of small networks, outputs averaged — the seed's alternative to one big model.

``ensemble`` trains ``members`` copies of a network from different seeds and wraps them in
``AveragingEnsemble`` (mean of the members' logits, per task for dict outputs). Its cost is
counted like any model: FLOPs, parameters and bytes are the sum over members, latency is
measured on the whole ensemble — so the table shows what the accuracy gain costs.

    model, report = ensemble(build_model("mlp", hidden=(32,)), EnsembleConfig(members=3), data=data)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from ..cost import MeasureConfig, Report, measure
from ..data.base import MultiTaskData
from ..seeding import seeded
from ..validation import _is_int, check_seed, normalise_fields, show
from .fit import FitConfig, check_finetune, fit


@dataclass(frozen=True)
class EnsembleConfig:
    """``members`` >= 2 networks trained with seeds ``seed``, ``seed + 1``, ..."""

    members: int = 3
    train: FitConfig = field(default_factory=lambda: FitConfig(epochs=30, lr=1e-3))
    seed: int = 0

    def __post_init__(self) -> None:
        if not _is_int(self.members) or not 2 <= self.members <= 64:
            raise ValueError(f"an ensemble needs members >= 2 (an integer, at most 64), got {show(self.members)}")
        check_finetune(self.train, "train", optional=False)
        normalise_fields(self, {"members": int(self.members), "seed": check_seed(self.seed)})


class AveragingEnsemble(nn.Module):
    """forward(x) = mean of members(x) (tensor outputs, or dicts averaged per key)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)
        if hasattr(members[0], "input_shape"):
            self.input_shape = members[0].input_shape

    def forward(self, x: Tensor):
        outs = [m(x) for m in self.members]
        if isinstance(outs[0], dict):
            return {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}
        return torch.stack(outs).mean(0)


def reinitialize_(model: nn.Module, seed: int) -> nn.Module:
    """Fresh random weights (every submodule's ``reset_parameters``) drawn from ``seed``."""
    with seeded(seed):      # torch's own init, drawn from the seed instead of the global RNG
        for m in model.modules():
            if hasattr(m, "reset_parameters") and m is not model:
                m.reset_parameters()
    return model


def ensemble(model: nn.Module, config: EnsembleConfig, *, data: MultiTaskData,
             measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """Train ``members`` freshly initialised copies of ``model``'s architecture; average them."""
    members = []
    for k in range(config.members):
        member = reinitialize_(copy.deepcopy(model), config.seed + k)
        fit(member, data, replace(config.train, seed=config.seed + k))
        members.append(member)
    combined = AveragingEnsemble(members).eval()
    return combined, measure(combined, data, f"ensemble:{config.members}", measure_config)
