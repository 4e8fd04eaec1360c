"""Recipe runs on disk, and which of their models to export: what the compression panel and
``python -m lab compress --save`` both write and read.

A recipe run is saved as ``runs/<time>-compress-<model>/recipe.json`` (settings, how it ended,
every ``lab.cost.Report``) after every step, so its table and Pareto points survive a crash or a
kernel restart (``load_recipe_run``); ``export.json`` beside it records an ONNX export
(``lab.export_report``).

    run = RecipeRun("mlp prune:0.9,int8", "prune:0.9,int8", "mlp", run_dir=new_run_dir("compress-mlp"))
    record_recipe(run, model, data, RecipeConfig(recipe="prune:0.9,int8"))   # recipe.json after each step
    load_recipe_run(run.run_dir).reports == run.reports
    export_plan("prune:0.9,kmeans:16,int8")        # (2, ("dynamic",)): export models[2], ORT int8 dynamic
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

from torch import nn

from ..cost import Report
from ..data.base import MultiTaskData
from ..atomic import atomic_write_json
from .recipe import STEPS, StepSpec, parse_recipe, run_recipe
from .recipe_config import RecipeConfig

RECIPE_FILE = "recipe.json"
RECIPE_FORMAT = "lab.compress-run/1"


def export_plan(specs: str | Sequence[StepSpec | str], done: int | None = None) -> tuple[int, tuple[str, ...]]:
    """What to export of a recipe run: ``(last_float_index, onnx_int8_modes)``.

    ``last_float_index`` indexes the run's models/reports (0: the input model, k: after step k): the
    last model that is still a float model, i.e. not made by a terminal (int8) step. When the run
    ended with an int8 step, ONNX Runtime quantizes the exported file the same way: ``("dynamic",)``
    for ``int8``/``int8:dynamic``, ``("static",)`` (calibrated) for ``int8:static`` and ``int8:qat``;
    otherwise no int8 mode. ``done``: steps finished (default: all; fewer for a stopped run).
    """
    specs = parse_recipe(specs if isinstance(specs, str) else list(specs))
    done = len(specs) if done is None else done
    if not 0 <= done <= len(specs):
        raise ValueError(f"done must count finished steps, 0 to {len(specs)}, got {done}")
    i = done
    while i > 0 and STEPS[specs[i - 1].name].terminal:
        i -= 1
    modes: tuple[str, ...] = ()
    if i < done:                        # the run ended in int8: quantize the ONNX file too
        last = specs[done - 1]
        modes = ("dynamic",) if (last.value or "dynamic") == "dynamic" else ("static",)
    return i, modes


@dataclass
class RecipeRun:
    """One recipe run: its Reports step by step (the first: the input model), the models after every
    step (empty for runs reloaded from disk), where it is saved and how it ended."""

    label: str
    recipe: str
    model_label: str
    reports: list[Report] = field(default_factory=list)
    models: list[nn.Module] = field(default_factory=list)
    run_dir: Path | None = None
    model_version: int | None = None
    stopped: bool = False
    error: str | None = None

    @property
    def steps(self) -> list[StepSpec]:
        return parse_recipe(self.recipe)

    def last_float_index(self) -> int:
        """Index (into ``models``/``reports``) of the last model that is still a float model."""
        return export_plan(self.steps, max(len(self.reports) - 1, 0))[0]


def report_from_dict(d: dict[str, Any]) -> Report:
    """A Report from ``Report.as_dict()`` (JSON): the inverse used to reload saved runs."""
    names = {f.name for f in fields(Report)}
    kwargs = {k: v for k, v in d.items() if k in names}
    kwargs["notes"] = tuple(kwargs.get("notes", ()))
    return Report(**kwargs)


def save_recipe_run(run: RecipeRun, config: RecipeConfig, model_description: str = "") -> Path:
    """Write ``run.run_dir/recipe.json`` (atomically): settings, how it ended, every Report."""
    if run.run_dir is None:
        raise ValueError("this recipe run has no folder to save into")
    payload = {"format": RECIPE_FORMAT, "label": run.label, "recipe": run.recipe, "model": run.model_label,
               "model_description": model_description, "config": config.to_dict(), "stopped": run.stopped,
               "error": run.error, "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
               "reports": [r.as_dict() for r in run.reports]}
    path = Path(run.run_dir) / RECIPE_FILE
    atomic_write_json(path, payload, indent=1, default=str)
    return path


def load_recipe_run(run_dir: str | Path) -> RecipeRun:
    """A recipe run saved by the panel or ``compress --save`` (``recipe.json`` in ``run_dir``), without its models."""
    path = Path(run_dir) / RECIPE_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir} holds no {RECIPE_FILE}: not a compression run saved by the panel")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not readable JSON: {err}") from None
    if d.get("format") != RECIPE_FORMAT:
        raise ValueError(f"{path} has format {d.get('format')!r}; expected {RECIPE_FORMAT!r}")
    return RecipeRun(d["label"], d["recipe"], d["model"], [report_from_dict(r) for r in d["reports"]],
                     run_dir=Path(run_dir), stopped=d.get("stopped", False), error=d.get("error"))


def saved_recipe_runs(root: str | Path | None = None) -> list[Path]:
    """Folders under the runs root holding a saved recipe run, newest first."""
    from ..runs import runs_root

    base = runs_root(root)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / RECIPE_FILE).is_file()), key=lambda p: p.name, reverse=True)


def record_recipe(run: RecipeRun, model: nn.Module, data: MultiTaskData, config: RecipeConfig, *,
                  model_description: str = "", stop: threading.Event | None = None,
                  on_step: Callable[[Report, int, int], None] | None = None) -> RecipeRun:
    """Run ``config``'s recipe on ``model`` step by step into ``run``: every Report is appended to
    ``run.reports`` and, when ``run.run_dir`` is set, ``recipe.json`` is saved after every step (after
    ``on_step(report, done, total)``), so a crash loses no finished step. At the end ``run.models``
    holds every model and ``run.stopped`` says whether ``stop`` ended it early. A step that fails
    sets ``run.error`` ("step 'x': reason"), is saved, and its ValueError is raised again.
    """
    specs = config.steps()

    def save() -> None:
        if run.run_dir is not None:
            save_recipe_run(run, config, model_description)

    def after_step(report: Report, done: int, total: int) -> None:
        run.reports.append(report)
        if on_step is not None:
            on_step(report, done, total)
        save()

    try:
        result = run_recipe(model, specs, data, config.options(), keep_models=True, stop=stop, on_step=after_step)
    except ValueError as err:
        failed = specs[len(run.reports) - 1] if run.reports else None
        run.error = (f"step {str(failed)!r}: " if failed is not None else "") + (str(err) or type(err).__name__)
        save()
        raise
    run.models, run.stopped = result.models, result.stopped
    save()
    return run
