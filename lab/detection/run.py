"""Train and compare detection couplings on the joint loss L = L_det + lambda (L_cls + L_loc).

    settings = DetectionSettings(lam=1.0)                       # fixed weights (1, lambda, lambda)
    result = run_detection(data, DetectionConfig("pipeline"), TrainConfig(epochs=10), settings)
    result.metrics          # test: class_acc, mean_iou, iou50, iou75, detection, proposal_iou
    compare_detection(data, ["independent", "pipeline", ...], DetectionConfig(), TrainConfig(), settings)

The tasks are (proposal, digit, box): L_det is the proposal's box loss, L_cls the digit's cross-entropy,
L_loc the second stage's box loss (box losses: L1 + generalized IoU, ``lab.metrics.box_loss``). With the
``fixed`` weighting (default) or ``pcgrad``, lambda sets the task weights (1, lambda, lambda); any other of the
lab's weightings (``lab.weighting.WEIGHTINGS``) chooses the weights itself, and lambda must stay 1.
Training is ``lab.train.train`` (seeded, W recorded every epoch, divergence checks); with ``run_dir`` the run
is saved as it trains, like ``lab.compare.run_strategy``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..checkpoint import CheckpointCallback
from ..compare import weighting_for
from ..data.base import MultiTaskData
from ..history import History
from ..metrics import predict
from ..runs import save_run, write_config
from ..train import Callback, NonFiniteLossError, TrainConfig, train
from ..validation import check_choice, check_float
from ..weighting import WEIGHTINGS
from .metrics import detection_metrics
from .model import DETECTION_COUPLINGS, DetectionConfig, DetectionSystem, build_detector

LAMBDA_MAX = 1e3
DEFAULT_TRAIN = TrainConfig(epochs=15, batch_size=64, lr=3e-3)   # the CLI's, the notebook's and the bench's defaults


@dataclass(frozen=True)
class DetectionSettings:
    """The joint loss: ``lam`` (lambda, finite, 0..1000) and the loss ``weighting`` (a name from ``WEIGHTINGS``).

    lambda applies to the ``fixed`` and ``pcgrad`` weightings (task weights (1, lambda, lambda)); another
    weighting picks its own weights, so lambda must then be 1 (ValueError otherwise).
    """

    lam: float = 1.0
    weighting: str = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lam", check_float("lambda", self.lam, min=0.0, max=LAMBDA_MAX))
        check_choice("weighting", self.weighting, WEIGHTINGS, unknown="weighting")
        if self.weighting not in ("fixed", "pcgrad") and self.lam != 1.0:
            raise ValueError(f"lambda={self.lam:g} sets fixed task weights (1, lambda, lambda); the {self.weighting!r} "
                             "weighting chooses its own, so leave lambda at 1 or use fixed/pcgrad")

    def task_weights(self) -> tuple[float, float, float] | None:
        return (1.0, self.lam, self.lam) if self.weighting in ("fixed", "pcgrad") else None

    def to_dict(self) -> dict:
        return {"lam": self.lam, "weighting": self.weighting}


@dataclass
class DetectionResult:
    """One trained detector: its coupling, test metrics (``DETECTION_METRICS``), history and cost."""

    coupling: str
    system: DetectionSystem
    history: History
    metrics: dict[str, float]
    train_seconds: float
    settings: DetectionSettings

    def row(self) -> dict:
        return {"coupling": self.coupling, "lambda": self.settings.lam, "weighting": self.settings.weighting,
                "detach": self.system.detection.detach_box, **self.metrics,
                "params": self.system.num_parameters(), "train_s": self.train_seconds}


def run_detection(data: MultiTaskData, config: DetectionConfig, train_config: TrainConfig,
                  settings: DetectionSettings | None = None, *, callbacks: Sequence[Callback] = (),
                  stop=None, progress: bool = False, run_dir: str | os.PathLike | None = None) -> DetectionResult:
    """Build ``config``'s detector for ``data``, train it on the joint loss and score it on the test split.

    Everything is checked before training starts. With ``run_dir`` the config is written first, then the
    checkpoint and history at epoch 0 and after every epoch (``CheckpointCallback``); a NaN loss or an
    interruption keeps what was recorded.
    """
    settings = settings or DetectionSettings()
    if not isinstance(settings, DetectionSettings) or not isinstance(config, DetectionConfig) \
            or not isinstance(train_config, TrainConfig):
        raise ValueError("run_detection needs a DetectionConfig, a TrainConfig and DetectionSettings")
    if data.name != "detection":
        raise ValueError(f"detection systems train on the 'detection' data, got {data.name!r}")
    train_config = replace(train_config, task_weights=settings.task_weights())
    weighting = weighting_for(settings.weighting, train_config)
    system = build_detector(data, config)
    history = History(task_names=list(system.task_names))
    history.extra["detection"] = {**config.to_dict(), **settings.to_dict()}
    if run_dir is not None:
        run_dir = Path(run_dir)
        write_config(run_dir, {"system": system.architecture(), "train": train_config.to_dict(),
                               "weighting": settings.weighting, "lambda": settings.lam, "data": data.name})
        callbacks = (*callbacks, CheckpointCallback(run_dir))
    t0 = time.perf_counter()
    try:
        train(system, data, train_config, weighting=weighting, callbacks=callbacks, stop=stop, progress=progress,
              history=history)
    except NonFiniteLossError as err:
        if run_dir is None:
            raise
        err.history.save(run_dir / "history.json")
        raise NonFiniteLossError(f"{err} (saved in {run_dir})", err.history) from None
    except BaseException:
        if run_dir is not None and history.config:
            history.error = history.error or f"interrupted after {history.num_epochs} finished epochs"
            history.save(run_dir / "history.json")
        raise
    seconds = time.perf_counter() - t0
    metrics = detection_metrics(predict(system, data.test.x), data.test)
    history.extra["detection_test"] = metrics
    if run_dir is not None:
        save_run(run_dir, system, history)
    return DetectionResult(config.coupling, system, history, metrics, seconds, settings)


def compare_detection(data: MultiTaskData, couplings: Sequence[str] | None, config: DetectionConfig,
                      train_config: TrainConfig, settings: DetectionSettings | None = None, *,
                      callbacks: Sequence[Callback] = (), progress: bool = False,
                      run_dir_for: Callable[[str], Path] | None = None) -> list[DetectionResult]:
    """Every coupling (all by default) with the same data, seed, budget and loss; one result each."""
    couplings = list(couplings or DETECTION_COUPLINGS)
    unknown = [c for c in couplings if c not in DETECTION_COUPLINGS]
    if unknown or not couplings:
        raise ValueError(f"unknown detection coupling(s) {unknown}; choose from {list(DETECTION_COUPLINGS)}")
    return [run_detection(data, replace(config, coupling=c), train_config, settings, callbacks=callbacks,
                          progress=progress, run_dir=run_dir_for(c) if run_dir_for else None) for c in couplings]


@torch.no_grad()
def classifier_windows(system: DetectionSystem, x: Tensor, size: int = 16) -> tuple[Tensor, Tensor]:
    """What the classifier looks at: its windows (B, 4) in canvas fractions and the image inside each, resampled
    to (B, 1, size, size) with the same ``roi_align`` the system applies to its feature map."""
    from torchvision.ops import roi_align

    was_training = system.training
    system.eval()
    try:
        _, windows = system.run(x)
    finally:
        system.train(was_training)
    rois = torch.cat([torch.arange(len(x), dtype=x.dtype).unsqueeze(1), windows * x.shape[-1]], dim=1)
    return windows, roi_align(x, rois, (size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)
