"""Ensemble coupling: every module solves every task; outputs are averaged (the seed's Ensemble).

Reported W: identity after every stage but the last, uniform 1/n after the last
stage (the averaging of the modules' outputs).
"""
from __future__ import annotations

import torch

from .base import Coupling, split_inputs


class Ensemble(Coupling):
    name = "ensemble"
    description = "modules solve the same tasks, outputs averaged (uniform W at the output)"
    one_module_per_task = False

    def run(self, stacks, heads, x, per_module):
        inputs = split_inputs(x, self.num_modules, per_module)
        per_module_out = []
        for i in range(self.num_modules):
            h = inputs[i]
            for stage in stacks[i]:
                h = stage(h)
            per_module_out.append({task: heads[i][task](h) for task in heads[i]})
        tasks = list(per_module_out[0])
        return {t: torch.stack([o[t] for o in per_module_out]).mean(0) for t in tasks}

    def matrices(self):
        n = self.num_modules
        return [torch.eye(n) for _ in range(self.num_stages - 1)] + [torch.full((n, n), 1.0 / n)]
