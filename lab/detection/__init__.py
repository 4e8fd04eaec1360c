"""The seed's detection system: feature extraction -> proposals -> classification, trained on
L = L_det + lambda (L_cls + L_loc).

* ``model`` - ``DetectionSystem`` (a ``CoupledSystem``: features, proposal, classifier) and its couplings;
* ``metrics`` - mean IoU, IoU >= 0.5 / 0.75, class accuracy, detection score;
* ``run`` - ``DetectionSettings`` (lambda, weighting, detach), ``run_detection`` and ``compare_detection``.

Importing this package registers the ``"detection"`` architecture, so saved detection runs load with
``lab.runs.load_run`` / ``CoupledSystem.from_architecture``.
"""
from .metrics import DETECTION_METRICS, detection_metrics
from .model import DETECTION_COUPLINGS, DetectionConfig, DetectionSystem, build_detector, decode_box, refine_box
from .run import (DEFAULT_TRAIN, DetectionResult, DetectionSettings, classifier_windows, compare_detection,
                  run_detection)

__all__ = ["DEFAULT_TRAIN", "DETECTION_COUPLINGS", "DETECTION_METRICS", "DetectionConfig", "DetectionResult",
           "DetectionSettings", "DetectionSystem", "build_detector", "classifier_windows", "compare_detection", "decode_box",
           "detection_metrics", "refine_box", "run_detection"]
