"""The classroom app's pages (``make app``: voila serves ``app/``, one tiny notebook per page, code hidden).

A teacher shows a panel to a class without its code. Each page is one widget:

* :func:`menu_page` - links to the other pages;
* :func:`playground_page` - the coupling playground;
* :class:`InspectorPage` - the W inspector over the saved runs, with a small playground below it, so the page
  works on a machine with no run yet: a Train there saves a run, and the inspector lists and shows it;
* :func:`compression_page` - the compression studio (it trains its reference network on the page).
"""
from __future__ import annotations

import html
import os

import ipywidgets as widgets

from .compress import CompressionPanel
from .inspector import WInspector
from .playground import CouplingPlayground, PlaygroundConfig

PAGES = {                      # notebook in app/ -> (title, what it shows)
    "playground.ipynb": ("Coupling playground", "train coupled sub-modules and watch W learn"),
    "inspector.ipynb": ("W inspector", "replay saved runs epoch by epoch, compare two runs"),
    "compression.ipynb": ("Compression studio", "prune, quantize, share weights, export - and measure each step"),
}
SMALL_RUN_EPOCHS = 5           # the inspector page's own run: a few seconds on 2 cores


def _header() -> widgets.HTML:
    """The link back to the menu (each panel shows its own title)."""
    return widgets.HTML("<div style='margin:0 0 6px 0'><a href='index.ipynb' class='lab-app-menu-link'>"
                        "&larr; all pages</a></div>")


def menu_page() -> widgets.HTML:
    """The menu: one link per page (relative links, so they work under voila's ``/voila/render/``)."""
    items = "".join(f"<li style='margin:6px 0'><a class='lab-app-link' href='{name}'><b>{html.escape(title)}</b></a>"
                    f" - {html.escape(what)}</li>" for name, (title, what) in PAGES.items())
    page = widgets.HTML("<h2 style='margin:0 0 4px 0'>Coupling &amp; Compression Lab</h2>"
                        "<p>Pick a panel. Every page starts its own kernel; runs are saved in the lab's "
                        f"<code>runs/</code> folder, shared with the notebooks.</p><ul>{items}</ul>")
    page.add_class("lab-app-menu")
    return page


def playground_page(config: PlaygroundConfig | None = None) -> widgets.VBox:
    """The coupling playground under the app's header; ``page.panel`` is the playground."""
    panel = CouplingPlayground(config)
    page = widgets.VBox([_header(), panel.ui])
    page.panel = panel
    return page


def compression_page() -> widgets.VBox:
    """The compression studio (reference MLP by default; its Train / load button trains it on the page)."""
    panel = CompressionPanel()
    page = widgets.VBox([_header(), panel.ui])
    page.panel = panel
    return page


class InspectorPage:
    """The W inspector and, below it, a small coupling playground whose runs the inspector lists.

    ``inspector``/``playground`` are the panels; when a playground run ends (done or stopped) the inspector
    re-reads the runs folder and shows that run. With no saved run the page says so and opens the playground.
    """

    def __init__(self, runs_root: str | os.PathLike | None = None, *, epochs: int = SMALL_RUN_EPOCHS):
        self.inspector = WInspector(runs_root)
        config = PlaygroundConfig(epochs=epochs, baselines=(), small_data=True)
        self.playground = CouplingPlayground(config, runs_root=runs_root)
        self.playground.stop_button.observe(self._on_job_end, names="disabled")
        has_runs = bool(self.inspector.histories)
        self.note = widgets.HTML(self._note_html(has_runs))
        self.note.add_class("lab-app-note")
        self.trainer = widgets.Accordion(children=[self.playground.ui], selected_index=None if has_runs else 0)
        self.trainer.set_title(0, "train a small run here")
        self.ui = widgets.VBox([_header(), self.note, self.inspector.ui, self.trainer])
        self.ui.add_class("lab-app-inspector")

    @staticmethod
    def _note_html(has_runs: bool) -> str:
        if has_runs:
            return "Pick a saved run above, or train a new one below: the inspector shows it when it ends."
        return ("<b>No runs yet.</b> Press <b>Train</b> in the small playground below (a few seconds): "
                "the inspector lists the run and shows its W when training ends.")

    def _on_job_end(self, change) -> None:
        if not change["new"]:              # the Stop button was enabled: a job started
            return
        keys = self.inspector.refresh()
        run_dirs = self.playground.run_dirs
        if run_dirs and run_dirs[0].name in keys:
            self.inspector.run_select.value = run_dirs[0].name
        self.note.value = self._note_html(bool(keys))

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)
