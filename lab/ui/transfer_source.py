"""Where the transfer panel's source system comes from: trained here, or reused from a robustness panel."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..coupling import CoupledSystem
from ..data import MultiTaskData
from ..history import History

if TYPE_CHECKING:
    from .robustness import RobustnessPanel


@dataclass
class SourceSystem:
    """A trained source: the system, its History, the data it was trained on and where it came from."""

    system: CoupledSystem
    history: History
    data: MultiTaskData
    label: str
    run_dir: Any = None


def coupling_on(system: CoupledSystem, x: torch.Tensor) -> list[np.ndarray]:
    """Every stage's W measured on the inputs ``x`` (attention: the mean W(x) over them; the system's
    state is left as it was)."""
    return [W.detach().cpu().numpy() for W in system.coupling_matrices(x)]


def reused_source(rp: "RobustnessPanel | None", strategy: str) -> SourceSystem:
    """The system of ``strategy`` that the robustness panel ``rp`` trained, as a transfer source
    (ValueError saying why it cannot be reused)."""
    if rp is None:
        raise ValueError("no Robustness panel is linked to reuse: choose source 'train a source system here'")
    if rp.running:
        raise ValueError("the Robustness panel is still training: wait until it ends, then press Train")
    if not rp.systems:
        raise ValueError("the Robustness panel has not trained anything yet: press its Train first, or choose "
                         "source 'train a source system here'")
    trained = rp.trained_config
    if trained.data != "digits":
        raise ValueError(f"the Robustness panel trained on {trained.data} data, but domain shifts need images: "
                         "train it on the digits, or choose source 'train a source system here'")
    if strategy not in rp.systems:
        raise ValueError(f"the Robustness panel did not train {strategy!r} (it trained "
                         f"{list(rp.systems)}): pick one of those, or train the source here")
    h = rp.histories[strategy]
    adv = (f", adversarially trained ({trained.adversarial} eps {trained.adv_eps:g})"
           if trained.adversarial != "off" else "")
    return SourceSystem(rp.systems[strategy], h, rp.data,
                        f"Robustness panel ({h.num_epochs}/{trained.epochs} epochs{adv})",
                        rp.run_dirs.get(strategy))
