"""W inspector: load saved runs, scrub through epochs, switch heatmap/graph, compare two runs.

    insp = WInspector()                 # lists runs/ (or $LAB_RUNS); display(insp) shows the panel
    insp.run_select.value = insp.run_select.options[0][1]
    insp.epoch.value = 3                # W after epoch 3 (0 = before training)
    insp.view.value = "graph"; insp.threshold.value = 0.1
    insp.compare_select.value = "<another run>"

Works from the saved ``history.json`` alone (no model, no training).
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..history import History
from ..runs import RunNote, notes_text, scan_runs
from ..viz import (W_graph, W_heatmaps, W_side_by_side, W_trajectories, W_vs_truth, as_matrices, module_labels,
                   snapshot_epochs, training_curves)
from .base import DESCRIPTION_STYLE, field_layout, readable_error, resolve_runs_root, wrap_row
from .figure_view import FigureView
from .html import Level, html_table, message_html

ALL_STAGES = -1
NO_RUN = ""


def _history_file(path: Path) -> Path:
    if path.is_dir():
        path = path / "history.json"
    if not path.is_file():
        raise ValueError(f"no history found at {path}: give a run folder (with history.json) or a history.json file")
    return path


def short_name(key: str) -> str:
    """A run key without its folder path and timestamp: ``.../20261123-101500-digits-cross_stitch`` -> ``digits-cross_stitch``."""
    return re.sub(r"^\d{8}-\d{6}-", "", Path(key).name if "/" in key else key)


def _nearest_epoch(history: History, epoch: int) -> int:
    """The latest snapshot epoch <= ``epoch`` (or the first one)."""
    epochs = snapshot_epochs(history)
    below = [e for e in epochs if e <= epoch]
    return below[-1] if below else epochs[0]


class WInspector:
    """The inspector panel (see the module docstring).

    ``histories`` maps a run key (folder name, path or upload name) to its loaded History;
    ``W_view`` shows W, ``trajectory_view`` W_ij(t), ``curves_view`` the training curves and
    ``truth_view`` learned W next to W* (synthetic data only). ``message_text`` holds the
    last message (e.g. why a path could not be loaded).
    """

    def __init__(self, runs_root: str | os.PathLike | None = None, *, select: str | None = None):
        s = DESCRIPTION_STYLE
        wide = lambda: field_layout("420px")  # noqa: E731  (one Layout per widget; narrower in a narrow notebook)
        self.histories: dict[str, History] = {}
        self._quiet = False
        self._paths: dict[str, Path] = {}          # runs listed from the runs folder (last refresh)
        self._loaded: dict[str, Path] = {}         # runs loaded from a typed path
        self.notes: list[RunNote] = []             # folders the last refresh skipped, and why
        self.shown_run: str | None = None          # the run whose W the views show (None: nothing shown)
        self._heatmap_key: tuple | None = None     # (run, its History, stage) of the heatmaps shown: scrub in place
        self.message_text = ""
        self.root_text = widgets.Text(value=str(resolve_runs_root(runs_root)), description="runs folder", style=s,
                                      layout=wide())
        self.refresh_button = widgets.Button(description="refresh list", icon="refresh")
        self.run_select = widgets.Dropdown(options=[("(no run)", NO_RUN)], description="run", style=s, layout=wide())
        self.run_select.add_class("lab-run-select")
        self.compare_select = widgets.Dropdown(options=[("(none)", NO_RUN)], description="compare with", style=s,
                                               layout=wide())
        self.path_text = widgets.Text(description="or load path", placeholder="a run folder or its history.json",
                                      style=s, layout=wide())
        self.load_button = widgets.Button(description="Load", icon="folder-open")
        self.upload = widgets.FileUpload(accept=".json", multiple=False, description="upload history.json")
        self.epoch = widgets.IntSlider(min=0, max=0, description="epoch", style=s, layout=wide())
        self.epoch.add_class("lab-epoch")
        self.stage = widgets.Dropdown(options=[("all", ALL_STAGES)], description="stage", style=s,
                                      layout=field_layout("220px"))
        self.view = widgets.ToggleButtons(options=["heatmap", "graph"], description="view", style=s)
        self.threshold = widgets.FloatSlider(min=0.0, max=1.0, step=0.01, value=0.05, description="hide |W_ij| <",
                                             style=s, layout=wide(), readout_format=".2f")
        self.message = widgets.HTML("")
        self.summary = widgets.HTML("")
        self.W_view = FigureView(css_class="lab-inspector-W", placeholder="pick a run")
        self.trajectory_view = FigureView(css_class="lab-trajectories")
        self.curves_view = FigureView(css_class="lab-inspector-curves")
        self.truth_view = FigureView(css_class="lab-truth")

        self.refresh_button.on_click(lambda _: self.refresh())
        self.load_button.on_click(lambda _: self.load(self.path_text.value))
        self.upload.observe(self._on_upload, names="value")
        self.run_select.observe(lambda _: self._on_run_change(), names="value")
        self.compare_select.observe(lambda _: self.render_W(), names="value")
        for w in (self.epoch, self.stage, self.view, self.threshold):
            w.observe(lambda _: self.render_W(), names="value")
        self.view.observe(lambda _: self._sync_visibility(), names="value")

        self.ui = widgets.VBox([
            widgets.HTML("<h3 style='margin:4px 0'>W inspector</h3>Pick a saved run, scrub through its epochs, "
                         "switch between heatmap and graph, and compare it with another run."),
            wrap_row([self.root_text, self.refresh_button]),
            wrap_row([self.path_text, self.load_button, self.upload]),
            self.run_select, self.compare_select, self.summary,
            wrap_row([self.epoch, self.stage]), wrap_row([self.view, self.threshold]),
            self.message, self.W_view.box, self.trajectory_view.box, self.truth_view.box, self.curves_view.box,
        ])
        self.ui.add_class("lab-inspector")
        self._sync_visibility()
        self.refresh()
        if select is not None:
            self.run_select.value = select

    # --- runs ------------------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.root_text.value)

    def refresh(self) -> list[str]:
        """Re-read the runs folder (malformed folders are skipped, with a note in the message area); keeps
        runs loaded from other paths and added in memory. Returns the run keys."""
        runs, self.notes = scan_runs(self.root)
        for key in set(self._paths) - {r.name for r in runs} - set(self._loaded):
            self.histories.pop(key, None)              # gone or broken since the last refresh
        self._paths = {r.name: r.path for r in runs}
        self.histories.update({r.name: r.history for r in runs})
        keys = list(self._paths) + [k for k in self._loaded if k not in self._paths]
        keys += [k for k in self.histories if k not in keys]
        self._set_options(keys)
        if self.notes:
            self.show_message(notes_text(self.notes), "warning")
        elif not keys:
            self.show_message(f"No saved runs in {self.root.resolve()} yet: train in the coupling playground "
                              "(01_coupling_playground.ipynb) or run `python -m lab couple --save`.", "info")
        return keys

    def _set_options(self, keys: list[str]) -> None:
        current, other = self.run_select.value, self.compare_select.value
        options = [(k, k) for k in keys]
        self.run_select.options = options or [("(no run)", NO_RUN)]
        self.compare_select.options = [("(none)", NO_RUN)] + options
        self.run_select.value = current if current in keys else (keys[0] if keys else NO_RUN)
        self.compare_select.value = other if other in keys else NO_RUN

    def load(self, path: str | os.PathLike, name: str | None = None) -> str | None:
        """Load a run folder or history.json and select it; returns its key (None, with a message, on error)."""
        try:
            if not str(path).strip():
                raise ValueError("type the path of a run folder or of a history.json first")
            file = _history_file(Path(path).expanduser())
            history = History.load(file)
        except (ValueError, OSError) as err:
            self.show_message(f"Cannot load {path!s}: {readable_error(err)}", "error")
            return None
        key = name or str(file.parent if file.name == "history.json" else file)
        self.histories[key] = history
        self._loaded[key] = file
        return self.add(history, key)

    def add(self, history: History, name: str) -> str:
        """Add an in-memory History (e.g. ``playground.history``) under ``name`` and select it."""
        self.histories[name] = history
        keys = [v for _, v in self.run_select.options if v != NO_RUN]
        if name not in keys:
            keys.append(name)
        self._set_options(keys)
        if self.run_select.value == name:
            self._on_run_change()                   # the same key with a new history: redraw it
        else:
            self.run_select.value = name            # draws it, or says why not
        return name

    def _on_upload(self, change) -> None:
        for item in change["new"] or ():
            try:
                history = History.from_dict(json.loads(bytes(item["content"]).decode()),
                                            source=f"upload {item.get('name', 'history.json')}")
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
                self.show_message(f"Cannot read {item.get('name', 'the upload')}: {readable_error(err)}", "error")
                continue
            self.add(history, f"upload: {item.get('name', 'history.json')}")

    def history(self, key: str | None = None) -> History | None:
        """The History of run ``key`` (default: the selected run), loaded on first use."""
        key = self.run_select.value if key is None else key
        if not key:
            return None
        if key not in self.histories:
            path = self._paths.get(key) or self._loaded.get(key)
            if path is None:
                raise ValueError(f"no run named {key!r} (press 'refresh list')")
            self.histories[key] = History.load(_history_file(path))
        return self.histories[key]

    # --- rendering --------------------------------------------------------------------------------------------
    def _clear_views(self, why: str) -> None:
        """Show no W at all (never the previous run's under the new name)."""
        self.shown_run, self._heatmap_key = None, None
        self.summary.value = ""
        for view in (self.W_view, self.trajectory_view, self.curves_view, self.truth_view):
            view.clear(html.escape(why))

    def _on_run_change(self) -> None:
        name = self.run_select.value
        try:
            h = self.history()
        except (ValueError, OSError) as err:
            self._clear_views(f"{name} could not be loaded")
            self.show_message(f"Cannot load run {name}: {readable_error(err)} (nothing is shown)", "error")
            return
        if h is None:
            self._clear_views("pick a run")
            return
        epochs = snapshot_epochs(h)
        if not epochs:
            self._clear_views(f"{name} recorded no W")
            self.show_message("This run recorded no W (it stopped before the first epoch).", "warning")
            return
        self.show_message(notes_text(self.notes) if self.notes else "", "warning")
        W = np.stack([np.stack(as_matrices(h, e)) for e in epochs])        # (T, S, n, n)
        off = W[..., ~np.eye(W.shape[-1], dtype=bool)]
        self._quiet = True                                                # one redraw, at the end
        try:
            self.epoch.max = max(epochs)
            self.epoch.min = epochs[0]
            self.epoch.value = epochs[-1]
            self.stage.options = [("all", ALL_STAGES)] + [(str(s + 1), s) for s in range(W.shape[1])]
            self.threshold.max = max(0.05, round(float(np.abs(off).max()) + 0.01, 2)) if off.size else 1.0
        finally:
            self._quiet = False
        self._summarise(h)
        self.trajectory_view.show(W_trajectories(h))
        if h.epochs:
            self.curves_view.show(training_curves(h))
        else:
            self.curves_view.clear("no finished epoch, so no curves")
        if h.W_true is not None and np.asarray(h.W_true).shape == W.shape[-2:]:
            self.truth_view.show(W_vs_truth(h))
        else:
            self.truth_view.clear("no ground-truth W* for this run (only synthetic data has one)")
        self.render_W()

    def _summarise(self, h: History) -> None:
        test = h.extra.get("test_metric") or h.final_metrics()
        row = {"strategy": h.strategy, "data": h.config.get("data", "?"), "epochs": h.num_epochs,
               "stopped": h.stopped, **{t: v for t, v in test.items()}}
        if h.extra.get("recovery"):
            row["W_auc"] = h.extra["recovery"]["auc"]
        self.summary.value = html_table([row], caption="test metric" if h.extra.get("test_metric") else
                                        "last validation metric")

    def render_W(self) -> None:
        """Draw the selected run's W for the chosen epoch, stage and view (and the compared run)."""
        if self._quiet:
            return
        try:
            h = self.history() if self.run_select.value else None
        except (ValueError, OSError):
            return                                    # _on_run_change said why and cleared the views
        if h is None or not snapshot_epochs(h):
            return
        epoch = _nearest_epoch(h, self.epoch.value)
        stage = self.stage.value
        kind = self.view.value
        name = self.run_select.value
        heatmap_key = (name, id(h), stage) if kind == "heatmap" and not self.compare_select.value else None
        if heatmap_key is not None and heatmap_key == self._heatmap_key and self._scrub(h, epoch, stage):
            self.shown_run = name
            return
        try:
            if self.compare_select.value:
                other = self.history(self.compare_select.value)
                e2 = _nearest_epoch(other, epoch)
                s = min(max(stage, 0), len(as_matrices(other, e2)) - 1)
                fig = W_side_by_side([h, other], [f"{short_name(name)} (epoch {epoch})",
                                                  f"{short_name(self.compare_select.value)} (epoch {e2})"],
                                     epochs=[epoch, e2], stage=s, kind=kind,
                                     threshold=self.threshold.value, title=f"W, stage {s + 1}: two runs")
            elif kind == "graph":
                s = max(stage, 0)
                fig = W_graph(h, threshold=self.threshold.value, slider=False, epoch=epoch, stage=s,
                              title=f"W of {h.strategy}, stage {s + 1}, epoch {epoch} as a graph")
            elif stage == ALL_STAGES:
                fig = W_heatmaps(h, epoch=epoch, title=self._title(h, epoch, stage))
            else:
                mats = as_matrices(h, epoch)
                fig = W_heatmaps([mats[stage]], module_labels(h, mats[stage].shape[0]),
                                 title=self._title(h, epoch, stage))
        except (ValueError, OSError) as err:
            self.show_message(f"Cannot draw this W: {readable_error(err)}", "error")
            self.W_view.clear(html.escape(f"W of {name} could not be drawn"))
            self.shown_run, self._heatmap_key = None, None
            return
        self.W_view.show(fig)
        self.shown_run = name
        self._heatmap_key = heatmap_key

    def _title(self, h: History, epoch: int, stage: int) -> str:
        if stage == ALL_STAGES:
            return f"W of {h.strategy}, epoch {epoch}" + (" (before training)" if epoch == 0 else "")
        return f"W of {h.strategy}, stage {stage + 1}, epoch {epoch}"

    def _scrub(self, h: History, epoch: int, stage: int) -> bool:
        """The epoch slider on the heatmaps of one run: set only z, the colour range and the title in place
        (no new figure). False when the shown figure does not fit (then it is drawn anew)."""
        try:
            mats = as_matrices(h, epoch)
        except ValueError:
            return False
        mats = mats if stage == ALL_STAGES else mats[stage:stage + 1]
        fw = self.W_view.figure
        if fw is None or len(fw.data) != len(mats) or any(np.shape(t.z) != W.shape for t, W in zip(fw.data, mats)):
            return False
        zmax = max(max(float(np.abs(W).max()) for W in mats), 1e-6)       # as W_heatmaps: one scale for all
        return self.W_view.restyle([dict(z=W, zmin=-zmax, zmax=zmax) for W in mats], self._title(h, epoch, stage))

    def _sync_visibility(self) -> None:
        self.threshold.layout.display = None if self.view.value == "graph" else "none"

    def show_message(self, text: str, level: Level = "info") -> None:
        self.message_text = text
        self.message.value = message_html(text, level) if text else ""

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)
