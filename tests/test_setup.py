"""The set-up promises: two README commands, pinned torch, conda file in step with pyproject, and `make lab`
serving the learner's own copies of the notebooks (copied once, never overwritten)."""
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from lab import workspace

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {r.replace(" ", "") for r in reqs}


def conda_pip_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    return {r.replace(" ", "") for r in pip if not r.startswith("-e")}


def test_environment_yml_lists_the_same_requirements_as_pyproject():
    assert conda_pip_requirements() == pyproject_requirements()


def test_torch_is_pinned_exactly():
    reqs = pyproject_requirements()
    assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))


def test_readme_opens_with_the_two_make_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make lab", "make test"]
    assert {"lab", "test", "demo"} <= makefile_targets()
    assert readme.index("make lab") < 200


def make_dry_run(*targets: str) -> list[str]:
    """The commands ``make`` would run for ``targets`` (``make -n``: nothing is executed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_make_lab_binds_localhost_with_token_and_ci_runs_make_test():
    makefile = (ROOT / "Makefile").read_text()
    lab_recipe = makefile.split("\nlab:")[1].split("\n\n")[0]
    assert "--ServerApp.ip=127.0.0.1" in lab_recipe and "--notebook-dir=" in lab_recipe   # which folder: below
    assert "token=''" not in lab_recipe and 'token=""' not in lab_recipe
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test"


def test_artefacts_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {".venv/", "runs/", "*.onnx", "*.pt"} <= set(ignored)


def test_committed_notebooks_have_no_outputs():
    import json
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        cells = json.loads(nb.read_text())["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), nb.name


def test_make_lab_copies_the_notebooks_first_and_serves_the_copies_not_the_originals():
    commands = make_dry_run("lab")
    copy = next(i for i, c in enumerate(commands) if "-m lab.workspace" in c)
    serve = next(i for i, c in enumerate(commands) if "jupyter lab" in c)
    assert copy < serve and "--reset" not in commands[copy]
    target = re.search(r"--target (\S+)", commands[copy]).group(1)
    assert re.search(rf"--notebook-dir={re.escape(target)}(\s|$)", commands[serve])
    assert target != "notebooks" and f"{target}/" in (ROOT / ".gitignore").read_text().split()
    reset = make_dry_run("reset-notebook", "NB=01_coupling_playground")
    assert any("-m lab.workspace" in c and f"--target {target}" in c and "--reset" in c and
               "01_coupling_playground" in c for c in reset)


def test_the_workspace_copies_once_and_never_overwrites_an_edited_copy(tmp_path):
    originals, mine = tmp_path / "notebooks", tmp_path / "my-notebooks"
    originals.mkdir()
    (originals / "00_a.ipynb").write_text('{"a": 1}')
    (originals / "01_b.ipynb").write_text('{"b": 1}')
    (originals / "README.md").write_text("not a notebook")
    assert [p.name for p in workspace.copy_missing(originals, mine)] == ["00_a.ipynb", "01_b.ipynb"]
    assert sorted(p.name for p in mine.iterdir()) == ["00_a.ipynb", "01_b.ipynb"]
    (mine / "00_a.ipynb").write_text('{"a": "my edits"}')               # the learner works in the copy
    (originals / "01_b.ipynb").write_text('{"b": 2}')                    # the original changes upstream
    (originals / "02_c.ipynb").write_text('{"c": 1}')                    # a new notebook arrives
    assert [p.name for p in workspace.copy_missing(originals, mine)] == ["02_c.ipynb"]
    assert (mine / "00_a.ipynb").read_text() == '{"a": "my edits"}'
    assert (mine / "01_b.ipynb").read_text() == '{"b": 1}' and (mine / "02_c.ipynb").read_text() == '{"c": 1}'
    assert workspace.copy_missing(originals, mine) == []
    assert not list(mine.glob(".*.tmp"))


def test_reset_gives_a_clean_copy_of_one_notebook_and_keeps_the_learners(tmp_path, capsys):
    originals, mine = tmp_path / "notebooks", tmp_path / "my-notebooks"
    originals.mkdir()
    (originals / "01_b.ipynb").write_text('{"b": 1}')
    workspace.copy_missing(originals, mine)
    (mine / "01_b.ipynb").write_text('{"b": "my edits"}')
    copy, kept = workspace.reset("01_b", originals, mine)
    assert copy.read_text() == '{"b": 1}' and kept.read_text() == '{"b": "my edits"}'
    assert re.fullmatch(r"01_b\.\d{8}-\d{6}(-\d+)?\.ipynb", kept.name)
    _, kept_again = workspace.reset("01_b.ipynb", originals, mine)              # twice in one second: both kept
    assert kept_again != kept and kept.exists() and kept_again.exists()
    assert workspace.main(["--source", str(originals), "--target", str(mine), "--reset", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no notebook 'nope'" in err and "choose from: 01_b" in err
    assert workspace.main(["--source", str(originals), "--target", str(mine)]) == 0
    assert "nothing new to copy" in capsys.readouterr().out


def test_the_workspace_defaults_are_the_checkouts_notebooks_and_an_ignored_folder():
    assert workspace.ORIGINALS == ROOT / "notebooks" and workspace.WORKSPACE.parent == ROOT
    assert f"{workspace.WORKSPACE.name}/" in (ROOT / ".gitignore").read_text().split()


def test_edge_runtimes_are_pinned_and_the_litert_converter_stays_out_of_the_lab_env():
    import importlib.util

    reqs = pyproject_requirements()
    assert {"executorch==1.5.1", "ai-edge-litert==2.3.0", "torchao>=0.18,<0.19"} <= reqs
    assert not any(r.startswith("litert-torch") for r in reqs)          # it caps typing-extensions<4.13
    assert importlib.util.find_spec("litert_torch") is None
    makefile = (ROOT / "Makefile").read_text()
    assert "converter" in makefile.split("\ntest:")[1].split("\n")[0]    # make test makes the converter env
    assert ".venv-litert/" in (ROOT / ".gitignore").read_text().split()
