"""Every notebook runs top to bottom headless in fast mode (LAB_FAST=1), shows what its text refers to,
and takes the saved runs it says it takes."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(next(p for p in NOTEBOOKS if p.name.startswith(name)), as_version=4)


def code_cell(nb: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    """The one code cell whose source contains ``marker``."""
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{len(cells)} code cells contain {marker!r}"
    return cells[0]


def widget_views(cell: nbformat.NotebookNode) -> list[dict]:
    return [o for o in cell.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]


def check_00(nb: nbformat.NotebookNode) -> None:
    """No widget: training's progress bar is text, so a saved and reopened notebook has no dead widget view
    ("Error displaying widget: model not found")."""
    views = [o for c in nb.cells if c.cell_type == "code" for o in widget_views(c)]
    assert not views, views


def check_03(nb: nbformat.NotebookNode) -> None:
    """Exercise 3 works in the synthetic `star` panel: the notebook displays that panel."""
    assert "In the synthetic panel (`star`" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    shown = [c for c in nb.cells if c.cell_type == "code" and c.source.strip().splitlines()[-1].split("#")[0].strip()
             == "star"]
    assert len(shown) == 1 and widget_views(shown[0]), "the star panel is never displayed"


def check_08(nb: nbformat.NotebookNode) -> None:
    """The arena panel is displayed, its run finished and the numbers behind the figure are printed."""
    assert widget_views(code_cell(nb, "panel = ArenaPanel()")), "the arena panel is never displayed"
    ran = "".join(o.get("text", "") for o in code_cell(nb, "panel.run()").outputs)
    assert ran.startswith("done: equal Delta m"), ran
    numbers = "".join(o.get("text", "") for o in code_cell(nb, "panel.summaries.items()").outputs)
    assert "equal: Delta m" in numbers and "imtl_g: Delta m" in numbers, numbers


CHECKS = {"00_start_here.ipynb": check_00, "03_robust_and_transfer.ipynb": check_03,
          "08_weighting_arena.ipynb": check_08}


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_headless(path, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    CHECKS.get(path.name, lambda nb: None)(nb)


def test_notebook_04_compresses_the_plain_playground_run_not_a_newer_adversarial_one(tmp_path, monkeypatch, capsys):
    """Section 6 runs its selection cell on a runs folder where an adversarially trained cross-stitch run (as
    notebook 03 or the playground's adversarial option saves) is newer than the plain one."""
    from lab.adversarial import AdversarialTraining, Attack
    from lab.compare import run_strategy
    from lab.coupling import SystemConfig
    from lab.data import load_digits_tasks
    from lab.runs import save_run
    from lab.train import TrainConfig

    root = tmp_path / "runs"
    monkeypatch.setenv("LAB_RUNS", str(root))
    data = load_digits_tasks(seed=0, limit=120)

    def save(name: str, adversarial=None, role="yours") -> Path:
        result = run_strategy(data, SystemConfig(widths=(4,), seed=0), TrainConfig(epochs=1), adversarial=adversarial)
        return save_run(root / name, result.system, result.history, config={**result.history.config, "role": role})

    right = save("20260101-000000-digits-cross_stitch")
    fgsm = AdversarialTraining(Attack("fgsm", eps=0.1, clamp=(0.0, 1.0)), 0.5)
    save("20260101-000100-digits-cross_stitch", adversarial=fgsm)
    save("20260101-000200-digits-robust-cross_stitch", adversarial=fgsm, role="robustness")
    cell = code_cell(notebook("04_"), "latest_plain_run(")
    assert "CompressionPanel(" not in cell.source          # the selection cell only selects (and says what)
    namespace: dict = {}
    exec(compile(cell.source, "notebooks/04 section 6", "exec"), namespace)
    assert namespace["run_dir"] == right
    out = capsys.readouterr().out
    assert f"compressing {right.name}: cross_stitch trained on digits" in out and "no adversarial training" in out
    assert code_cell(notebook("04_"), 'ModelSource(kind="run", run=str(run_dir))')   # and compresses that run
