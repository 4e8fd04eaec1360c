"""Independent modules: W = I at every stage, fixed. Module i never sees module j."""
from __future__ import annotations

from .base import StagewiseCoupling, identity_matrices


class Independent(StagewiseCoupling):
    name = "independent"
    description = "one network per task, no exchange (W = I, fixed)"
    mixes_stages = False  # identity mixing: modules may differ in width

    def mix(self, stage, states):
        return states

    def matrices(self):
        return identity_matrices(self.num_modules, self.num_stages)
