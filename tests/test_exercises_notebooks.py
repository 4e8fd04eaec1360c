"""The exercises as the learner meets them: every notebook 00-07 ends with >= 3 numbered exercises (08 with >= 1),
each with a check cell; the committed skeletons fail with a helpful message; the check output is a green or red HTML block
with stable CSS classes; the learner's path never imports the teacher's solutions."""
import ast
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from lab.exercises import check_exercise, exercises_of
from lab.ui.exercises import FAIL_CLASS, PASS_CLASS, GuessBox, check, result_html, selector, show_guess
from teacher.solutions import FUNCTIONS, answer_cell

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = ["00", "01", "02", "03", "04", "05", "06", "07"]          # >= 3 exercises of all three kinds
ALL_NUMBERS = [*NUMBERS, "08"]                                           # 08: >= 1 (Delta m)
HEADER = re.compile(r"^### Exercise (\d\d)\.(\d+) ", re.M)


def notebook(num: str) -> nbformat.NotebookNode:
    (path,) = sorted((ROOT / "notebooks").glob(f"{num}_*.ipynb"))
    return nbformat.read(path, as_version=4)


def exercise_cells(nb, kind=None):
    return [c for c in nb.cells if "exercise" in c.metadata.get("tags", []) and (kind is None or c.cell_type == kind)]


@pytest.mark.parametrize("num", ALL_NUMBERS)
def test_every_notebook_ends_with_at_least_three_numbered_checked_exercises(num):
    nb = notebook(num)
    tagged = exercise_cells(nb)
    assert tagged and nb.cells[-len(tagged):] == tagged, "the exercise cells are not the notebook's last cells"
    headers = [(a, int(b)) for c in exercise_cells(nb, "markdown") for a, b in HEADER.findall(c.source)]
    assert len(headers) >= (3 if num in NUMBERS else 1) and all(a == num for a, _ in headers)
    assert [k for _, k in headers] == list(range(1, len(headers) + 1)), "exercises are not numbered 1, 2, 3..."
    code = "\n".join(c.source for c in exercise_cells(nb, "code"))
    for _, k in headers:
        assert f'check("{num}.{k}"' in code, f"exercise {num}.{k} has no check cell"
    assert [e.number for e in exercises_of(num)] == [f"{num}.{k}" for _, k in headers]
    intro = exercise_cells(nb, "markdown")[0].source
    name = next((ROOT / "notebooks").glob(f"{num}_*.ipynb")).stem
    assert f"make reset-notebook NB={name}" in intro
    kinds = {e.kind for e in exercises_of(num)}
    assert kinds == ({"function", "target", "prediction"} if num in NUMBERS else {"function"})


@pytest.mark.parametrize("num", ALL_NUMBERS)
def test_the_committed_skeletons_fail_with_a_helpful_message(num):
    for cell in exercise_cells(notebook(num), "code"):
        if "def my_" not in cell.source:
            continue
        found = {}

        def fake_check(number, fn):
            found[number] = check_exercise(number, fn)

        namespace = {}
        exec(compile(re.sub(r"^from lab\.ui\.exercises import .*$", "", cell.source, flags=re.M), "cell", "exec"),
             {"check": fake_check, "show_guess": None, **namespace})
        ((number, result),) = found.items()
        assert not result.passed and "returned nothing yet" in result.message and result.hint, number


def test_the_learners_path_never_imports_the_teachers_solutions():
    for path in (ROOT / "lab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "teacher" for n in names), path
    for num in ALL_NUMBERS:
        assert "teacher" not in "".join(c.source for c in notebook(num).cells if c.cell_type == "code")


@pytest.fixture
def shown(monkeypatch):
    """What lab.ui.exercises displays, as HTML strings (and figures)."""
    import lab.ui.exercises as ui

    out = []
    monkeypatch.setattr(ui, "display", lambda obj: out.append(getattr(obj, "data", obj)))
    return out


def test_check_output_has_stable_css_classes_and_escapes_text(shown):
    green = check("04.2", FUNCTIONS["04.2"])
    red = check("04.2", lambda w, bits: w)
    assert green.passed and not red.passed
    assert f"lab-check {PASS_CLASS}" in green._repr_html_() and "data-exercise='04.2'" in green._repr_html_()
    assert f"lab-check {FAIL_CLASS}" in red._repr_html_() and "Hint:" in red._repr_html_()
    assert selector("04.2") == ".lab-check-pass[data-exercise='04.2']"
    assert selector("04.2", passed=False) == ".lab-check-fail[data-exercise='04.2']"
    from lab.exercises.result import failed
    assert "&lt;b&gt;" in result_html(failed("04.2", "<b>", "<i>"))
    green.result.figure.show = lambda: shown.append("figure")
    green._ipython_display_()
    assert PASS_CLASS in shown[0] and shown[1] == "figure"


def test_a_guess_is_recorded_by_code_or_by_buttons(shown):
    guess = show_guess("04.6", "per tensor")
    assert guess.choice == "per tensor" and "recorded" in shown[0]
    box = GuessBox("00.3")
    assert box.guess.choice is None
    box.buttons.value = "no"
    assert (box.guess.exercise, box.guess.choice) == ("00.3", "no")
    assert check_exercise("00.3", box.guess, SimpleNamespace(coupling_matrices=lambda: [2 * torch.eye(2)])).passed


def test_answer_cell_is_code_that_passes():
    code = answer_cell("04.2")
    found = []
    exec(code, {"check": lambda n, fn: found.append(check_exercise(n, fn))})
    assert found[0].passed
    with pytest.raises(ValueError):
        answer_cell("04.5")


@pytest.mark.notebook
def test_notebook_00_with_the_solutions_turns_its_checks_green(tmp_path, monkeypatch):
    """Run All with the teacher's function, the right reading and a guess: the function and target checks are
    green, the prediction check gives a verdict (green or red) on the measured result - no error anywhere."""
    monkeypatch.setenv("LAB_FAST", "1")
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    nb = notebook("00")
    for cell in exercise_cells(nb, "code"):
        cell.source = (cell.source.replace('check("00.1", my_mix)', answer_cell("00.1"))
                       .replace("answer = None", "import torch\nW = system.coupling_matrices()[0].abs()\n"
                                                 "answer = int((W.sum(0) - torch.diagonal(W)).argmax())")
                       .replace('show_guess("00.3", None)', 'show_guess("00.3", "no")'))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    html = {n: "".join(o.get("data", {}).get("text/html", "") for c in exercise_cells(nb, "code") for o in c.outputs
                       if f"data-exercise='{n}'" in o.get("data", {}).get("text/html", "")) for n in ("00.1", "00.2", "00.3")}
    assert PASS_CLASS in html["00.1"]
    assert PASS_CLASS in html["00.2"]
    assert ("measured" in html["00.3"]) or ("right" in html["00.3"])
