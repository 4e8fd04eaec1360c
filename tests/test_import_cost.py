"""Importing the lab stays cheap (issue 14): heavy optional libraries load when first used, not on import.

Checked structurally, never by timing: a fresh interpreter runs the statement and reports its
``sys.modules``. ``import lab.ui`` loads no panel at all (PEP 562 lazy names, ``lab.lazy``); importing every
panel, or building the CLI's help, still loads none of the optional heavy pieces (torchvision's
transforms/ops/datasets ~1.3 s, scipy + scikit-learn ~1 s, the export runtimes, ...).
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.lazy import lazy_exports

ROOT = Path(__file__).resolve().parents[1]

# Each loads in well over 0.1 s (or drags in something that does) and is needed only by some calls.
HEAVY = ("torchvision.transforms", "torchvision.ops", "torchvision.datasets", "torchvision.models", "scipy",
         "sklearn", "onnx", "onnxruntime", "onnxscript", "torchao", "torch_pruning", "executorch",
         "ai_edge_litert", "optuna", "mnist1d", "matplotlib", "pandas", "torch.utils.flop_counter",
         "torch._dynamo", "sympy")


_REPORT = "\nimport json, sys\nprint('MODULES=' + json.dumps(sorted(sys.modules)))\n"
_AS_MAIN = ("import runpy, sys\nsys.argv = {argv!r}\ntry:\n    runpy.run_module({module!r}, run_name='__main__', "
            "alter_sys=True)\nexcept SystemExit as exit_:\n    assert exit_.code in (0, None), exit_.code\n")


def imported_modules(statement: str | None = None, *, module: str | None = None,
                     argv: tuple[str, ...] = ()) -> set[str]:
    """``sys.modules`` of a fresh interpreter after ``statement`` ran, or after ``python -m module *argv``
    (through ``runpy``, as ``-m`` does); run from the repository root with this ``lab`` first on the path."""
    code = statement if module is None else _AS_MAIN.format(argv=[module, *argv], module=module)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code + _REPORT], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = [line for line in result.stdout.splitlines() if line.startswith("MODULES=")]
    assert len(report) == 1, result.stdout[-2000:]
    names = set(json.loads(report[0][len("MODULES="):]))
    assert "lab" in names
    return names


def heavy_in(modules: set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    """The HEAVY modules (or their submodules) among ``modules``, except ``allowed`` ones."""
    return sorted(h for h in HEAVY if h not in allowed and any(m == h or m.startswith(h + ".") for m in modules))


def test_import_lab_and_lab_ui_load_no_panel_and_nothing_heavy():
    modules = imported_modules("import lab, lab.ui")
    assert heavy_in(modules) == []
    assert "torch" not in modules and not any(m.startswith("lab.ui.") for m in modules)


def test_importing_every_panel_loads_no_heavy_optional_library():
    """``from lab.ui import *`` imports every panel; only the tuning panel needs Optuna."""
    modules = imported_modules("from lab.ui import *")
    assert {"lab.ui.playground", "lab.ui.compress", "lab.ui.tuning", "lab.ui.inspector"} <= modules
    assert heavy_in(modules, allowed=("optuna",)) == []


@pytest.mark.parametrize("argv", [["--help"], ["couple", "--help"]])
def test_the_cli_help_loads_nothing_heavy(argv):
    modules = imported_modules(module="lab", argv=tuple(argv))
    assert "lab.cli.couple" in modules
    assert heavy_in(modules) == []


def test_the_checker_sees_a_heavy_import():
    """The reader is not blind: a statement that imports scipy.stats is caught."""
    assert heavy_in(imported_modules("import lab; import scipy.stats")) == ["scipy"]


# --- the lazy names themselves ------------------------------------------------------------------
def test_every_public_name_of_lab_ui_resolves_to_its_module():
    import lab.ui

    for name in lab.ui.__all__:
        defining = importlib.import_module(lab.ui._EXPORTS[name], "lab.ui")
        assert getattr(lab.ui, name) is getattr(defining, name), name
        assert name in dir(lab.ui)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchPanel'"):
        lab.ui.NoSuchPanel  # noqa: B018
    with pytest.raises(ImportError):
        from lab.ui import NoSuchPanel  # noqa: F401


def test_lab_ui_type_checking_imports_match_its_lazy_names():
    """Editors and type checkers read the ``if TYPE_CHECKING:`` imports; they name the same things."""
    import lab.ui

    tree = ast.parse((ROOT / "lab" / "ui" / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    typed = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        base = "." * node.level + (node.module or "")
        for alias in node.names:
            typed[alias.name] = base.replace("..", "lab.", 1) if base.startswith("..") else base
    assert typed == lab.ui._EXPORTS


def test_lazy_exports_load_on_first_use_and_cache(tmp_path, monkeypatch):
    pkg = tmp_path / "lazy_pkg_for_test"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from lab.lazy import lazy_exports\n__getattr__, __dir__ = "
                                     "lazy_exports(__name__, {'VALUE': '.part', 'f': '.part'})\n")
    (pkg / "part.py").write_text("VALUE = 42\ndef f():\n    return VALUE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazy_pkg_for_test as p

    try:
        assert "lazy_pkg_for_test.part" not in sys.modules
        assert sorted(n for n in dir(p) if not n.startswith("_")) == ["VALUE", "f", "lazy_exports"]
        assert p.VALUE == 42 and "lazy_pkg_for_test.part" in sys.modules
        assert vars(p)["VALUE"] == 42                     # cached in the package: no second lookup
        from lazy_pkg_for_test import f
        assert f() == 42
        assert not hasattr(p, "missing")
    finally:
        for name in ("lazy_pkg_for_test", "lazy_pkg_for_test.part"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize("exports", [{"1bad": ".x"}, {"ok": ""}, {"ok": "."}, {"ok": 3}])
def test_lazy_exports_refuse_a_malformed_table(exports):
    with pytest.raises(ValueError, match="need an identifier and a module name"):
        lazy_exports("somewhere", exports)


# --- the benchmark (bench/import_time.py) -------------------------------------------------------
def test_the_import_benchmark_runs(capsys):
    from bench import import_time

    result = import_time.main(["--runs", "1", "--only", "import lab.ui"])
    assert list(result) == [("import lab.ui", "this tree")]
    assert result["import lab.ui", "this tree"]["wall_median_s"] > 0
    assert "| `import lab.ui` | this tree |" in capsys.readouterr().out


def test_the_benchmark_names_the_heavy_imports_lab_code_makes():
    """A hand-made ``-X importtime`` report (children first, two spaces per level) read back."""
    from bench.import_time import offenders

    rows = [(3, 900, 900, "torch._C"), (2, 100, 1000, "torch"), (1, 5, 1005, "lab.formats.packed"),
            (2, 40, 40, "scipy._lib"), (1, 60, 100, "scipy.stats"), (0, 10, 1115, "lab.coupling.recovery")]
    packages, edges = offenders(rows)
    assert packages[0] == ("torch", 1.0) and ("scipy", 0.1) in packages
    assert edges == [("lab.formats.packed", "torch", 1.0), ("lab.coupling.recovery", "scipy.stats", 0.1)]
