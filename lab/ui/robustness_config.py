"""``RobustnessConfig``: everything the robustness panel's widgets choose (validated, saved with every run).

Made of the shared pieces (``choices``): a :class:`DataSelection` (digits or synthetic, four
modules), an :class:`OptimiserChoice` and an :class:`AdversarialChoice`; the attack measured
(kind, steps, attacked modules, radii) is the panel's own.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..adversarial import MAX_EPS, AdversarialTraining, Attack
from ..coupling import COUPLINGS, SystemConfig
from ..data import MultiTaskData
from ..robust_curves import eps_grid, eps_key
from ..settings import fast_mode
from ..train import TrainConfig
from ..validation import _is_int, show
from .adversarial_options import AdversarialChoice, check_eps
from .choices import DataSelection, OptimiserChoice, system_config
from .panel_checks import check_shape_settings
from .parsing import parse_modules

DEFAULT_STRATEGIES: tuple[str, ...] = ("independent", "cross_stitch", "attention")
SYNTHETIC_MODULES = 4


@dataclass(frozen=True)
class RobustData:
    """A dataset the robustness panel offers, with attack defaults that suit its input scale."""

    label: str
    eps: float                 # the slider's start
    eps_max: float             # the slider's end
    modules: str               # attacked modules, as typed in the widget


ROBUST_DATA: dict[str, RobustData] = {
    "digits": RobustData("digits: 4 tasks on one 8x8 image (pixels in [0, 1])", 0.1, 0.2, "all"),
    "synthetic": RobustData("synthetic: 4 modules, one input each (N(0, 1) values), known W*", 0.5, 1.0, "0"),
}


@dataclass(frozen=True)
class RobustnessConfig:
    """Everything the robustness panel's widgets choose (validated; saved with every run).

    ``attack``/``steps``/``modules``: the attack measured (FGSM or PGD with ``steps`` steps of
    2.5 eps / steps, no random start, maximising the summed task losses; ``modules`` "all" or
    module indices, per-module data only); ``eps``: the slider's radius; ``eps_max``: the
    slider's end; ``grid_points``: radii from 0 to ``eps_max`` measured right after training.
    ``adversarial``: "off" or the attack used for adversarial training (radius ``adv_eps``,
    ``adv_ratio`` of every batch, same ``steps`` and ``modules``).
    """

    data: str = "digits"
    structure: str = "star"
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    width: int = 64
    stages: int = 2
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    attack: str = "pgd"
    steps: int = 10
    modules: str | tuple[int, ...] = "all"
    eps: float = 0.1
    eps_max: float = 0.2
    grid_points: int = 5
    adversarial: str = "off"
    adv_eps: float = 0.1
    adv_ratio: float = 0.5
    small_data: bool = False

    def __post_init__(self) -> None:
        if self.data not in ROBUST_DATA:
            raise ValueError(f"unknown data {self.data!r}; choose from {list(ROBUST_DATA)}")
        # the shared pieces, built once: each checks its values (data, optimiser, adversarial training)
        object.__setattr__(self, "_data", DataSelection(self.data, self.structure, SYNTHETIC_MODULES, self.seed,
                                                        self.small_data))
        if isinstance(self.strategies, str) or not isinstance(self.strategies, (tuple, list)):
            raise ValueError(f"strategies must be a list of strategy names, got {show(self.strategies)}")
        if not self.strategies:
            raise ValueError("choose at least one strategy to compare")
        unknown = [s for s in self.strategies if s not in COUPLINGS]
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; choose from {list(COUPLINGS)}")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError(f"each strategy once, please: got {list(self.strategies)}")
        check_eps(self.eps, "eps (attack radius)")
        if check_eps(self.eps_max, "the slider's largest eps") <= 0:
            raise ValueError(f"the slider's largest eps must be > 0, got {self.eps_max}")
        if self.eps_max > MAX_EPS:
            raise ValueError(f"the slider's largest eps must be at most {MAX_EPS:g}, got {self.eps_max}")
        check_shape_settings(self)
        if self.eps > self.eps_max:
            raise ValueError(f"eps {self.eps} is beyond the slider's largest eps {self.eps_max}")
        if not _is_int(self.grid_points) or not 2 <= self.grid_points <= 101:
            raise ValueError(f"grid_points must be an integer >= 2 (0 and eps_max at least; at most 101), "
                             f"got {show(self.grid_points)}")
        if self.modules != "all":
            if self.data == "digits":
                raise ValueError("the digits' four modules share one image, so only 'all' inputs can be attacked; "
                                 "attacking single modules needs per-module inputs (the synthetic data)")
            if isinstance(self.modules, str) or not isinstance(self.modules, (tuple, list)) \
                    or not all(_is_int(m) for m in self.modules):
                raise ValueError(f"attacked modules must be 'all' or module numbers, got {show(self.modules)}")
            object.__setattr__(self, "modules", tuple(int(m) for m in self.modules))
            bad = [m for m in self.modules if not 0 <= m < SYNTHETIC_MODULES]
            if bad:
                raise ValueError(f"attacked modules {bad} do not exist: the synthetic data has {SYNTHETIC_MODULES} "
                                 f"modules (0..{SYNTHETIC_MODULES - 1})")
        self.attack_at(self.eps)                 # Attack checks kind, steps, modules
        object.__setattr__(self, "_adversarial", AdversarialChoice(self.adversarial, self.adv_eps, self.adv_ratio))
        self.adversarial_training(None)          # ... and the training attack with this panel's steps, modules
        object.__setattr__(self, "_optimiser", OptimiserChoice(self.epochs, self.lr, self.batch_size, seed=self.seed))
        self.system_config(self.strategies[0])   # SystemConfig checks the modules

    # --- the pieces ------------------------------------------------------------------------------------
    @property
    def data_selection(self) -> DataSelection:
        return self._data

    @property
    def optimiser(self) -> OptimiserChoice:
        return self._optimiser

    @property
    def adversarial_choice(self) -> AdversarialChoice:
        return self._adversarial

    # --- what they build ---------------------------------------------------------------------------------
    @property
    def task_names(self) -> tuple[str, ...]:
        return self.data_selection.task_names

    def data_kwargs(self) -> dict[str, Any]:
        return self.data_selection.load_kwargs()

    def load_data(self) -> MultiTaskData:
        return self.data_selection.load()

    def system_config(self, strategy: str) -> SystemConfig:
        return system_config(strategy, self.width, self.stages, self.seed)

    def train_config(self) -> TrainConfig:
        return self.optimiser.train_config()

    def attack_at(self, eps: float, clamp: tuple[float, float] | None = None) -> Attack:
        """The measured attack at radius ``eps`` (``clamp``: the valid input range, see ``input_range``)."""
        return Attack(self.attack, eps=check_eps(eps, "eps (attack radius)"), steps=self.steps,
                      modules=self.modules, clamp=clamp)

    def adversarial_training(self, clamp: tuple[float, float] | None) -> AdversarialTraining | None:
        return self.adversarial_choice.training(clamp, steps=self.steps, modules=self.modules)

    def grid(self) -> list[float]:
        """The radii measured right after training: 0 .. eps_max in equal steps, plus ``eps``."""
        return sorted(set(eps_grid(self.eps_max, self.grid_points)) | {eps_key(self.eps)})

    @classmethod
    def defaults(cls, data: str = "digits", fast: bool | None = None, **overrides) -> "RobustnessConfig":
        """The panel's defaults for ``data`` (its attack radius, slider end and attacked modules) and for
        ``LAB_FAST`` (a small data subset and 5 epochs; ``fast`` None reads the environment)."""
        if data not in ROBUST_DATA:
            raise ValueError(f"unknown data {data!r}; choose from {list(ROBUST_DATA)}")
        d = ROBUST_DATA[data]
        fast = fast_mode() if fast is None else fast
        base = dict(data=data, eps=d.eps, eps_max=d.eps_max, modules=parse_modules(d.modules), small_data=fast)
        if fast:
            base["epochs"] = 5
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategies"] = list(self.strategies)
        d["modules"] = self.modules if self.modules == "all" else list(self.modules)
        return d
