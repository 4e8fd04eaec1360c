"""Export a model to ONNX and compare it with torch in one sitting: the export table that the
compression panel's Export tab and ``python -m lab compress --export`` both show.

    i, modes = export_plan(recipe)            # lab.compress.recipe_runs: the last float model, ORT int8 modes
    summary = export_and_compare(models[i], "out/m.onnx", data, reports[i], modes=modes,
                                 int8=(models[-1], reports[-1]) if modes else None)
    print(summary.text())                     # parity per output, then one row per model and runtime

Rows (``export_rows``): eager torch of the exported float model, ONNX Runtime of its file, eager torch
of the recipe's int8 model (if any), ONNX Runtime of the int8 files; ``acc_%`` on the test split,
``KB`` of the files on disk, ``us`` median latency per batch, ``x_faster`` = eager torch time of the
float model / this time. With latency on, the torch models are timed again right before ONNX
Runtime, so every ratio comes from one sitting.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from torch import nn

from .cost import KB, MeasureConfig, Report, eval_mode, example_input, time_call
from .data.base import MultiTaskData
from .deploy import deploy
from .atomic import atomic_write_json
from .tables import format_table

EXPORT_FILE = "export.json"


@dataclass
class ExportSummary:
    """What an export shows: the file, parity, sizes and latencies (rows), the Reports."""

    path: Path
    files: list[str]
    bytes: int
    max_abs_diff: dict[str, float]
    atol: float
    rows: list[dict[str, Any]]
    reports: list[Report]

    def parity(self) -> str:
        """``"logits 1.2e-07"``: ONNX Runtime vs torch max |difference| per output."""
        return ", ".join(f"{k} {v:.1e}" for k, v in self.max_abs_diff.items())

    def text(self) -> str:
        """The export table as plain text (for print)."""
        return (f"{self.path} ({self.bytes:,} bytes); ONNX Runtime vs torch max abs diff: {self.parity()} "
                f"(tolerance {self.atol:g})\n" + format_table(self.rows))


def retimed(report: Report, model: nn.Module, data: MultiTaskData | None, config: MeasureConfig) -> Report:
    """``report`` with the latency of ``model`` measured now (batch and threads of ``config``)."""
    x = example_input(model, data, config.batch_size)
    with eval_mode(model):
        latency = time_call(lambda: model(x), config.repeats, config.warmup, config.threads)
    return report.with_(latency_ms=latency, latency_batch=config.batch_size, threads=config.threads)


def export_row(name: str, report: Report, torch_fp32: Report) -> dict[str, Any]:
    """One row of the export table; ``x_faster`` relative to ``torch_fp32`` (None without both latencies)."""
    speedup = (torch_fp32.latency_ms / report.latency_ms) if torch_fp32.latency_ms and report.latency_ms else None
    return {"model": name, "runtime": report.runtime,
            "acc_%": None if report.metric is None else 100 * report.metric,
            "KB": None if report.bytes is None else report.bytes / KB,
            "us": None if report.latency_ms is None else 1000 * report.latency_ms, "x_faster": speedup}


def export_rows(torch_report: Report, onnx_reports: Sequence[Report], torch_int8: Report | None = None
                ) -> list[dict[str, Any]]:
    """The export table: torch float, ONNX Runtime float, torch int8 (if given), ONNX Runtime int8 files."""
    rows = [export_row(f"torch eager ({torch_report.step})", torch_report, torch_report)]
    rows.append(export_row("ONNX Runtime", onnx_reports[0], torch_report))
    if torch_int8 is not None:
        rows.append(export_row(f"torch eager ({torch_int8.step})", torch_int8, torch_report))
    rows += [export_row(f"ONNX Runtime {r.step.removeprefix('onnx-')}", r, torch_report) for r in onnx_reports[1:]]
    return rows


def export_and_compare(model: nn.Module, path: str | os.PathLike, data: MultiTaskData | None, reference: Report, *,
                       modes: Sequence[str] = (), int8: tuple[nn.Module, Report] | None = None,
                       config: MeasureConfig = MeasureConfig(),
                       on_stage: Callable[[str], None] | None = None) -> ExportSummary:
    """Export ``model`` (whose torch Report is ``reference``) to ``path`` with ``lab.deploy.deploy``
    (checker, parity, ONNX Runtime int8 files for ``modes``) and build the export table. ``int8``:
    the recipe's torch int8 model and Report, shown beside ONNX Runtime's. ``on_stage`` is called with
    "timing" (before timing torch again; only with ``config.latency``), "exporting" and "exported".
    """
    stage = on_stage or (lambda _: None)
    torch_report, torch_int8 = reference, None if int8 is None else int8[1]
    if config.latency:              # time torch now, next to ONNX Runtime: ratios from one sitting
        stage("timing")
        torch_report = retimed(torch_report, model, data, config)
        if int8 is not None:
            torch_int8 = retimed(int8[1], int8[0], data, config)
    stage("exporting")
    reports = deploy(model, path, data, quantize=tuple(modes), config=config)
    stage("exported")
    onnx = reports[0]
    rows = export_rows(torch_report, reports, torch_int8)
    return ExportSummary(Path(path), onnx.extra["files"], onnx.file_bytes, onnx.extra["max_abs_diff"],
                         onnx.extra["atol"], rows, reports)


def save_export_summary(run_dir: str | os.PathLike, exported: str, summary: ExportSummary) -> Path:
    """Write ``run_dir/export.json`` (atomically): what was exported, the file, parity, rows, Reports."""
    path = Path(run_dir) / EXPORT_FILE
    atomic_write_json(path, {"exported": exported, "path": str(summary.path), "max_abs_diff": summary.max_abs_diff,
                             "atol": summary.atol, "rows": summary.rows,
                             "reports": [r.as_dict() for r in summary.reports]}, indent=1, default=str)
    return path
