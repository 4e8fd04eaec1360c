"""Tab 1 Model: train a reference network on the digits, or load a coupled system saved on them.

A reference network (``lab.models``: mlp, lenet, dscnn) is trained in the background (seeded,
seconds); a ``CoupledSystem`` comes from a saved run trained on the digits tasks (``lab.runs``; a
run of the playground or ``python -m lab couple --save``) and is scored on the digits split it was
trained on (``lab.runs.run_data_kwargs``). The settings are a ``ModelSource``.
"""
from __future__ import annotations

import math
import threading
from functools import partial
from pathlib import Path

import ipywidgets as widgets
from torch import nn

from ...compress.reference import REFERENCE_FIT, digit_data, train_reference
from ...cost import KB
from ...data import DIGITS_TASKS, MultiTaskData, load_digits_tasks
from ...models import build_model, count_parameters
from ...runs import latest_run, load_run, notes_text, run_data_kwargs, scan_digits_runs
from ..base import DESCRIPTION_STYLE, Job, Throttle, field_layout, wrap_row
from ..compress_config import REFERENCE_MODELS, SOURCE_KINDS, ModelSource
from ..compress_runs import LoadedModel, run_label
from .shell import Tab


class _Stopped(Exception):
    """Raised from the training loop when Stop was pressed."""


