"""Hard parameter sharing: one trunk, one head per task (the usual multi-task baseline).

With per-module inputs the trunk sees all of them, concatenated. Reported W: the
n "modules" (one per task) are one network, so every stage is uniform 1/n.
"""
from __future__ import annotations

import torch

from .base import Coupling, flat_size


class Shared(Coupling):
    name = "shared"
    description = "one shared trunk, a head per task (hard parameter sharing)"
    one_module_per_task = False
    min_modules = 1

    def num_stacks(self):
        return 1

    def stack_input_shape(self, i, input_shape, num_inputs, prev_output_shape):
        return tuple(input_shape) if num_inputs is None else (num_inputs * flat_size(input_shape),)

    def run(self, stacks, heads, x, per_module):
        h = x.flatten(1) if per_module else x
        for stage in stacks[0]:
            h = stage(h)
        return {task: heads[0][task](h) for task in heads[0]}

    def matrices(self):
        n = self.num_modules
        return [torch.full((n, n), 1.0 / n) for _ in range(self.num_stages)]
