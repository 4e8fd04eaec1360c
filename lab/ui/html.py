"""Small HTML helpers for panels: message boxes, result tables and the panels' style sheet."""
from __future__ import annotations

import html
from typing import Any, Literal, Sequence

from ..tables import format_value

Level = Literal["info", "success", "warning", "error"]
_COLORS: dict[str, tuple[str, str]] = {          # (background, border)
    "info": ("#eef4fb", "#7aa7d9"),
    "success": ("#eef8ee", "#6bb36b"),
    "warning": ("#fff7e6", "#e0a030"),
    "error": ("#fdecea", "#d9534f"),
}


# Panels must fit JupyterLab's default notebook width (file browser open): status lines wrap instead of
# being cut off (ipywidgets' labels are one line with an ellipsis), tables scroll sideways when too wide.
PANEL_CSS = """
.lab-status.widget-label { white-space: normal; height: auto; min-height: var(--jp-widgets-inline-height);
  line-height: 1.4; overflow-wrap: anywhere; display: flex; align-items: center; }
.lab-table-wrap { max-width: 100%; overflow-x: auto; }
"""


def panel_style_html() -> str:
    """A ``<style>`` element with :data:`PANEL_CSS` (shown once per panel by ``lab.ui.base.panel_style``)."""
    return f"<style>{PANEL_CSS}</style>"


def message_html(text: str, level: Level = "info") -> str:
    """A coloured box with ``text`` (escaped; newlines kept)."""
    if level not in _COLORS:
        raise ValueError(f"level must be one of {list(_COLORS)}, got {level!r}")
    bg, border = _COLORS[level]
    body = html.escape(text).replace("\n", "<br>")
    return (f'<div class="lab-msg lab-msg-{level}" style="background:{bg};border-left:4px solid {border};'
            f'padding:6px 10px;margin:4px 0;white-space:normal">{body}</div>')


def _cell(v: Any, digits: int) -> str:
    return html.escape(format_value(v, digits))


def html_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, digits: int = 3,
               highlight: Sequence[int] = (), caption: str = "") -> str:
    """Rows of dicts as an HTML table; numbers right-aligned; rows in ``highlight`` shown bold."""
    if not rows:
        return "<i>(no results yet)</i>"
    columns = list(columns or rows[0].keys())
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) or r.get(c) is None
                   for r in rows) for c in columns]
    head = "".join(f'<th style="text-align:{"right" if num else "left"};padding:2px 8px">{html.escape(c)}</th>'
                   for c, num in zip(columns, numeric))
    body = []
    for k, r in enumerate(rows):
        weight = "font-weight:bold;" if k in highlight else ""
        cells = "".join(f'<td style="{weight}text-align:{"right" if num else "left"};padding:2px 8px">'
                        f"{_cell(r.get(c), digits)}</td>" for c, num in zip(columns, numeric))
        body.append(f"<tr>{cells}</tr>")
    cap = f'<caption style="caption-side:top;text-align:left">{html.escape(caption)}</caption>' if caption else ""
    return (f'<div class="lab-table-wrap"><table class="lab-table" style="border-collapse:collapse;font-size:13px">'
            f'{cap}<thead><tr style="border-bottom:1px solid #999">{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            '</table></div>')
