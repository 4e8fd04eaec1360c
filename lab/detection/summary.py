"""The lesson's question in numbers: does handing the proposal on (pipeline) beat learning W, and does
learning W on top of the pipeline add anything?

``verdict(rows)`` reads result rows (``DetectionResult.row()`` or the benchmark's means: ``coupling``,
``lambda``, ``detection``, ``class_acc``, ``mean_iou``) and says, per lambda, what the numbers show; it only
compares couplings trained at the same lambda and says so when one is missing.
"""
from __future__ import annotations

from typing import Sequence

QUESTION = ("When does handing the proposal on (pipeline) beat learning W, and does learning W on top of the "
            "pipeline add anything?")


def _points(a: dict, b: dict, key: str) -> float:
    return 100 * (a[key] - b[key])


def verdict(rows: Sequence[dict], margin: float = 1.0) -> list[str]:
    """One sentence per lambda; differences in detection-score points (100 x fraction); within ``margin``
    points counts as no difference (with one seed that is noise; the benchmark gives the spread)."""
    by_lam: dict[float, dict[str, dict]] = {}
    for r in rows:
        by_lam.setdefault(float(r["lambda"]), {})[r["coupling"]] = r
    lines = []
    for lam, runs in sorted(by_lam.items()):
        parts = []
        for a, b in (("pipeline", "cross_stitch"), ("pipeline", "independent"),
                     ("pipeline_cross_stitch", "pipeline")):
            if a in runs and b in runs:
                d = _points(runs[a], runs[b], "detection")
                how = "no clear difference" if abs(d) < margin else (f"{'+' if d > 0 else ''}{d:.1f} points")
                parts.append(f"{a} vs {b}: {how} (detection {100 * runs[a]['detection']:.1f} vs "
                             f"{100 * runs[b]['detection']:.1f}; mean IoU {runs[a]['mean_iou']:.3f} vs "
                             f"{runs[b]['mean_iou']:.3f})")
        lines.append(f"lambda {lam:g}: " + ("; ".join(parts) if parts else
                                            "train pipeline and another coupling at this lambda to compare"))
    return lines