class ModelTab(Tab):
    """Owns the model widgets and the Train / load job; hands the model to the panel (``use_model``)."""

    title = "Model"
    action = "model"

    def __init__(self, host, source: ModelSource | None = None):
        super().__init__(host)
        source = source or ModelSource()
        s = DESCRIPTION_STYLE
        wide = field_layout          # one Layout per widget: its width, narrower when the notebook is
        self.source_kind = widgets.ToggleButtons(options=[(v, k) for k, v in SOURCE_KINDS.items()],
                                                 description="model", style=s)
        self.network = widgets.Dropdown(options=list(REFERENCE_MODELS), description="network", style=s,
                                        layout=wide())
        self.epochs = widgets.BoundedIntText(min=1, max=1000, description="epochs", style=s, layout=wide())
        self.seed = widgets.IntText(description="seed", style=s, layout=wide())
        self.run_select = widgets.Dropdown(options=[], description="saved run", style=s, layout=wide("640px"))
        self.refresh_button = widgets.Button(description="refresh list", icon="refresh",
                                             tooltip="list the saved runs again")
        self.train_button = host.train_button
        self.train_button.description = "Train / load"
        self.train_button.tooltip = "train the reference network, or load the saved run (in the background)"
        self.model_info = widgets.HTML("<i>no model yet: choose one and press Train / load</i>")
        self.model_info.add_class("lab-model-info")
        self._version = 0
        self._data_cache: dict[tuple, MultiTaskData] = {}

        self.set_source(source)
        self.source_kind.observe(lambda _: self._sync_visibility(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh_runs())
        self.reference_box = widgets.VBox([self.network, self.epochs, self.seed])
        self.run_box = widgets.VBox([wrap_row([self.run_select, self.refresh_button])])
        self.widget = widgets.VBox([
            widgets.HTML("Train a reference network on the digits (seconds), or load a coupled system saved by the "
                         "playground or <code>python -m lab couple --save</code>."),
            self.source_kind, self.reference_box, self.run_box, self.train_button, self.model_info])
        self._sync_visibility()

    @property
    def verb(self) -> str:
        return "load the run" if self.source_kind.value == "run" else "train"

    # --- widgets <-> config -----------------------------------------------------------------------------
    def set_source(self, source: ModelSource) -> None:
        """Put ``source`` into the Model tab's widgets."""
        self.source_kind.value, self.network.value = source.kind, source.network
        self.epochs.value, self.seed.value = source.epochs, source.seed
        self._limit = source.limit
        self._wanted_run = source.run
        self.refresh_runs()

    def read_source(self) -> ModelSource:
        """The Model tab's values as a validated ModelSource (ValueError with the reason otherwise)."""
        run = self.run_select.value or None
        if self.source_kind.value == "run" and run is None:
            raise ValueError(f"no saved run on the digits tasks under {self.host.runs_root}/: train one first (the "
                             "playground of 01_coupling_playground.ipynb saves every run, or `python -m lab couple "
                             "--data digits --strategy cross_stitch --save`), then press 'refresh list'")
        return ModelSource(kind=self.source_kind.value, network=self.network.value, epochs=self.epochs.value,
                           seed=self.seed.value, limit=self._limit, run=run)

    def refresh_runs(self) -> list[Path]:
        """List the saved runs on the digits tasks in the run dropdown (newest first)."""
        found, notes = scan_digits_runs(self.host.runs_root)
        note = notes_text(notes)
        host = self.host
        if note:
            host.show_message(note, "warning")
        elif host.message_text and host.message_text == getattr(self, "_runs_note", None):   # now stale
            host.show_message("")
        self._runs_note = note
        options = [(run_label(p, h), str(p)) for p, h in found]
        wanted = getattr(self, "_wanted_run", None)
        current = self.run_select.value
        self.run_select.options = options or [("(no saved run on the digits tasks yet)", "")]
        values = [v for _, v in options]
        if wanted == "latest" and values:
            self.run_select.value = values[0]
        elif wanted and str(Path(wanted)) in values:
            self.run_select.value = str(Path(wanted))
        elif wanted and values and Path(wanted).name in [Path(v).name for v in values]:
            self.run_select.value = next(v for v in values if Path(v).name == Path(wanted).name)
        elif current in values:
            self.run_select.value = current
        self._wanted_run = None
        return [p for p, _ in found]

    def _sync_visibility(self) -> None:
        run = self.source_kind.value == "run"
        self.reference_box.layout.display = "none" if run else None
        self.run_box.layout.display = None if run else "none"
        if run:
            self.refresh_runs()

    # --- the job: Train / load --------------------------------------------------------------------------
    def prepare(self) -> Job:
        source = self.read_source()
        if source.kind == "reference":
            data = self._digits(seed=source.seed, limit=source.limit)
            build_model(source.network, data.input_shape, data.tasks[0].num_outputs)   # fails early, readably
            return partial(self._train_reference, source, data)
        return partial(self._load_run, source)

    def _digits(self, **kwargs) -> MultiTaskData:
        key = tuple(sorted(kwargs.items()))
        if key not in self._data_cache:
            if "tasks" in kwargs:
                self._data_cache[key] = load_digits_tasks(**kwargs)
            else:
                self._data_cache[key] = digit_data(kwargs["seed"], kwargs["limit"])
        return self._data_cache[key]

    def _train_reference(self, source: ModelSource, data: MultiTaskData, stop: threading.Event) -> None:
        epochs = source.planned_epochs()
        per_epoch = math.ceil(len(data.train) / REFERENCE_FIT.batch_size)
        p = self.host.progress
        p.max, p.value, p.bar_style = max(1, epochs * per_epoch), 0, "info"
        self.host.status.value = f"training {source.network}: epoch 0/{epochs}"
        throttle = Throttle(self.host.update_interval)
        steps = [0]

        def after_step(model: nn.Module) -> None:
            steps[0] += 1
            if stop.is_set():
                raise _Stopped
            if throttle.ready():
                p.value = steps[0]
                self.host.status.value = f"training {source.network}: epoch {steps[0] // per_epoch + 1}/{epochs}"

        try:
            model = train_reference(source.network, data, source.fit_config(), source.seed, after_step=after_step)
        except _Stopped:
            p.bar_style = "warning"
            kept = f"; still using {self.host.loaded.label}" if self.host.loaded is not None else ""
            self.host.status.value = (f"stopped: {source.network} trained {steps[0] // per_epoch}/{epochs} epochs - a "
                                      f"half-trained reference is not kept{kept}; press Train / load again")
            return
        n_train, n_test = len(data.train), len(data.test)
        self._set_model(model, data, source.network,
                        f"{source.network} trained {epochs} epochs (seed {source.seed}) on the digit task: "
                        f"{n_train:,} training / {n_test:,} test digits")
        p.value, p.bar_style = p.max, "success"

    def _load_run(self, source: ModelSource, stop: threading.Event) -> None:
        p = self.host.progress
        p.max, p.value, p.bar_style = 1, 0, "info"
        if source.run == "latest":
            latest, notes = latest_run(self.host.runs_root, data="digits", tasks=DIGITS_TASKS)
            if latest is None:
                raise ValueError(f"no saved run on the digits tasks under {self.host.runs_root}/"
                                 + (f" ({notes_text(notes)})" if notes else ""))
            run_dir = latest.path
        else:
            run_dir = Path(source.run)
        if not (run_dir / "history.json").is_file():
            raise ValueError(f"{run_dir} is not a saved run (it has no history.json)")
        self.host.status.value = f"loading {run_dir.name}..."
        system, history = load_run(run_dir)
        if system is None:
            raise ValueError(f"{run_dir} has no checkpoint.pt to load")
        if history.config.get("data") != "digits" or not set(history.task_names) <= set(DIGITS_TASKS):
            raise ValueError(f"{run_dir.name} was trained on {history.config.get('data')!r} with tasks "
                             f"{history.task_names}; the compression panel takes systems trained on the digits tasks")
        kwargs = run_data_kwargs(run_dir, history)
        data = self._digits(**kwargs)
        if tuple(system.task_names) != tuple(data.task_names) or tuple(system.input_shape) != tuple(data.input_shape):
            raise ValueError(f"{run_dir.name} holds a system for tasks {list(system.task_names)} with inputs "
                             f"{tuple(system.input_shape)}; its data has {list(data.task_names)}, "
                             f"{tuple(data.input_shape)}")
        limit = f", the {len(data.train) + len(data.val) + len(data.test)}-digit subset" if kwargs["limit"] else ""
        self._set_model(system, data, system.strategy,
                        f"{system.strategy} system from {run_dir.name} ({history.num_epochs} epochs, tasks "
                        f"{', '.join(system.task_names)}; scored on its test split: seed "
                        f"{kwargs['seed']}{limit}, {len(data.test):,} test digits)",
                        run_dir=run_dir)
        p.value, p.bar_style = 1, "success"

    def _set_model(self, model: nn.Module, data: MultiTaskData, label: str, description: str,
                   run_dir: Path | None = None) -> None:
        self._version += 1
        loaded = LoadedModel.of(model, data, label, description, self._version, run_dir)
        self.host.use_model(loaded)                 # every tab follows (the Preview re-scores at once)

    def on_model(self, loaded: LoadedModel) -> None:
        metric_names = "/".join(sorted({t.metric for t in loaded.data.tasks}))
        per_task = ", ".join(f"{k} {100 * v:.2f}%" for k, v in loaded.metrics.items())
        self.model_info.value = (
            f"<b>{loaded.description}</b><br>test {metric_names}: {per_task} (mean {100 * loaded.metric:.2f}%) - "
            f"{count_parameters(loaded.model):,} parameters, torch.save file {loaded.dense_bytes / KB:,.1f} KB, "
            f"{loaded.dense_flops / 1000:,.1f} kFLOPs per example")
        self.host.status.value = (f"ready: {loaded.label}, test {metric_names} {100 * loaded.metric:.2f}% - move the "
                                  f"Preview sliders or run a recipe")
