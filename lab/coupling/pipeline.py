"""Pipeline coupling: each module feeds the next (the seed's PipeLine).

Module 0 reads the raw input; module i >= 1 reads module i-1's final output
(concatenated with its own input when every module has an input of its own).
Task i is predicted from module i. With one shared input this is exactly the
sequential composition M_{n-1} o ... o M_0.

Reported W: identity after every stage but the last, and after the last stage
the fixed shift matrix P (P[i, i-1] = 1): module i-1's final state is handed to
module i. Row 0 is zero — module 0 takes nothing from another module.
"""
from __future__ import annotations

import torch

from .base import Coupling, flat_size, split_inputs


class Pipeline(Coupling):
    name = "pipeline"
    description = "module i reads module i-1's output (fixed shift matrix)"

    def stack_input_shape(self, i, input_shape, num_inputs, prev_output_shape):
        if i == 0:
            return tuple(input_shape)
        if num_inputs is None:
            return tuple(prev_output_shape)
        return (flat_size(input_shape) + flat_size(prev_output_shape),)

    def run(self, stacks, heads, x, per_module):
        inputs = split_inputs(x, self.num_modules, per_module)
        out, prev = {}, None
        for i in range(self.num_modules):
            if prev is None:
                h = inputs[i]
            elif per_module:
                h = torch.cat([inputs[i].flatten(1), prev.flatten(1)], dim=1)
            else:
                h = prev
            for stage in stacks[i]:
                h = stage(h)
            out.update({task: heads[i][task](h) for task in heads[i]})
            prev = h
        return out

    def matrices(self):
        n = self.num_modules
        shift = torch.zeros(n, n)
        shift[torch.arange(1, n), torch.arange(0, n - 1)] = 1.0
        return [torch.eye(n) for _ in range(self.num_stages - 1)] + [shift]
