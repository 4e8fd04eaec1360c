"""The set-up promises: two README commands, pinned torch, conda file in step with pyproject."""
import re
import tomllib
from pathlib import Path

import yaml

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


def test_make_lab_binds_localhost_with_token_and_ci_runs_make_test():
    makefile = (ROOT / "Makefile").read_text()
    lab_recipe = makefile.split("\nlab:")[1].split("\n\n")[0]
    assert "--ServerApp.ip=127.0.0.1" in lab_recipe and "notebooks" in lab_recipe
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


def test_edge_runtimes_are_pinned_and_the_litert_converter_stays_out_of_the_lab_env():
    import importlib.util

    reqs = pyproject_requirements()
    assert {"executorch==1.5.1", "ai-edge-litert==2.3.0", "torchao>=0.18,<0.19"} <= reqs
    assert not any(r.startswith("litert-torch") for r in reqs)          # it caps typing-extensions<4.13
    assert importlib.util.find_spec("litert_torch") is None
    makefile = (ROOT / "Makefile").read_text()
    assert "converter" in makefile.split("\ntest:")[1].split("\n")[0]    # make test makes the converter env
    assert ".venv-litert/" in (ROOT / ".gitignore").read_text().split()
