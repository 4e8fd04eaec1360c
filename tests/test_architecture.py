"""The lab's shape, checked from the source: no import cycles, layers import only downward, core never
imports the UI, the CLI never imports the UI, and no file in ``lab/`` passes 400 lines.

Imports are read with ``ast`` (nothing is imported): top-level and function-local ``import`` /
``from ... import`` statements, relative imports resolved against the importing module's package.
Imports under ``if TYPE_CHECKING:`` only serve type hints and are left out. ``from pkg import name``
counts as an import of ``pkg.name`` when that is a module of the package, else of ``pkg``.

Every rule's checker is also run on a tiny fake package written to ``tmp_path`` with a known
violation, so a checker that sees nothing cannot pass silently.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400

# Files over MAX_LINES that phase 2 of issue 8 splits (one controller per tab / panel). Remove an entry
# when its file is split: the test fails on an entry that is no longer needed.
TOO_LONG_FOR_NOW: set[str] = set()

# Bottom to top; a module may import its own layer and the ones below, never one above.
# The longest matching prefix decides a module's layer; every lab module must match one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("lab", "lab.settings", "lab.validation", "lab.tables", "lab.atomic", "lab.formats", "lab.seeding",
     "lab.workspace", "lab.lazy"),  # plain utilities
    ("lab.data",),
    ("lab.models", "lab.coupling", "lab.weighting"),
    ("lab.train", "lab.train_schedule", "lab.metrics", "lab.history", "lab.checkpoint", "lab.runs", "lab.divergence"),
    ("lab.cost", "lab.counting", "lab.timing"),                                             # the cost model
    ("lab.compress", "lab.deploy", "lab.transfer", "lab.adversarial", "lab.export_report"),  # primitives
    ("lab.compare", "lab.benchmarks", "lab.tune", "lab.viz", "lab.result_tables", "lab.robust_curves",
     "lab.defaults", "lab.detection"),  # runners, figures, the default experiment
    ("lab.exercises",),  # self-checking exercises: read runners' and primitives' results
    ("lab.ui", "lab.cli", "lab.__main__"),
)
CORE_MUST_NOT_IMPORT = ("lab.ui", "lab.cli", "bench", "tests")


# --- the checkers -------------------------------------------------------------------------------
def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _within_any(name: str, prefixes: Iterable[str]) -> bool:
    return any(_within(name, p) for p in prefixes)


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``) by dotted name; a package by its ``__init__``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, except those in the body of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(path: Path, module: str, is_package: bool, known: Iterable[str] = ()) -> set[str]:
    """Absolute dotted names ``module`` (the file at ``path``) imports; relative imports resolved.

    ``from X import n`` gives ``X.n`` when that is in ``known`` (a module), else ``X``.
    """
    known = set(known)
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        if node.level:
            parts = package.split(".") if package else []
            if node.level - 1 > len(parts):
                raise ValueError(f"{path}: relative import beyond the top package")
            base_parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            full = f"{base}.{alias.name}" if base else alias.name
            out.add(full if full in known else base)
    out.discard("")
    return out


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """{module: names it imports} for every module of ``package``; names inside the package are reduced
    to the module that defines them (the longest known prefix)."""
    files = module_files(root, package)
    graph = {}
    for module, path in files.items():
        targets = set()
        for name in imported_names(path, module, path.name == "__init__.py", files):
            if _within(name, package):
                while name not in files and "." in name:
                    name = name.rpartition(".")[0]
            targets.add(name)
        graph[module] = targets
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of modules that import each other (Tarjan), sorted; a self-import counts."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:              # recursion depth = longest import chain: a few dozen
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def forbidden_imports(graph: Mapping[str, set[str]], sources: Sequence[str], targets: Sequence[str],
                      exempt: Sequence[str] = ()) -> list[str]:
    """"a -> b" for each module a under ``sources`` (and not under ``exempt``) importing b under ``targets``."""
    return sorted(f"{a} -> {b}" for a, names in graph.items()
                  if _within_any(a, sources) and not _within_any(a, exempt)
                  for b in names if _within_any(b, targets))


def layer_of(module: str, layers: Sequence[Sequence[str]]) -> int:
    """Index of the layer whose longest prefix matches ``module``; ValueError if none does.

    A prefix matches the module of that name and its submodules; a top-level name ("lab") matches
    only itself, so a new module of the package must be given a layer.
    """
    best, best_len = None, -1
    for k, prefixes in enumerate(layers):
        for p in prefixes:
            if (_within(module, p) if "." in p else module == p) and len(p) > best_len:
                best, best_len = k, len(p)
    if best is None:
        raise ValueError(f"module {module} belongs to no layer: add it to LAYERS")
    return best


def upward_imports(graph: Mapping[str, set[str]], layers: Sequence[Sequence[str]], package: str) -> list[str]:
    """"a (layer i) -> b (layer j)" for every import of a module of ``package`` from a higher layer."""
    out = []
    for a, names in sorted(graph.items()):
        la = layer_of(a, layers)
        for b in sorted(names):
            if _within(b, package) and (lb := layer_of(b, layers)) > la:
                out.append(f"{a} (layer {la}) -> {b} (layer {lb})")
    return out


def long_files(root: Path, package: str, limit: int = MAX_LINES) -> dict[str, int]:
    """{path relative to root: line count} of the package's .py files with more than ``limit`` lines."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out[path.relative_to(root).as_posix()] = n
    return out


# --- the rules on the lab ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab_graph() -> dict[str, set[str]]:
    return import_graph(ROOT, "lab")


