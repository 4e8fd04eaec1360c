"""``python -m lab <command>``: the lab's command line.

Each command lives in its own module with ``add_parser(subparsers)`` (which
sets ``func``) so commands can be added without touching the others.

Errors: every expected failure - bad options (argparse), bad settings (``ValueError``, which
includes ``NonFiniteLossError``/``DivergenceError``), missing or unreadable files (``OSError``)
- ends the command with exit code 2 and one line on stderr, ``error: <what is wrong>``; never a
traceback. Commands check their settings before any training starts. Ctrl-C exits with 130.
"""
from __future__ import annotations

import argparse
import sys

from . import compress, couple, deploy, detect, tune

COMMANDS = [couple, compress, tune, deploy, detect]
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)


def one_line(text: str) -> str:
    """``text`` with its line breaks and runs of spaces folded into single spaces."""
    return " ".join(str(text).split())


class LabArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (``error: <prog>: <message>``) and exits 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = LabArgumentParser(prog="python -m lab", description="Coupling & Compression Lab")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns its exit code (0 done, 2 bad input or an expected error, 130 interrupted)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:           # --help (0) or a usage error (2, already printed as one line)
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    try:
        return int(args.func(args) or 0)
    except EXPECTED_ERRORS as err:
        print(f"error: {one_line(err) or type(err).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
