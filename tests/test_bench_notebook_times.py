"""bench.notebook_times on a tiny notebook (the real run times are in docs/BENCHMARKS.md)."""
import os

import nbformat
import pytest

from bench import notebook_times


def test_a_notebook_is_timed_with_its_errors_named_and_the_environment_restored(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    path = tmp_path / "tiny.ipynb"
    # the first cell fails unless the notebook runs with its defaults (no LAB_FAST) on a fresh runs folder
    cells = ["import os\nassert 'LAB_FAST' not in os.environ and not os.listdir(os.environ['LAB_RUNS'])", "1 / 0"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}), path)
    result = notebook_times.run_notebook(path, fast=False, timeout=120)
    assert result["notebook"] == "tiny.ipynb" and result["seconds"] > 0
    assert result["errors"] == ["ZeroDivisionError"]           # every cell ran; only the second failed
    assert os.environ["LAB_FAST"] == "1"                       # the caller's setting is back


def test_an_unknown_notebook_prefix_exits_2(capsys):
    with pytest.raises(SystemExit) as done:
        notebook_times.main(["99_no_such_notebook"])
    assert done.value.code == 2 and "no notebook" in capsys.readouterr().err
