"""Your own copies of the notebooks: ``make lab`` opens ``my-notebooks/``, never the committed ``notebooks/``.

JupyterLab writes to every notebook it opens (kernel metadata, outputs, autosaves). So ``make lab`` first runs
``python -m lab.workspace``: it copies each notebook of ``notebooks/`` that ``my-notebooks/`` lacks - once; a
copy you have edited is never overwritten - and JupyterLab serves ``my-notebooks/``.

    python -m lab.workspace                              # copy what is missing (what `make lab` does)
    python -m lab.workspace --reset 01_coupling_playground   # a clean copy of one notebook; yours is kept
                                                         # beside it as 01_coupling_playground.<time>.ipynb
    make reset-notebook NB=01_coupling_playground        # the same through make
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
ORIGINALS = CHECKOUT / "notebooks"
WORKSPACE = CHECKOUT / "my-notebooks"


def copy_missing(source: Path = ORIGINALS, target: Path = WORKSPACE) -> list[Path]:
    """Copy every ``*.ipynb`` of ``source`` that ``target`` lacks; never touch an existing copy.

    Returns the copies made (empty when all were there). ``target`` is created if needed.
    """
    source, target = Path(source), Path(target)
    originals = sorted(source.glob("*.ipynb"))
    if not originals:
        raise ValueError(f"no notebooks (*.ipynb) in {source}")
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for original in originals:
        copy = target / original.name
        if not copy.exists():
            _copy_atomically(original, copy)
            copied.append(copy)
    return copied


def reset(name: str, source: Path = ORIGINALS, target: Path = WORKSPACE) -> tuple[Path, Path | None]:
    """Replace your copy of notebook ``name`` (with or without ``.ipynb``) by a clean one.

    Your copy is first renamed to ``<name>.<YYYYmmdd-HHMMSS>.ipynb`` beside it (nothing is lost).
    Returns (the clean copy, where your copy went or None when there was none).
    """
    source, target = Path(source), Path(target)
    stem = Path(name).name.removesuffix(".ipynb")
    original = source / f"{stem}.ipynb"
    if not stem or not original.is_file():
        known = ", ".join(p.stem for p in sorted(source.glob("*.ipynb")))
        raise ValueError(f"no notebook {name!r} in {source}; choose from: {known}")
    target.mkdir(parents=True, exist_ok=True)
    copy, kept = target / original.name, None
    if copy.exists():
        kept = target / f"{stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
        k = 1
        while kept.exists():
            k += 1
            kept = target / f"{stem}.{time.strftime('%Y%m%d-%H%M%S')}-{k}.ipynb"
        copy.rename(kept)
    _copy_atomically(original, copy)
    return copy, kept


def _copy_atomically(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.workspace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ORIGINALS, help="the committed notebooks (default: %(default)s)")
    parser.add_argument("--target", type=Path, default=WORKSPACE, help="your working copies (default: %(default)s)")
    parser.add_argument("--reset", metavar="NOTEBOOK", default=None,
                        help="replace your copy of this notebook by a clean one (yours is kept, renamed; "
                             "default: only copy the notebooks you lack)")
    args = parser.parse_args(argv)
    try:
        if args.reset is not None:
            copy, kept = reset(args.reset, args.source, args.target)
            print(f"clean copy: {copy}" + (f" (yours is kept as {kept.name})" if kept else ""))
        else:
            copied = copy_missing(args.source, args.target)
            print(f"your notebooks: {args.target}/ (" + (f"copied {', '.join(p.name for p in copied)}"
                                                          if copied else "nothing new to copy") + ")")
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
