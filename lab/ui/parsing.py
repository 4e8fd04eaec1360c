"""Text the panels' text fields accept, parsed into values (ValueError says what was expected)."""
from __future__ import annotations


def parse_floats(text: str, what: str) -> tuple[float, ...] | None:
    """``"1, 0.5"`` -> (1.0, 0.5); empty text -> None."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{what}: expected numbers separated by commas (e.g. 1, 0.5), got {text!r}") from None


def parse_options(text: str) -> tuple[tuple[str, float], ...]:
    """``"alpha=1.5, temperature=2"`` -> (("alpha", 1.5), ("temperature", 2.0)); empty text -> ()."""
    out = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep or not key.strip().isidentifier():
                raise ValueError
            out.append((key.strip(), float(value)))
        except ValueError:
            raise ValueError(f"weighting options: expected name=number pairs separated by commas "
                             f"(e.g. alpha=1.5), got {part!r}") from None
    return tuple(out)


def parse_modules(text: str) -> str | tuple[int, ...]:
    """``"all"`` (or empty) -> "all"; ``"0, 2"`` -> (0, 2)."""
    text = text.strip().lower()
    if text in ("", "all"):
        return "all"
    try:
        values = parse_floats(text, "attacked modules")
    except ValueError:
        values = None
    if values is None or any(v != int(v) or v < 0 for v in values):
        raise ValueError(f"attacked modules: 'all' or module numbers >= 0 separated by commas (e.g. 0, 2), "
                         f"got {text!r}")
    return tuple(int(v) for v in values)
