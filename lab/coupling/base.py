"""The interface every coupling strategy implements.

A strategy decides (1) how many module stacks the system builds and what each
stack's input looks like, (2) which task heads sit on which stack, (3) the
forward control flow, and (4) the coupling matrices W it reports — one
(num_modules, num_modules) tensor per stage, where row i says how much of each
module's state module i uses after that stage. Fixed strategies report their
fixed matrices, so every view of W works for every strategy.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, ClassVar, Iterator

import torch
from torch import Tensor, nn


def split_inputs(x: Tensor, num_modules: int, per_module: bool) -> list[Tensor]:
    """Module inputs: x[:, i] for per-module inputs (B, n, ...), else the same x for every module."""
    if per_module:
        return [x[:, i] for i in range(num_modules)]
    return [x] * num_modules


class Coupling(nn.Module):
    """Base class. ``num_modules`` modules, ``num_stages`` stages each."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    min_modules: ClassVar[int] = 2
    one_module_per_task: ClassVar[bool] = True   # module i predicts task i
    mixes_stages: ClassVar[bool] = False         # needs equal stage shapes across modules
    input_dependent: ClassVar[bool] = False      # W depends on the input: report it as a mean over data

    def __init__(self, num_modules: int, num_stages: int, stage_shapes: list[tuple[int, ...]], **options):
        super().__init__()
        self.num_modules = num_modules
        self.num_stages = num_stages
        self.stage_shapes = stage_shapes  # output shape of every stage (of module 0; equal across modules if mixed)

    # --- structure -------------------------------------------------------------
    def num_stacks(self) -> int:
        return self.num_modules

    def stack_input_shape(self, i: int, input_shape: tuple[int, ...], num_inputs: int | None,
                          prev_output_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """Shape of one example entering stack ``i`` (``prev_output_shape``: stack i-1's output)."""
        return tuple(input_shape)

    def assign_tasks(self, task_names: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Task names predicted from each stack."""
        if self.one_module_per_task:
            return [(t,) for t in task_names]
        return [tuple(task_names)] * self.num_stacks()

    # --- behaviour -------------------------------------------------------------
    def run(self, stacks: nn.ModuleList, heads: nn.ModuleList, x: Tensor, per_module: bool) -> dict[str, Tensor]:
        raise NotImplementedError

    def matrices(self) -> list[Tensor]:
        """One (n, n) coupling matrix per stage (detached, float32)."""
        raise NotImplementedError

    def coupling_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())

    @contextmanager
    def averaging(self) -> Iterator[Callable[[], list[Tensor]]]:
        """Yield a function that returns the mean W per stage over the forward passes made inside the
        block. A W that does not depend on the input is its own mean: this base yields ``matrices``."""
        yield self.matrices


class StagewiseCoupling(Coupling):
    """Run every module stage by stage and mix the modules' states after each stage."""

    mixes_stages = True

    def mix(self, stage: int, states: list[Tensor]) -> list[Tensor]:
        raise NotImplementedError

    def run(self, stacks, heads, x, per_module):
        h = split_inputs(x, self.num_modules, per_module)
        for s in range(self.num_stages):
            h = [stacks[i][s](h[i]) for i in range(self.num_modules)]
            h = self.mix(s, h)
        return {task: heads[i][task](h[i]) for i in range(self.num_modules) for task in heads[i]}


def identity_matrices(n: int, num_stages: int) -> list[Tensor]:
    return [torch.eye(n) for _ in range(num_stages)]


def flat_size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
