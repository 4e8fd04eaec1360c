"""One W-guided step applied with a Stop that works during fine-tuning, recorded as a recipe run.

What the compression panel's W tab runs in the background: the step (``edges:...`` or
``modules:...``, the recipe syntax of :mod:`lab.compress.w_steps`) prunes without fine-tuning, then
the pruned system is fine-tuned here with the ``stop`` flag checked after every optimiser step, and
measured. The result is a ``RecipeRun`` with the reference and the step (recipe
``<step>:epochs=N``, which ``python -m lab compress --recipe`` reproduces), saved as ``recipe.json``
when it has a folder, so it lands on the Pareto plot beside the ordinary recipes.

    run = apply_w_step(RecipeRun("W", "", "cross_stitch"), system, data, "edges:threshold=0.05",
                       FitConfig(epochs=3))
    run.models[-1]        # the fine-tuned PrunedSystem;  run.reports[-1]: its Report
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

from torch import nn

from ..cost import FAST_MEASURE, MeasureConfig, measure
from ..data.base import MultiTaskData
from .fit import FitConfig, fit
from .recipe import STEPS, RecipeOptions, parse_recipe
from .recipe_config import RecipeConfig
from .recipe_runs import RecipeRun, save_recipe_run

W_STEPS: tuple[str, ...] = ("edges", "modules")


class _Stopped(Exception):
    """Raised from the fine-tuning loop when the stop flag is set."""


def apply_w_step(run: RecipeRun, system: nn.Module, data: MultiTaskData, step: str, finetune: FitConfig, *,
                 stop: threading.Event | None = None, on_progress: Callable[[int, int], None] | None = None,
                 measure_config: MeasureConfig = FAST_MEASURE, model_description: str = "") -> RecipeRun:
    """Apply one W step to ``system`` (not changed) into ``run`` (see the module docstring).

    ``on_progress(done, total)`` after every fine-tuning step. When ``stop`` is set during fine-tuning,
    ``run.stopped`` is True and nothing but the reference is kept. ValueError (before any work) for a
    step that is not a W step or does not apply to the model.
    """
    (spec,) = parse_recipe(step)
    if spec.name not in W_STEPS or "epochs" in spec.options:
        raise ValueError(f"a W step is one of {list(W_STEPS)} without epochs=, e.g. edges:threshold=0.05 or "
                         f"modules:1; got {step!r}")
    run.recipe = f"{step}:epochs={finetune.epochs}"
    config = RecipeConfig(recipe=run.recipe, finetune_epochs=finetune.epochs, finetune_lr=finetune.lr, latency=False,
                          seed=finetune.seed)
    options = RecipeOptions(finetune=replace(finetune, epochs=0), measure=measure_config, seed=finetune.seed)
    pruned, raw = STEPS[spec.name].apply(system, spec, data, options)          # checks the model, prunes
    run.reports, run.models = [measure(system, data, "fp32", measure_config)], [system]
    steps = [0]
    total = finetune.epochs * -(-len(data.train) // finetune.batch_size)

    def after_step(_model: nn.Module) -> None:
        steps[0] += 1
        if stop is not None and stop.is_set():
            raise _Stopped
        if on_progress is not None:
            on_progress(steps[0], total)

    try:
        if finetune.epochs > 0:
            fit(pruned, data, finetune, after_step=after_step)
    except _Stopped:
        run.stopped = True
    else:
        report = measure(pruned.eval(), data, run.recipe, measure_config,
                         extra={**raw.extra, "metrics_before_finetune": raw.metrics})
        run.reports.append(report)
        run.models.append(pruned)
    if run.run_dir is not None:
        save_recipe_run(run, config, model_description)
    return run
