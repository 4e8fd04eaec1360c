"""``python -m lab <command>``: the lab's command line.

Each command lives in its own module with ``add_parser(subparsers)`` (which
sets ``func``) so commands can be added without touching the others.
"""
from __future__ import annotations

import argparse
import sys

from . import compress, couple, deploy

COMMANDS = [couple, compress, deploy]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="Coupling & Compression Lab")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
