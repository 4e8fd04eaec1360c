"""The shell of a tabbed panel and the interface of its tabs.

The shell (:class:`TabbedPanel`) shows the tabs above one status line (Stop, progress bar, status)
and a message area, and runs one job at a time in the background: a tab's button calls
``start(action)``, the shell asks that tab to ``prepare()`` its job (a readable refusal otherwise)
and runs it in a thread (``run(action)`` waits). It also passes the model the Model tab loaded to
every tab (``use_model`` -> ``Tab.on_model``).

A tab (:class:`Tab`) is a class with a ``title``, a ``widget`` (its page) and optionally a job:
``action`` (the name ``start``/``run`` take), ``verb`` (for "Cannot <verb>: reason") and
``prepare()``. Adding a tab to a panel is ``panel.add_tab(MyTab(panel))``; it is numbered in order.
"""
from __future__ import annotations

from typing import TypeVar

import ipywidgets as widgets

from ..base import Job, TrainingPanel, panel_style, wrap_row
from ..compress_runs import LoadedModel


class Tab:
    """One tab of a :class:`TabbedPanel`: ``title``, ``widget`` (its page), optionally a job.

    ``host`` is the shell: tabs write to ``host.status``/``host.progress``, ``host.show_message``,
    and find the loaded model with ``host.require_model()``.
    """

    title = "tab"
    action: str | None = None        # the job's name for host.start()/run(); None: no job

    def __init__(self, host: "TabbedPanel"):
        self.host = host
        self.widget: widgets.Widget = widgets.VBox([])

    @property
    def verb(self) -> str:
        """What the job does, for a refusal: "Cannot <verb>: <reason>"."""
        return self.action or "run"

    def prepare(self) -> Job:
        """Read and check the tab's widgets; return the job (``job(stop)``). ValueError: refused, with why."""
        raise NotImplementedError(f"the {self.title} tab has no job")

    def on_model(self, loaded: LoadedModel) -> None:
        """A new model was loaded: forget what belonged to the previous one."""


T = TypeVar("T", bound=Tab)


class TabbedPanel(TrainingPanel):
    """A training panel made of tabs (see the module docstring). ``loaded``: the model in use."""

    title = "Tabbed panel"
    header = ""

    def __init__(self, *, runs_root=None, update_interval: float = 0.25, num_threads: int | None = 1):
        super().__init__(runs_root=runs_root, update_interval=update_interval, num_threads=num_threads)
        self.loaded: LoadedModel | None = None
        self.tab_list: list[Tab] = []
        self._actions: dict[str, Tab] = {}
        self._action: str | None = None
        self.tabs = widgets.Tab(children=[])
        self.controls = wrap_row([self.stop_button, self.progress, self.status, panel_style()])
        header = [widgets.HTML(f"<h3 style='margin:4px 0'>{self.header}</h3>")] if self.header else []
        self.ui = widgets.VBox([*header, self.tabs, self.controls, self.message])

    def add_tab(self, tab: T) -> T:
        """Append ``tab`` (titled "<number> <title>"); its ``action`` becomes a job of the panel."""
        if tab.action is not None and tab.action in self._actions:
            raise ValueError(f"two tabs run the action {tab.action!r}")
        self.tab_list.append(tab)
        self.tabs.children = (*self.tabs.children, tab.widget)
        self.tabs.set_title(len(self.tab_list) - 1, f"{len(self.tab_list)} {tab.title}")
        if tab.action is not None:
            self._actions[tab.action] = tab
        return tab

    # --- the model every tab works on ----------------------------------------------------------------
    def use_model(self, loaded: LoadedModel) -> None:
        """Make ``loaded`` the panel's model and tell every tab."""
        self.loaded = loaded
        for tab in self.tab_list:
            tab.on_model(loaded)

    def require_model(self) -> LoadedModel:
        if self.loaded is None:
            raise ValueError("there is no model yet: train a reference network or load a saved run first "
                             "(tab 1 Model, Train / load)")
        return self.loaded

    # --- jobs -------------------------------------------------------------------------------------------
    def start(self, action: str | None = None) -> bool:
        """A tab's button: run its job (``action``; default: the first tab's) in the background."""
        self._action = self._check_action(action)
        return super().start()

    def run(self, action: str | None = None) -> bool:
        """Like :meth:`start` but waits in the calling thread; True when it ran without error."""
        self._action = self._check_action(action)
        return super().run()

    def _check_action(self, action: str | None) -> str:
        if action is None and self._actions:
            return next(iter(self._actions))
        if action not in self._actions:
            raise ValueError(f"action must be one of {list(self._actions)}, got {action!r}")
        return action

    def prepare(self) -> Job:
        return self._actions[self._action].prepare()

    def _begin(self) -> Job | None:
        job = super()._begin()
        if job is None and self.message_text.startswith("Cannot train with these settings: "):
            self.show_message(f"Cannot {self._actions[self._action].verb}: {self.error}", "error")
        return job
