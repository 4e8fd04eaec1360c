"""``FigureView``: a place in a panel that shows one plotly figure and can be updated from any thread.

A view owns one :class:`~lab.ui.plotly_widget.LabFigureWidget` for its whole life: a new figure is
written into it in place (traces patched, or replaced when their types differ), and ``clear`` only
hides it. Nothing is closed and re-opened, so an update never re-sends a widget, the browser never
sends to a closed one ("No such comm"), and an executed notebook stores one widget per view.
"""
from __future__ import annotations

import threading
from typing import Any, Mapping

import ipywidgets as widgets
import plotly.graph_objects as go

from .plotly_widget import LabFigureWidget


class FigureView:
    """Shows a ``go.Figure`` as a ``FigureWidget`` inside ``box``.

    ``show(fig)`` updates the widget in place: trace by trace when the new figure has the same
    trace types (so a live heatmap does not flicker), else by replacing its traces and layout.
    ``patch`` sets a few properties of a few traces (a moved marker). ``figure`` is the figure
    shown (None after ``clear``; tests read its data);
    ``updates`` counts calls of ``show``. A figure wider than the notebook scrolls sideways
    inside ``box`` instead of being cut off.
    """

    def __init__(self, fig: go.Figure | None = None, css_class: str | None = None, placeholder: str = ""):
        self.box = widgets.Box(layout=widgets.Layout(min_height="40px", max_width="100%", overflow="auto"))
        self.box.add_class("lab-figure-box")        # scrolls sideways on purpose (the browser test knows it)
        if css_class:
            self.box.add_class(css_class)
        self.figure: go.FigureWidget | None = None
        self._widget: LabFigureWidget | None = None     # kept for the view's life, hidden by clear()
        self._note: widgets.HTML | None = None          # the text clear() shows, one widget reused
        self.updates = 0
        self._lock = threading.Lock()
        if fig is not None:
            self.show(fig)
        elif placeholder:
            self.clear(placeholder)

    def show(self, fig: go.Figure, fields: tuple[str, ...] | None = None) -> go.FigureWidget:
        """Show ``fig``. With ``fields`` (e.g. ("x", "y")) and the same traces by name, only those
        trace properties and the title are copied - much cheaper for live updates."""
        with self._lock:
            self.updates += 1
            fw = self._widget                    # shown, or hidden by clear(): reused either way
            if fw is not None and fields and [(t.type, t.name) for t in fw.data] == [(t.type, t.name) for t in fig.data]:
                with fw.batch_update():
                    for old, new in zip(fw.data, fig.data):
                        for f in fields:
                            old[f] = new[f]
                    fw.layout.title.text = fig.layout.title.text
            elif fw is not None and [t.type for t in fw.data] == [t.type for t in fig.data]:
                with fw.batch_update():
                    for old, new in zip(fw.data, fig.data):
                        old.update(new.to_plotly_json(), overwrite=True)
                    fw.layout = fig.layout
            elif fw is None:
                fw = self._widget = LabFigureWidget(data=fig.data, layout=fig.layout)     # no frames
            else:                                # other trace types: replace them in the same widget
                fw.data = ()
                fw.add_traces(list(fig.data))
                fw.layout = fig.layout
            if self.figure is not fw:
                self.figure = fw
                self.box.children = (fw,)
            return fw

    def patch(self, traces: Mapping[int, Mapping[str, Any]], layout: Mapping[str, Any] | None = None) -> bool:
        """Set only the given properties: ``traces[k]`` for trace k (e.g. ``{1: {"x": [0.8]}}``), and
        ``layout`` (plotly's "magic underscore" paths, e.g. ``{"yaxis2.range": [2, 5]}``), in one
        message. False (nothing changed) when no figure is shown or a trace index does not exist."""
        with self._lock:
            fw = self.figure
            if fw is None or any(not 0 <= k < len(fw.data) for k in traces):
                return False
            self.updates += 1
            with fw.batch_update():
                for k, props in traces.items():
                    fw.data[k].update(dict(props))
                if layout:
                    fw.layout.update(dict(layout))
            return True

    def restyle(self, values: list[dict], title: str | None = None) -> bool:
        """Set trace properties in place (``values[k]`` for trace k) and the title; False if the
        figure has a different number of traces (then call ``show``)."""
        with self._lock:
            fw = self.figure
            if fw is None or len(fw.data) != len(values):
                return False
            self.updates += 1
            with fw.batch_update():
                for trace, props in zip(fw.data, values):
                    trace.update(props)
                if title is not None:
                    fw.layout.title.text = title
            return True

    def snapshot(self) -> go.Figure | None:
        """The figure shown now as a plain ``go.Figure`` (for ``.show()`` in a static notebook), or None."""
        with self._lock:
            return go.Figure(self.figure.to_dict()) if self.figure is not None else None

    def clear(self, text: str = "") -> None:
        """Hide the figure and show ``text`` (HTML) instead; the widget is kept for the next ``show``."""
        with self._lock:
            self.figure = None
            if not text:
                self.box.children = ()
                return
            if self._note is None:
                self._note = widgets.HTML()
            self._note.value = f"<i>{text}</i>"
            self.box.children = (self._note,)