def test_the_graph_sees_the_labs_imports(lab_graph):
    """The reader is not blind: known imports of each kind are in the graph."""
    assert "lab.train" in lab_graph["lab.compare"]                       # from .train import ...
    assert "lab.compress.prune" in lab_graph["lab.compress.recipe"]     # from .prune import ...
    assert "lab.coupling.system" in lab_graph["lab.coupling"]            # a package's re-exports
    assert "lab.cost" in lab_graph["lab.compress.prune"]                 # from ..cost import ...
    assert "lab.runs" in lab_graph["lab.cli.compress"]                   # a function-local import
    assert "lab.adversarial" not in lab_graph["lab.train"]               # under TYPE_CHECKING only


def test_no_import_cycles_in_lab(lab_graph):
    assert import_cycles(lab_graph) == []


def test_core_never_imports_ui_cli_bench_or_tests(lab_graph):
    front_ends = ["lab.ui", "lab.cli", "lab.__main__"]
    assert forbidden_imports(lab_graph, ["lab"], CORE_MUST_NOT_IMPORT, exempt=front_ends) == []


def test_the_cli_never_imports_the_ui(lab_graph):
    assert forbidden_imports(lab_graph, ["lab.cli"], ["lab.ui"]) == []


def test_layers_import_only_downward(lab_graph):
    assert upward_imports(lab_graph, LAYERS, "lab") == []


@pytest.mark.parametrize("lower, upper", [("lab.cost", "lab.compress"), ("lab.counting", "lab.compress"),
                                          ("lab.adversarial", "lab.compare"), ("lab.adversarial", "lab.train"),
                                          ("lab.train", "lab.adversarial"), ("lab.train", "lab.compare")])
def test_the_knots_of_issue_8_stay_untied(lab_graph, lower, upper):
    """The imports issue 8 removed stay removed (train may name AdversarialTraining in type hints, under
    TYPE_CHECKING, but never import it)."""
    assert forbidden_imports(lab_graph, [lower], [upper]) == []


def test_no_file_in_lab_passes_400_lines():
    too_long = long_files(ROOT, "lab")
    assert sorted(set(too_long) - TOO_LONG_FOR_NOW) == [], f"split these files: {too_long}"
    stale = sorted(TOO_LONG_FOR_NOW - set(too_long))
    assert stale == [], f"these files are short enough now; remove them from TOO_LONG_FOR_NOW: {stale}"


# --- the checkers on fake packages with known faults --------------------------------------------
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_checker_finds_a_top_level_cycle(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n",
                               "pkg/b.py": "import pkg.a\n", "pkg/c.py": "from . import a\n"})
    assert import_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b"]]


def test_checker_finds_a_cycle_through_a_function_local_relative_import(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "",
                               "pkg/sub/x.py": "from ..y import f\n",
                               "pkg/y.py": "def f():\n    from .sub.x import g\n    return g\n"})
    graph = import_graph(root, "pkg")
    assert graph["pkg.sub.x"] == {"pkg.y"} and graph["pkg.y"] == {"pkg.sub.x"}
    assert import_cycles(graph) == [["pkg.sub.x", "pkg.y"]]


def test_checker_finds_a_package_that_imports_itself_through_a_submodule(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "from .a import A\nX = 1\n", "pkg/a.py": "from . import X\n"})
    assert import_cycles(import_graph(root, "pkg")) == [["pkg", "pkg.a"]]


def test_checker_leaves_out_type_checking_imports_but_keeps_their_else(tmp_path):
    guarded = ("from typing import TYPE_CHECKING\nimport typing\nif TYPE_CHECKING:\n    from .b import B\n"
               "if typing.TYPE_CHECKING:\n    from . import b\nelse:\n    from . import c\n")
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": guarded, "pkg/b.py": "from .a import A\n",
                               "pkg/c.py": "from .a import A\n"})
    graph = import_graph(root, "pkg")
    assert "pkg.b" not in graph["pkg.a"]
    assert import_cycles(graph) == [["pkg.a", "pkg.c"]]


def test_checker_finds_core_importing_the_ui_and_the_cli_importing_the_ui(tmp_path):
    root = _package(tmp_path, {"lab/__init__.py": "", "lab/ui/__init__.py": "", "lab/ui/panel.py": "",
                               "lab/cli/__init__.py": "from ..ui.panel import Panel\n",
                               "lab/core.py": "def f():\n    import bench.x\n    from .ui import panel\n",
                               "lab/ok.py": "import torch\n"})
    graph = import_graph(root, "lab")
    assert forbidden_imports(graph, ["lab"], CORE_MUST_NOT_IMPORT, exempt=["lab.ui", "lab.cli"]) == [
        "lab.core -> bench.x", "lab.core -> lab.ui.panel"]
    assert forbidden_imports(graph, ["lab.cli"], ["lab.ui"]) == ["lab.cli -> lab.ui.panel"]


def test_checker_finds_an_upward_import_and_a_module_without_a_layer(tmp_path):
    root = _package(tmp_path, {"lab/__init__.py": "", "lab/cost.py": "def f():\n    from .compress import packing\n",
                               "lab/compress/__init__.py": "", "lab/compress/packing.py": "from ..cost import f\n"})
    graph = import_graph(root, "lab")
    layers = (("lab",), ("lab.cost",), ("lab.compress",))
    assert upward_imports(graph, layers, "lab") == ["lab.cost (layer 1) -> lab.compress.packing (layer 2)"]
    with pytest.raises(ValueError, match="module lab.compress belongs to no layer"):
        upward_imports(graph, (("lab",), ("lab.cost",)), "lab")


def test_checker_finds_a_long_file(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/short.py": "x = 1\n" * MAX_LINES,
                               "pkg/long.py": "x = 1\n" * (MAX_LINES + 1)})
    assert long_files(root, "pkg") == {"pkg/long.py": MAX_LINES + 1}
