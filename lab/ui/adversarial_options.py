"""Adversarial-training options shared by the playground and the robustness panel.

``adversarial`` is "off" or an attack kind (fgsm/pgd); ``eps`` is the L-infinity radius in input units;
``ratio`` the share of every batch replaced by adversarial examples (see ``lab.adversarial``).
:class:`AdversarialChoice` is the piece a panel config is made of; ``adversarial_widgets`` its widgets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets

from ..adversarial import ATTACK_KINDS, AdversarialTraining, Attack

ADVERSARIAL_CHOICES: tuple[str, ...] = ("off",) + ATTACK_KINDS


def check_eps(value: float, what: str) -> float:
    """``value`` as a float; ValueError unless it is a finite number >= 0."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{what} must be a finite number >= 0 (in input units), got {value}")
    return float(value)


def adversarial_training(kind: str, eps: float, ratio: float, clamp: tuple[float, float] | None = None,
                         **attack_options) -> AdversarialTraining | None:
    """None when ``kind`` is "off"; else adversarial training with that attack (inputs clamped to ``clamp``)."""
    if kind not in ADVERSARIAL_CHOICES:
        raise ValueError(f"adversarial training must be one of {list(ADVERSARIAL_CHOICES)}, got {kind!r}")
    if kind == "off":
        return None
    attack = Attack(kind, eps=check_eps(eps, "adversarial training eps"), clamp=clamp, **attack_options)
    return AdversarialTraining(attack, ratio)


@dataclass(frozen=True)
class AdversarialChoice:
    """Adversarial training as a panel chooses it: ``kind`` ("off", fgsm, pgd), radius ``eps`` and
    share ``ratio``; checked on creation by building the ``AdversarialTraining`` it stands for."""

    kind: str = "off"
    eps: float = 0.1
    ratio: float = 0.5

    def __post_init__(self) -> None:
        self.training(None)

    @property
    def on(self) -> bool:
        return self.kind != "off"

    def training(self, clamp: tuple[float, float] | None, **attack_options) -> AdversarialTraining | None:
        """None when off; else the adversarial training (inputs clamped to ``clamp``; ``attack_options``
        such as steps and modules go to the ``Attack``)."""
        return adversarial_training(self.kind, self.eps, self.ratio, clamp, **attack_options)

    def describe(self) -> str:
        """E.g. "fgsm eps 0.1, share 0.5" (for captions and status lines)."""
        return f"{self.kind} eps {self.eps:g}, share {self.ratio:g}"


def adversarial_widgets(style: dict, layout, eps_label: str = "attack eps"
                        ) -> tuple[widgets.Dropdown, widgets.FloatText, widgets.FloatSlider]:
    """The kind dropdown, eps field and share slider (``layout()`` makes one Layout per widget)."""
    kind = widgets.Dropdown(options=list(ADVERSARIAL_CHOICES), description="adv. training",
                            tooltip="train with adversarial examples (off, FGSM or PGD)", style=style, layout=layout())
    eps = widgets.FloatText(description=eps_label, style=style, layout=layout(),
                            tooltip="L-infinity radius in input units (digits: pixels in [0, 1])")
    ratio = widgets.FloatSlider(min=0, max=1, step=0.05, description="adv. share", style=style, layout=layout(),
                                tooltip="share of every batch replaced by adversarial examples",
                                continuous_update=False)
    return kind, eps, ratio
