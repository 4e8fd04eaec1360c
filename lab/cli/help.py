"""``--help`` that states every option's default: the CLI's commands build their parsers with it."""
from __future__ import annotations

import argparse
from typing import Any


def format_default(value: Any) -> str:
    """A default as a user would type it: tuples as ``64,64``, flags as ``off``/``on``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(format_default(v) for v in value)
    return str(value)


class DefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and ends every option's help with ``(default: …)``.

    An option whose default is None explains in its own help what leaving it out means
    (its text then already says "default"); tests check that every option does one or the other.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.default in (None, argparse.SUPPRESS)
                or "default" in text.lower()):
            return text
        shown = format_default(action.default).replace("%", "%%")      # help strings are %-formatted
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


def help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help line ``parser`` prints for ``action`` (for tests and docs)."""
    return parser._get_formatter()._expand_help(action)
