"""``FigureView``: a place in a panel that shows one plotly figure and can be updated from any thread."""
from __future__ import annotations

import threading

import ipywidgets as widgets
import plotly.graph_objects as go


class FigureView:
    """Shows a ``go.Figure`` as a ``FigureWidget`` inside ``box``.

    ``show(fig)`` updates the widget in place when the new figure has the same
    trace types (so a live heatmap does not flicker) and swaps in a new widget
    otherwise. ``figure`` is the current FigureWidget (tests read its data);
    ``updates`` counts calls of ``show``. A figure wider than the notebook scrolls sideways
    inside ``box`` instead of being cut off.
    """

    def __init__(self, fig: go.Figure | None = None, css_class: str | None = None, placeholder: str = ""):
        self.box = widgets.Box(layout=widgets.Layout(min_height="40px", max_width="100%", overflow="auto"))
        self.box.add_class("lab-figure-box")        # scrolls sideways on purpose (the browser test knows it)
        if css_class:
            self.box.add_class(css_class)
        self.figure: go.FigureWidget | None = None
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
            fw = self.figure
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
            else:
                old, fw = fw, go.FigureWidget(go.Figure(data=fig.data, layout=fig.layout))   # no frames
                self.figure = fw
                self.box.children = (fw,)
                _close(old)
            return fw

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
        """Remove the figure and show ``text`` (HTML) instead."""
        with self._lock:
            old, self.figure = self.figure, None
            self.box.children = (widgets.HTML(f"<i>{text}</i>"),) if text else ()
            _close(old)


def _close(fw: go.FigureWidget | None) -> None:
    """Close a replaced FigureWidget: each open one holds ~5 MB of state (plotly.js) in the kernel and the
    browser, and would be saved with the notebook."""
    if fw is not None:
        fw.close()
