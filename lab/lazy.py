"""Lazy re-exports for a package's ``__init__`` (PEP 562): a public name loads its submodule on first use.

    # lab/ui/__init__.py
    __getattr__, __dir__ = lazy_exports(__name__, {"CouplingPlayground": ".playground", ...})

``from lab.ui import CouplingPlayground`` and ``lab.ui.CouplingPlayground`` work as before, but ``import lab.ui``
no longer imports every panel and what stands behind them (torch, plotly, optuna, ...): a notebook pays only
for the panels it uses. The first lookup caches the value in the package, so later ones are plain attribute
reads (and ``monkeypatch.setattr(package, name, ...)`` replaces it as usual).
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` (its ``__name__``) where ``exports`` maps each public
    name to the module that defines it (relative to ``package``, e.g. ``".playground"``, or absolute).

    An unknown name raises AttributeError as for any module (so ``hasattr`` and ``from x import y`` behave);
    an ImportError of the defining module propagates unchanged.
    """
    exports = dict(exports)
    for name, module in exports.items():
        if not (isinstance(name, str) and name.isidentifier() and isinstance(module, str) and module.strip(".")):
            raise ValueError(f"lazy export {name!r} -> {module!r}: need an identifier and a module name")

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
