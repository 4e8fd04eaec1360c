"""What the compression panel holds: the loaded model (``LoadedModel``) and how saved runs are labelled.

Recipe runs and their files live in core, shared with ``python -m lab compress``:
``lab.compress.recipe_runs`` (``RecipeRun``, ``save_recipe_run``, ``load_recipe_run``, ``export_plan``),
``lab.export_report`` (the export table, ``export.json``) and ``lab.runs`` (``digits_runs``,
``latest_digits_run``, ``run_data_kwargs``: the saved coupled runs the panel can compress, and the
digits split each was trained on).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from ..cost import count_flops, evaluate_model, example_input, saved_size
from ..data import MultiTaskData
from ..history import History


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
    metrics: dict[str, float] = field(default_factory=dict)    # test metric per task
    dense_bytes: int | None = None  # its torch.save file
    dense_flops: int | None = None  # FLOPs per example (batch 1)

    @classmethod
    def of(cls, model: nn.Module, data: MultiTaskData, label: str, description: str, version: int,
           run_dir: Path | None = None) -> "LoadedModel":
        """``model`` (put in eval mode) scored on the test split, with its dense bytes and FLOPs."""
        model.eval()
        metrics = evaluate_model(model, data.test, data.tasks)
        with tempfile.TemporaryDirectory(prefix="lab-model-") as tmp:
            dense_bytes = saved_size(model, tmp, "dense.pt")
        flops = count_flops(model, example_input(model, data, 1))[0]
        return cls(model, data, label, description, version, sum(metrics.values()) / len(metrics), run_dir,
                   metrics, dense_bytes, flops)


def run_label(path: Path, history: History) -> str:
    return f"{path.name} ({history.strategy}, {history.num_epochs} epochs, tasks {', '.join(history.task_names)})"
