"""The TuningPanel's settings form: space and its ranges, objectives, sampler, trials, workers, storage.

    form = TuningForm(space="mlp_compression")
    form.ranges.value = "sparsity.1 = 0.9:0.99\\nprune_steps = 4"   # only the lines that change something
    config, workers = form.read()          # a validated lab.tune.TuneConfig and the local worker count

The ranges box starts with one line per key (``key = range``, as ``space.rows()`` shows them); a line
narrows or fixes that key (``0.5:0.9``, one value, or ``a|b|c`` for choices). Unknown keys and empty
ranges are refused by ``SearchSpace.with_ranges`` with what is allowed.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..tune.catalog import SPACES, build_space
from ..tune.objectives import DEFAULT_OBJECTIVES, OBJECTIVES
from ..tune.spaces import SearchSpace
from ..tune.storage import default_storage
from ..tune.study import SAMPLERS, TuneConfig
from .base import DESCRIPTION_STYLE, field_layout, wrap_row
from .html import html_table

MAX_WORKERS = 16


def parse_ranges(text: str) -> dict[str, str]:
    """``"key = range"`` lines (blank lines and ``#`` comments ignored) -> {key: range}."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"ranges line {n}: write 'key = range' (e.g. sparsity.1 = 0.9:0.99), got {line!r}")
        out[key.strip()] = value.strip()
    return out


def ranges_text(space: SearchSpace) -> str:
    """One ``key = range`` line per param, in the syntax ``parse_ranges`` reads back."""
    lines = []
    for p in space.params:
        value = "|".join(str(c) for c in p.choices) if p.kind == "categorical" else \
            (f"{p.low:g}" if p.low == p.high else f"{p.low:g}:{p.high:g}")
        lines.append(f"{p.name} = {value}")
    return "\n".join(lines)


class TuningForm:
    """The settings widgets (see the module docstring); ``widget`` lays them out."""

    def __init__(self, space: str = "mlp_compression", *, trials: int = 20, workers: int = 1, seed: int = 0,
                 objectives: tuple[str, ...] = DEFAULT_OBJECTIVES, sampler: str = "nsga2", limit: int | None = None,
                 storage: str | None = None, study: str | None = None, runs_root=None):
        s = DESCRIPTION_STYLE
        wide = field_layout          # one Layout per widget: its width, narrower when the notebook is
        self.runs_root = runs_root
        self.space = widgets.Dropdown(options=list(SPACES), value=space, description="space", style=s, layout=wide())
        self.limit = widgets.BoundedIntText(value=limit or 0, min=0, max=1797, description="digits subset",
                                            tooltip="0: all 1,797 digits; else a seeded subset", style=s, layout=wide())
        self.ranges = widgets.Textarea(description="ranges", style=s, layout=field_layout("520px", height="190px"))
        self.space_help = widgets.HTML()
        self.objectives = widgets.SelectMultiple(options=list(OBJECTIVES), value=tuple(objectives), rows=4,
                                                 description="objectives", style=s, layout=wide())
        self.sampler = widgets.Dropdown(options=[(f"{k}: {v}", k) for k, v in SAMPLERS.items()], value=sampler,
                                        description="sampler", style=s, layout=wide())
        self.seed = widgets.IntText(value=seed, description="seed", style=s, layout=wide())
        self.trials = widgets.BoundedIntText(value=trials, min=1, max=100_000, description="trials (total)", style=s,
                                             layout=wide())
        self.workers = widgets.BoundedIntText(value=workers, min=1, max=MAX_WORKERS, description="local workers",
                                              style=s, layout=wide())
        self.storage = widgets.Text(value=storage or default_storage(runs_root), description="storage", style=s,
                                    layout=wide("640px"),
                                    tooltip="a .db/.sqlite or .journal file, or postgresql://user@host/db")
        self.study = widgets.Text(value=study or space, description="study name", style=s, layout=wide())
        self._auto_study = study is None
        self.space.observe(lambda _: self._on_space(), names="value")
        self.study.observe(lambda change: self._study_edited(change), names="value")
        self._on_space()
        self.widget = widgets.VBox([
            wrap_row([widgets.VBox([self.space, self.limit, self.objectives, self.sampler, self.seed]),
                          widgets.VBox([self.trials, self.workers, self.study])]),
            self.storage, wrap_row([self.ranges, self.space_help])])

    def _on_space(self) -> None:
        space = SPACES[self.space.value]
        self.ranges.value = ranges_text(space)
        self.space_help.value = html_table(space.rows(), columns=["key", "help"], caption=space.description)
        if self._auto_study:
            self._setting_study = True
            self.study.value = space.name
            self._setting_study = False

    def _study_edited(self, change) -> None:
        if not getattr(self, "_setting_study", False):
            self._auto_study = False

    def read_space(self) -> SearchSpace:
        return build_space(self.space.value, parse_ranges(self.ranges.value), limit=self.limit.value or None)

    def read(self) -> tuple[TuneConfig, int]:
        """(TuneConfig, local workers) from the widgets; ValueError with the reason for bad settings."""
        if not self.objectives.value:
            raise ValueError(f"choose at least one objective from {list(OBJECTIVES)}")
        objectives = tuple(o for o in OBJECTIVES if o in self.objectives.value)
        config = TuneConfig(self.read_space(), objectives=objectives, sampler=self.sampler.value, seed=self.seed.value,
                            trials=self.trials.value, study=self.study.value.strip() or None,
                            storage=self.storage.value.strip() or None)
        return config, int(self.workers.value)
