"""What the compression panel holds and keeps on disk: the loaded model, recipe runs and their JSON.

A recipe run is saved as ``runs/<time>-compress-<model>/recipe.json`` (settings, how it ended,
every ``lab.cost.Report``), so its table and Pareto points survive a kernel restart
(``load_recipe_run``). ``digits_runs`` lists saved coupled runs the panel can compress and
``run_data_kwargs`` rebuilds the digits split such a run was trained on.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from torch import nn

from ..compress.recipe import STEPS, StepSpec, parse_recipe
from ..cost import Report
from ..data import DIGITS_TASKS, MultiTaskData
from ..atomic import atomic_write_json
from ..history import History
from ..runs import RunNote, find_runs, latest_run
from .compress_config import RecipeConfig
from .playground import DATA_CHOICES

RECIPE_FILE, EXPORT_FILE = "recipe.json", "export.json"
RECIPE_FORMAT = "lab.compress-run/1"


@dataclass
class LoadedModel:
    """The model being compressed with its data, test metric and dense costs."""

    model: nn.Module
    data: MultiTaskData
    label: str                      # "mlp", or "cross_stitch" for a loaded system
    description: str                # one line for the panel
    version: int                    # counts models loaded into the panel
    metric: float                   # mean test metric over tasks
    run_dir: Path | None = None     # the saved run it came from (kind "run")


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
        specs = self.steps
        i = len(self.reports) - 1
        while i > 0 and STEPS[specs[i - 1].name].terminal:
            i -= 1
        return i


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
    """A recipe run saved by the panel (``recipe.json`` in ``run_dir``), without its models."""
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
    return sorted((p for p in base.iterdir() if not p.name.startswith(".") and (p / RECIPE_FILE).is_file()),
                  key=lambda p: p.name, reverse=True)


def scan_digits_runs(root: str | Path | None = None) -> tuple[list[tuple[Path, History]], list[RunNote]]:
    """Saved runs (newest first) of systems trained on the digits tasks, with a checkpoint to load, and a
    note for every folder skipped because it is malformed (``lab.runs.find_runs``)."""
    runs, notes = find_runs(root, data="digits", tasks=DIGITS_TASKS, need_checkpoint=True)
    return [(r.path, r.history) for r in runs], notes


def digits_runs(root: str | Path | None = None) -> list[tuple[Path, History]]:
    """The runs of ``scan_digits_runs`` without the notes."""
    return scan_digits_runs(root)[0]


def latest_digits_run(strategy: str | None = None, root: str | Path | None = None) -> Path | None:
    """The newest usable run on the digits tasks (of ``strategy``, e.g. "cross_stitch", if given), or None."""
    found, _ = latest_run(root, strategy=strategy, data="digits", tasks=DIGITS_TASKS)
    return None if found is None else found.path


def run_data_kwargs(run_dir: str | Path, history: History) -> dict[str, Any]:
    """``load_digits_tasks`` arguments of the split a saved run was trained on: its tasks and seed, and
    the small seeded subset when the panel that trained it used one (``small_data`` in the panel's
    settings, saved in ``config.json`` and the history's extras; LAB_FAST)."""
    settings: list[Any] = [history.config, history.extra]
    config_file = Path(run_dir) / "config.json"
    if config_file.is_file():
        try:
            settings.append(json.loads(config_file.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            pass
    seed = int(history.config.get("train", {}).get("seed", 0))
    small = any(isinstance(v, dict) and v.get("small_data") for d in settings for v in d.values())
    return {"tasks": tuple(history.task_names), "seed": seed,
            "limit": DATA_CHOICES["digits"].fast_size if small else None}


def run_label(path: Path, history: History) -> str:
    return f"{path.name} ({history.strategy}, {history.num_epochs} epochs, tasks {', '.join(history.task_names)})"
