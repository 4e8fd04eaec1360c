"""Coupled systems: sub-modules that exchange information through a coupling W."""
from .attention import Attention
from .base import Coupling, StagewiseCoupling
from .blocks import BLOCKS, build_stack
from .cross_stitch import CrossStitch, init_matrix
from .ensemble import Ensemble
from .independent import Independent
from .pipeline import Pipeline
from .pruned import PrunedStructure, PrunedSystem  # registers "pruned" for checkpoints
from .recovery import edge_scores, recovery_report
from .restructure import check_prunable, restructure, structure_of
from .shared import Shared
from .system import COUPLINGS, CoupledSystem, SystemConfig, build_system

__all__ = ["BLOCKS", "COUPLINGS", "Attention", "CoupledSystem", "Coupling", "CrossStitch", "Ensemble",
           "Independent", "Pipeline", "Shared", "StagewiseCoupling", "SystemConfig", "build_stack", "build_system",
           "edge_scores", "init_matrix", "recovery_report"]
__all__ += ["PrunedStructure", "PrunedSystem", "check_prunable", "restructure", "structure_of"]
