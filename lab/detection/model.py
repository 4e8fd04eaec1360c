"""A two-stage detector built from coupled sub-modules: ``DetectionSystem``.

Three sub-modules (``system.stacks``), each a list of stages, on a (B, 1, H, W) canvas:

* ``features`` (module 0, shared by both stages): conv(1->c) ReLU pool2, conv(c->c) ReLU -> F (B, c, H/2, W/2);
* ``proposal`` (module 1): two conv stages on F, (c, H/4, W/4) then (c, H/8, W/8), and a linear head giving
  the proposal box P (output ``proposal``, (B, 4) as (x0, y0, x1, y1) in [0, 1]; sigmoid centre and size,
  so every box is well-formed);
* ``classifier`` (module 2): ``torchvision.ops.roi_align`` takes a crop x crop window of F, then two conv
  stages of the same shapes as the proposal's; heads ``digit`` (B, 10) logits and ``box`` (B, 4).

``system.heads`` holds one ``ModuleDict`` per module (proposal; classifier), as a ``CoupledSystem`` does, so the
compression steps that look for output layers (``channels``) work unchanged.

The couplings (``DETECTION_COUPLINGS``), all with exactly the same parameters except W:

* ``independent`` - the classifier's window is the whole canvas; ``box`` is an absolute box;
* ``pipeline`` - the proposal box P is the classifier's window (the proposal's output becomes the
  classifier's input) and ``box`` refines P: centre P_c + P_wh * tanh(d)/2, size P_wh * 2**tanh(d);
* ``cross_stitch`` - as independent, plus a learned W^s (2 x 2, modules proposal/classifier) mixing the two
  modules' states after each stage s: h_i <- sum_j W^s_ij h_j (Misra et al. 2016);
* ``pipeline_cross_stitch`` - pipeline plus a learned classifier row of W^s: h_cls <- W_cc h_cls + W_cp h_prop.
  The proposal row stays (1, 0): the proposal runs first, as its box decides the classifier's window.

Where gradients flow. The crop sends L_cls and L_loc gradients into the feature map F (and so into
``features``), never into the box: torchvision's ``roi_align`` has no gradient with respect to the box
coordinates (tested). The proposal head learns from L_det and, in the pipeline couplings, from L_loc through
the refinement (``box`` = f(P, d)) unless ``detach_box=True``, which cuts that path (the proposal then learns
only from L_det). Cross-stitch W carries gradients both ways between the two modules.

Reported W (``coupling_matrices``): one (2, 2) matrix per mixing stage over (proposal, classifier): identity
for independent and pipeline (their modules exchange no state; the pipeline's hand-off is the box, not a
state mix), learned for the cross-stitch couplings.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..coupling.cross_stitch import init_matrix
from ..coupling.system import ARCHITECTURES, CoupledSystem, SystemConfig, check_tasks
from ..data.base import Task
from ..data.detection import detection_tasks
from ..seeding import seeded
from ..validation import as_float_tensor, check_bool, check_choice, check_floats, check_int, check_seed, show

DETECTION_COUPLINGS: dict[str, str] = {
    "independent": "the classifier sees the whole canvas; no state exchanged",
    "pipeline": "the proposal box crops the feature map for the classifier (roi_align)",
    "cross_stitch": "whole canvas, learned W mixing proposal and classifier states",
    "pipeline_cross_stitch": "pipeline crop plus a learned W row into the classifier",
}
_GENERIC = {"independent": "independent", "pipeline": "pipeline", "cross_stitch": "cross_stitch",
            "pipeline_cross_stitch": "cross_stitch"}
MODULES = ("features", "proposal", "classifier")


@dataclass(frozen=True)
class DetectionConfig:
    """Architecture of a ``DetectionSystem``.

    Allowed (ValueError naming the field otherwise): coupling one of ``DETECTION_COUPLINGS``; channels 1..256
    (every conv stage); crop 2..32 (side of the roi_align window, in feature cells; must not exceed the
    feature map, checked when built); detach_box bool; w_init (self, other) in [0, 1], not both 0; seed.
    """

    coupling: str = "pipeline"
    channels: int = 16
    crop: int = 8
    detach_box: bool = False
    w_init: tuple[float, float] = (0.9, 0.1)
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("coupling", self.coupling, DETECTION_COUPLINGS, unknown="detection coupling")
        w_init = check_floats("w_init", self.w_init, min=0.0, max=1.0, length=2)
        if sum(w_init) <= 0:
            raise ValueError("w_init must not be all zeros: nothing would pass between stages")
        for name, value in (("channels", check_int("channels", self.channels, min=1, max=256)),
                            ("crop", check_int("crop", self.crop, min=2, max=32)),
                            ("detach_box", check_bool("detach_box", self.detach_box)),
                            ("w_init", tuple(w_init)), ("seed", check_seed(self.seed))):
            object.__setattr__(self, name, value)

    @property
    def pipelined(self) -> bool:
        return self.coupling.startswith("pipeline")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "w_init": list(self.w_init)}

    @classmethod
    def from_dict(cls, d: Any) -> "DetectionConfig":
        if not isinstance(d, dict):
            raise ValueError(f"a detection config must be a dict of DetectionConfig fields, got {show(d)}")
        unknown = sorted(map(str, set(d) - set(cls.__dataclass_fields__)))
        if unknown:
            raise ValueError(f"detection config has unknown field(s) {unknown}; "
                             f"allowed: {list(cls.__dataclass_fields__)}")
        return cls(**{k: tuple(v) if k == "w_init" and isinstance(v, list) else v for k, v in d.items()})


def _conv(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


def decode_box(raw: Tensor) -> Tensor:
    """(B, 4) raw outputs -> boxes (x0, y0, x1, y1): sigmoid centre (cx, cy) and size (w, h), all in (0, 1)."""
    from torchvision.ops import box_convert

    return box_convert(torch.sigmoid(raw), "cxcywh", "xyxy")


def refine_box(proposal: Tensor, delta: Tensor) -> Tensor:
    """(B, 4) boxes from a proposal (x0, y0, x1, y1) and raw deltas: centre moves by up to half the proposal's
    size, size scales by 2**tanh (x0.5 .. x2)."""
    from torchvision.ops import box_convert

    p = box_convert(proposal, "xyxy", "cxcywh")
    centre = p[:, :2] + p[:, 2:] * torch.tanh(delta[:, :2]) / 2
    size = p[:, 2:] * torch.exp2(torch.tanh(delta[:, 2:]))
    return box_convert(torch.cat([centre, size], dim=1), "cxcywh", "xyxy")


class DetectionSystem(CoupledSystem):
    """features -> proposal -> classifier with a chosen coupling (module docstring); a ``CoupledSystem``.

    Input (B, 1, H, W) with H = W divisible by 8; output {"proposal": (B, 4), "digit": (B, 10), "box": (B, 4)}.
    """

    def __init__(self, config: DetectionConfig, tasks: tuple[Task, ...] | None = None,
                 input_shape: tuple[int, ...] = (1, 32, 32)):
        nn.Module.__init__(self)
        if not isinstance(config, DetectionConfig):
            raise ValueError(f"config must be a DetectionConfig, got {show(config)}")
        tasks = check_tasks(tuple(tasks) if tasks is not None else detection_tasks())
        if [t.as_dict() for t in tasks] != [t.as_dict() for t in detection_tasks()]:
            raise ValueError(f"a DetectionSystem predicts the tasks {[t.as_dict() for t in detection_tasks()]}, "
                             f"got {[t.as_dict() for t in tasks]}")
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else input_shape
        if not (isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(v, int) for v in shape)
                and shape[0] == 1 and shape[1] == shape[2] and 8 <= shape[1] <= 128 and shape[1] % 8 == 0):
            raise ValueError(f"a DetectionSystem reads one square canvas (1, H, H) with H a multiple of 8 from 8 to "
                             f"128, got input_shape {show(input_shape)}")
        if config.crop > shape[1] // 2:
            raise ValueError(f"crop={config.crop} is larger than the feature map ({shape[1] // 2} cells for a "
                             f"{shape[1]} px canvas); use crop <= {shape[1] // 2}")
        self.detection = config
        self.config = SystemConfig(strategy=_GENERIC[config.coupling], block="cnn", widths=(config.channels,) * 2,
                                   num_modules=2, w_init=config.w_init, seed=config.seed)
        self.tasks, self.input_shape, self.num_inputs, self.num_modules = tasks, shape, None, 2
        c, side = config.channels, shape[1]
        with seeded(config.seed):
            self.stacks = nn.ModuleList([
                nn.ModuleList([_conv(1, c, True), _conv(c, c, False)]),
                nn.ModuleList([_conv(c, c, True), _conv(c, c, True)]),
                nn.ModuleList([_conv(c, c, config.crop > side // 4), _conv(c, c, True)])])
            self.stage_shapes = self._check_shapes(c, side)
            feat = math.prod(self.stage_shapes[-1][1:])
            self.heads = nn.ModuleList([nn.ModuleDict({"proposal": nn.Linear(feat, 4)}),   # one dict per module, as
                                        nn.ModuleDict({"digit": nn.Linear(feat, 10), "box": nn.Linear(feat, 4)})])
            self.W = nn.ParameterList()
            if config.coupling == "cross_stitch":
                self.W.extend(nn.Parameter(init_matrix(2, *config.w_init)) for _ in range(2))
            elif config.coupling == "pipeline_cross_stitch":
                self.W.extend(nn.Parameter(init_matrix(2, *config.w_init)[1].clone()) for _ in range(2))

    def _check_shapes(self, c: int, side: int) -> list[tuple[int, ...]]:
        """Output shapes of the proposal's and the classifier's stages; they must match for W to mix them."""
        with torch.no_grad():
            f = torch.zeros(1, c, side // 2, side // 2)
            hp, hc, shapes = f, torch.zeros(1, c, self.detection.crop, self.detection.crop), []
            for s in range(2):
                hp, hc = self.stacks[1][s](hp), self.stacks[2][s](hc)
                if hp.shape != hc.shape:
                    raise ValueError(f"crop={self.detection.crop} gives classifier stages of shape "
                                     f"{tuple(hc.shape[1:])} but the proposal's are {tuple(hp.shape[1:])}; "
                                     f"use crop = {side // 4} (or {side // 2}) for a {side} px canvas")
                shapes.append(tuple(hp.shape))
        return shapes

    # --- forward ---------------------------------------------------------------------
    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if not isinstance(x, Tensor) or x.dtype != self._input_dtype():
            x = as_float_tensor("input x", x, self._input_dtype())
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"input of shape {tuple(x.shape)} does not fit this system: expected (B, "
                             f"{', '.join(map(str, self.input_shape))})")
        return self.run(x)[0]

    def run(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Outputs and the classifier's window (B, 4) in canvas fractions (the whole canvas unless pipelined)."""
        f = self.stacks[0][1](self.stacks[0][0](x))
        cfg = self.detection
        hp = f
        if cfg.coupling != "cross_stitch":      # the proposal runs alone (pipelines need its box first)
            states = []
            for s in range(2):
                hp = self.stacks[1][s](hp)
                states.append(hp)
            proposal = decode_box(self.heads[0]["proposal"](hp.flatten(1)))
        if cfg.pipelined:
            window = proposal.detach() if cfg.detach_box else proposal
        else:
            window = torch.cat([torch.zeros_like(x[:, 0, 0, :2]), torch.ones_like(x[:, 0, 0, :2])], dim=1)
        hc = self.crop(f, window)
        for s in range(2):
            hc = self.stacks[2][s](hc)
            if cfg.coupling == "cross_stitch":
                hp = self.stacks[1][s](hp)
                W = self.W[s]
                hp, hc = W[0, 0] * hp + W[0, 1] * hc, W[1, 0] * hp + W[1, 1] * hc
            elif cfg.coupling == "pipeline_cross_stitch":
                hc = self.W[s][0] * states[s] + self.W[s][1] * hc
        if cfg.coupling == "cross_stitch":
            proposal = decode_box(self.heads[0]["proposal"](hp.flatten(1)))
        z = hc.flatten(1)
        box = refine_box(window, self.heads[1]["box"](z)) if cfg.pipelined else decode_box(self.heads[1]["box"](z))
        return {"proposal": proposal, "digit": self.heads[1]["digit"](z), "box": box}, window

    def crop(self, f: Tensor, window: Tensor) -> Tensor:
        """``roi_align`` of the (B, c, h, w) map ``f`` to (B, c, crop, crop) inside each window (B, 4) in [0, 1]."""
        from torchvision.ops import roi_align

        index = torch.arange(f.shape[0], dtype=f.dtype, device=f.device).unsqueeze(1)
        rois = torch.cat([index, window * f.shape[-1]], dim=1)
        return roi_align(f, rois, (self.detection.crop, self.detection.crop), spatial_scale=1.0, sampling_ratio=2,
                         aligned=True)

    # --- the CoupledSystem interface ---------------------------------------------------
    @property
    def strategy(self) -> str:
        return self.detection.coupling

    @property
    def num_stages(self) -> int:
        return 2

    def coupling_matrices(self, split=None, batch_size: int = 1024) -> list[Tensor]:
        """One (2, 2) W per mixing stage over (proposal, classifier) (module docstring); W does not depend on x."""
        if self.detection.coupling == "cross_stitch":
            return [W.detach().clone().float() for W in self.W]
        if self.detection.coupling == "pipeline_cross_stitch":
            return [torch.stack([torch.tensor([1.0, 0.0]), row.detach().float()]) for row in self.W]
        return [torch.eye(2) for _ in range(2)]

    def coupling_parameters(self) -> list[nn.Parameter]:
        return list(self.W)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.heads.parameters())

    def architecture(self) -> dict[str, Any]:
        return {"system_config": self.config.to_dict(), "tasks": [t.as_dict() for t in self.tasks],
                "input_shape": list(self.input_shape), "num_inputs": None, "detection": self.detection.to_dict()}

    @classmethod
    def from_architecture(cls, arch: dict[str, Any], state_dict: dict[str, Tensor] | None = None) -> "DetectionSystem":
        system = cls(DetectionConfig.from_dict(arch["detection"]), tuple(Task(**t) for t in arch["tasks"]),
                     tuple(arch["input_shape"]))
        if state_dict is not None:
            system.load_state_dict(state_dict)
        return system

    def extra_repr(self) -> str:
        return f"coupling={self.strategy}, channels={self.detection.channels}, crop={self.detection.crop}, " \
               f"detach_box={self.detection.detach_box}"


def build_detector(data, config: DetectionConfig | None = None, **overrides) -> DetectionSystem:
    """A ``DetectionSystem`` shaped for detection ``data`` (its tasks and canvas)."""
    config = config or DetectionConfig()
    if overrides:
        config = DetectionConfig(**{**config.to_dict(), **overrides})
    return DetectionSystem(config, data.tasks, tuple(data.input_shape))


ARCHITECTURES["detection"] = lambda arch: DetectionSystem.from_architecture(arch)
