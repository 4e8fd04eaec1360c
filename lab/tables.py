"""Plain-text tables for the command line and notebooks."""
from __future__ import annotations

from typing import Any, Sequence


def format_value(v: Any, digits: int = 3) -> str:
    """One table cell: ints with thousands separators, floats to ``digits`` places, None as '-'."""
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, digits: int = 3) -> str:
    """Rows of dicts as an aligned text table (numbers right-aligned)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[format_value(r.get(c), digits) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    def line(vals):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric)).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def format_matrix(W, labels: Sequence[str] | None = None, digits: int = 2) -> str:
    """A square matrix with row/column labels."""
    rows = [[float(v) for v in row] for row in (W.tolist() if hasattr(W, "tolist") else W)]
    labels = list(labels or [str(i) for i in range(len(rows))])
    width = max(max(len(lab) for lab in labels), digits + 4)
    head = " " * width + "  " + "  ".join(lab.rjust(width) for lab in labels)
    body = [lab.rjust(width) + "  " + "  ".join(f"{v:{width}.{digits}f}" for v in row) for lab, row in zip(labels, rows)]
    return "\n".join([head] + body)
