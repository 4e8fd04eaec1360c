"""``EdgeMix``: the cross-stitch mix of a pruned system, computed over the kept edges only
(:mod:`lab.coupling.pruned`)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from .structure import PrunedStructure


class EdgeMix(nn.Module):
    """The cross-stitch mix over kept edges only: after stage s, x~_i = sum_{j in sources(s, i)} w_ij x_j.

    Stage s holds one vector ``w[s]`` with an entry per kept edge (diagonal included), in the order of
    ``edge_order[s]`` (receivers, then senders, in module order): (E_s,), or (E_s, C) per channel; a
    routed task's weights are ``routes[task]``, one entry per module it reads. An absent edge has no
    entry and no operation. Each stage is computed in whichever of two forms needs fewer graph
    operations (``stacked[s]``): a chain of multiply-adds per receiver (sparse stages), or the states
    stacked once and, per receiver, its senders gathered, weighted and summed (dense stages).
    """

    mixes_stages = True            # stage s of every module has the same shape (channel pruning ties them)

    def __init__(self, structure: PrunedStructure, stage_shapes: list[tuple[int, ...]], per_channel: bool = False):
        super().__init__()
        self.structure = structure
        self.per_channel = per_channel
        self.stage_shapes = stage_shapes
        self.index = {m: k for k, m in enumerate(structure.modules)}     # original index -> position
        self.sources = [{i: tuple(sorted(structure.sources(s, i))) for i in structure.modules}
                        for s in range(len(stage_shapes))]
        self.edge_order = [[(i, j) for i in structure.modules for j in self.sources[s][i]]
                           for s in range(len(stage_shapes))]
        self.position = [{e: k for k, e in enumerate(order)} for order in self.edge_order]
        self.stacked = [self._stack_is_shorter(sources) for sources in self.sources]

        def param(count: int, shape: tuple[int, ...]) -> nn.Parameter:
            return nn.Parameter(torch.zeros(count, shape[0]) if per_channel else torch.zeros(count))

        self.w = nn.ParameterList([param(len(order), shape) for order, shape in zip(self.edge_order, stage_shapes)])
        self.routes = nn.ParameterDict({task: param(len(src), stage_shapes[-1])
                                        for task, src in structure.routes.items()})

    def _stack_is_shorter(self, sources: dict[int, tuple[int, ...]]) -> bool:
        """Graph entries (operations + constants) of the exported stage: a multiply-add chain costs 3k - 1 per
        receiver with k senders (2k - 1 operations, k weights); stacking costs n + 2 once, then per receiver
        2 (itself only), 4 (all n senders: weights, multiply, sum and its axis) or 6 (senders gathered by an
        index first), or its chain when that is cheaper. Measured on exported 4-module systems: stacking wins
        when most receivers read every module, the chain when edges are sparse."""
        n = len(sources)
        chain = sum(3 * len(src) - 1 for src in sources.values())
        stack = n + 2 + sum(2 if len(src) == 1 else 4 if len(src) == n else min(6, 3 * len(src) - 1)
                            for src in sources.values())
        return stack < chain

    def _scaled(self, w: Tensor, h: Tensor) -> Tensor:
        if self.per_channel:
            w = w.reshape(w.shape[0], *([1] * (h.dim() - 2)))
        return w * h

    def _chain(self, weights: Tensor, sources, states: list[Tensor]) -> Tensor:
        acc = None
        for w, j in zip(weights.unbind(0), sources):
            term = self._scaled(w, states[self.index[j]])
            acc = term if acc is None else acc + term
        return acc

    def _gathered(self, weights: Tensor, sources, stacked: Tensor) -> Tensor:
        """sum over the k senders of w_j * state_j, from the stacked states (n, B, C, ...)."""
        k = len(sources)
        G = stacked if k == stacked.shape[0] else stacked[[self.index[j] for j in sources]]
        shape = (k, 1, weights.shape[1], *([1] * (G.dim() - 3))) if self.per_channel else (k, *([1] * (G.dim() - 1)))
        return (weights.reshape(shape) * G).sum(0)

    def mix(self, stage: int, states: list[Tensor]) -> list[Tensor]:
        weights, sources = self.w[stage], self.sources[stage]
        stacked = torch.stack(states) if self.stacked[stage] else None
        out, k = [], 0
        for i in self.structure.modules:
            src, w = sources[i], weights[k:k + len(sources[i])]
            k += len(src)
            use_chain = stacked is None or len(src) == 1 or (len(src) < len(states) and 3 * len(src) - 1 <= 6)
            out.append(self._chain(w, src, states) if use_chain else self._gathered(w, src, stacked))
        return out

    def route(self, task: str, states: list[Tensor]) -> Tensor:
        return self._chain(self.routes[task], self.structure.routes[task], states)

    def value(self, stage: int, i: int, j: int) -> Tensor | None:
        """The weight of edge (i, j) after ``stage`` (original indices; a view), None when it was pruned."""
        k = self.position[stage].get((i, j))
        return None if k is None else self.w[stage][k]

    def original_matrices(self) -> list[Tensor]:
        """(num_original, num_original) per stage, zeros where an edge or a module was removed (per-channel:
        mean over channels)."""
        n = self.structure.num_original
        mats = []
        for order, w in zip(self.edge_order, self.w):
            W = torch.zeros(n, n)
            values = w.detach().float()
            values = values.mean(-1) if self.per_channel else values
            for (i, j), v in zip(order, values):
                W[i, j] = v
            mats.append(W)
        return mats

    def matrices(self) -> list[Tensor]:
        """(num_modules, num_modules) per stage over the kept modules, zeros at pruned edges."""
        idx = torch.tensor(self.structure.modules)
        return [W[idx][:, idx].clone() for W in self.original_matrices()]

    def flops(self, sizes: Sequence[int] | None = None) -> int:
        """Multiply-adds of the mix and the routes per example, as FLOPs (2 per edge and state value);
        ``sizes``: values in one module's state after each stage (default: the shapes it was built with)."""
        size = list(sizes) if sizes is not None else [math.prod(shape) for shape in self.stage_shapes]
        total = sum(2 * len(order) * size[s] for s, order in enumerate(self.edge_order))
        return total + sum(2 * len(src) * size[-1] for src in self.structure.routes.values())
