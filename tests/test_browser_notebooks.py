"""Every notebook in a real browser: JupyterLab + Debian's Chromium (the session's one server, conftest.py).

For each notebook of ``notebooks/`` (new ones are picked up by the glob): open it in a fresh workspace, Run All,
time it (from the click to every code cell numbered and the kernel idle), check that no output anywhere is an
error (traceback, error box of a panel, "Error displaying widget"), then do the notebook's one main interaction
(``INTERACTIONS``: a slider, Train, Stop, a button) and check what it changes on screen. A notebook without a
registered interaction passes Run All and is then skipped with that reason.

Exercise checks (issue 12) render with the CSS class ``lab-check-pass`` or ``lab-check-fail`` and
``data-exercise="NN.k"``. ``EXERCISE_ANSWERS`` names one write-a-function exercise per notebook; after the
interaction, :func:`exercise_check_turns_green` checks that Run All left its skeleton red with a hint, types the
teacher's function (``teacher.solutions.FUNCTIONS``, its source as a learner would write it) into the skeleton's
cell in place of the skeleton, runs that cell alone (same page, same kernel: no second Run All) and waits for
that exercise's check to turn green.

The Run All times are printed (``pytest -s``) and, with ``LAB_BROWSER_TIMES=path.json``, written there.
``LAB_BROWSER_DEFAULTS=1`` runs the kernels with the notebooks' defaults (what a user gets) instead of LAB_FAST=1.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import time
from pathlib import Path
from typing import Callable

import pytest
from test_browser import accept_dialogs, browser_page, kernel_idle, require_chromium, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
RUN_ALL_TIMEOUT = 300            # s; a notebook states well under a minute with defaults
TIMES: dict[str, dict] = {}

ERRORS_JS = """() => {
    const nb = document.querySelector('.jp-Notebook');
    const found = [];
    // a cell's error renders as stderr text with its traceback; a panel's error is a red message box
    for (const el of nb.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
        if (/Traceback \\(most recent call last\\)|^\\w*(Error|Exception)\\b/m.test(el.innerText))
            found.push(el.innerText.trim().slice(0, 300));
    for (const el of nb.querySelectorAll('.lab-msg-error')) found.push(el.innerText.trim().slice(0, 300));
    if (nb.innerText.includes('Error displaying widget')) found.push('Error displaying widget');
    return found;
}"""
PROMPTS_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
                   .map(p => p.innerText.trim())"""


def every_cell_numbered(page) -> bool:
    """Every code cell shows an execution count ("[12]:"), none is queued or running ("[*]:")."""
    prompts = page.evaluate(PROMPTS_JS)
    return bool(prompts) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)


def all_cells_ran(page) -> bool:
    """Every code cell ran and the kernel is idle (it turns busy again for a moment whenever a widget sends it a
    message, so a later check asks only :func:`every_cell_numbered`)."""
    return every_cell_numbered(page) and kernel_idle(page)


def error_outputs(page) -> list[str]:
    return page.evaluate(ERRORS_JS)


def text_of(page, css: str) -> str:
    loc = page.locator(css)
    return loc.first.inner_text() if loc.count() else ""


def set_slider(page, css: str, value: str) -> None:
    """Type ``value`` into the readout of the first slider matching ``css`` (as a user may) and commit it."""
    readout = page.locator(f"{css} .widget-readout").first
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def figure_text(page, css: str) -> str:
    """Every text of the first plotly figure inside ``css`` as drawn on screen (titles, labels, cell values;
    "" before one is drawn)."""
    figure = page.locator(f"{css} .js-plotly-plot")
    return figure.first.text_content() or "" if figure.count() else ""


def changes(page, read: Callable[[], object], act: Callable[[], None], what: str, timeout: float = 60) -> None:
    """Do ``act`` and wait until ``read()`` differs from before (and is not empty)."""
    before = read()
    act()
    wait_until(page, lambda: (now := read()) and now != before, timeout, what)


# --- one main interaction per notebook ---------------------------------------------------------------------
def plots_drawn(page) -> None:
    """00 has no widget (training prints a text progress bar): its two W heatmaps are drawn. Its save-and-reload
    check lives in test_browser.py. Here the error detector is also checked on a failing cell, and the exercise
    hook on a wrong answer (it must fail with the check's hint)."""
    wait_until(page, lambda: page.locator(".jp-Notebook .js-plotly-plot").count() >= 2, 30, "the two W heatmaps")
    wrong = "from lab.ui.exercises import check\n\ndef my_mix(W, states):\n    return states\n\ncheck(\"00.1\", my_mix)"
    with pytest.raises(AssertionError, match="Hint:"):
        exercise_check_turns_green(page, "00.1", wrong, timeout=60)
    run_new_cell(page, "1 / 0")                # the error detector sees a cell's traceback...
    wait_until(page, lambda: any("ZeroDivisionError" in e for e in error_outputs(page)), 30, "the traceback")
    page.locator(".jp-Notebook .jp-CodeCell").nth(-2).locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    page.keyboard.press("d")                   # ...and the cell is deleted again
    wait_until(page, lambda: not error_outputs(page), 10, "the failing cell to be deleted")


def playground_stop(page) -> None:
    """01: a long run from the Train button, ended by Stop."""
    box = page.locator(".lab-playground .lab-epochs input").first
    box.fill("1000")
    box.press("Enter")
    page.locator(".lab-playground .lab-train").first.click()
    wait_until(page, lambda: re.search(r"epoch [1-9]\d*/1000", text_of(page, ".lab-playground .lab-status")), 90,
               "the long run's first epoch")
    page.locator(".lab-playground .lab-stop").first.click()
    wait_until(page, lambda: text_of(page, ".lab-playground .lab-status").startswith("stopped:"), 60, "Stop")


def inspector_epoch(page) -> None:
    """02: the W inspector's epoch slider replays W at epoch 1."""
    changes(page, lambda: figure_text(page, ".lab-inspector-W"), lambda: set_slider(page, ".lab-epoch", "1"),
            "the inspector's W at epoch 1")
    assert "epoch 1" in figure_text(page, ".lab-inspector-W")


def robustness_eps(page) -> None:
    """03: the eps slider of the first robustness panel re-attacks the trained systems (no retraining)."""
    table = ".lab-robustness .lab-results"
    changes(page, lambda: text_of(page, table), lambda: set_slider(page, ".lab-robustness .lab-eps", "0.2"),
            "the robustness table at eps 0.2")


def preview_sparsity(page) -> None:
    """04: the Preview tab's sparsity slider re-scores the network."""
    page.get_by_role("tab", name="2 Preview").first.click()
    changes(page, lambda: text_of(page, ".lab-compression .lab-preview-info"),
            lambda: set_slider(page, ".lab-compression .lab-sparsity", "0.6"), "the preview at sparsity 0.60")
    assert "0.60" in text_of(page, ".lab-compression .lab-preview-info")


def w_threshold(page) -> None:
    """05: the W tab's edge-threshold slider previews a system with fewer coupling edges."""
    changes(page, lambda: text_of(page, ".lab-compression .lab-w-info"),
            lambda: set_slider(page, ".lab-compression .lab-w-threshold", "0"), "the W tab's preview at threshold 0")


def tuning_open_trial(page) -> None:
    """06: "Open in compression panel" rebuilds the selected Pareto trial in a compression panel."""
    page.locator(".lab-tuning").first.get_by_role("button", name="Open in compression panel").click()
    wait_until(page, lambda: text_of(page, ".lab-tuning .lab-status").startswith("opened trial"), 120,
               "the trial to open in a compression panel")


def detection_lambda_train(page) -> None:
    """07: pipeline only, the lambda slider at 0.25, Train: a new run with that lambda joins the table."""
    panel = ".lab-detection"
    page.locator(f"{panel} .lab-coupling select").first.select_option("pipeline")
    set_slider(page, f"{panel} .lab-lambda", "0.25")
    page.locator(f"{panel} .lab-train").first.click()
    wait_until(page, lambda: "pipeline lambda=0.25" in text_of(page, f"{panel} .lab-results")
               and text_of(page, f"{panel} .lab-status").startswith("done:"), 120, "the pipeline run at lambda 0.25")


def arena_train(page) -> None:
    """08: 3 epochs instead of the notebook's 5, Train: the duel figure is redrawn for 3 epochs."""
    panel = ".lab-arena"
    box = page.locator(f"{panel} .lab-epochs input").first
    box.fill("3")
    box.press("Enter")
    assert "3 epochs" not in figure_text(page, panel)
    page.locator(f"{panel} .lab-train").first.click()
    wait_until(page, lambda: "3 epochs" in figure_text(page, panel)
               and text_of(page, f"{panel} .lab-status").startswith("done:"), 120, "the arena's run of 3 epochs")


INTERACTIONS: dict[str, Callable] = {
    "00_": plots_drawn, "01_": playground_stop, "02_": inspector_epoch, "03_": robustness_eps,
    "04_": preview_sparsity, "05_": w_threshold, "06_": tuning_open_trial, "07_": detection_lambda_train,
    "08_": arena_train,
}
# exercise checks (issue 12): notebook prefix -> the write-a-function exercise answered in the browser
EXERCISE_ANSWERS: dict[str, str] = {
    "00_": "00.1", "01_": "01.1", "02_": "02.1", "03_": "03.1", "04_": "04.1", "05_": "05.1", "06_": "06.1",
    "07_": "07.1", "08_": "08.1",
}


def answer_source(number: str) -> str:
    """The cell a learner who solved ``number`` would have: imports, the function written out, the check."""
    from teacher.solutions import FUNCTIONS

    fn = FUNCTIONS[number]
    return ("import heapq\n\nimport numpy as np\nimport torch\n\nfrom lab.ui.exercises import check\n\n\n"
            f"{inspect.getsource(fn).rstrip()}\n\n\ncheck(\"{number}\", {fn.__name__})")


def registered(table: dict, notebook: str):
    return next((v for k, v in table.items() if notebook.startswith(k)), None)


def run_new_cell(page, source: str) -> None:
    """Add ``source`` as a new code cell at the end of the notebook and run it (as a learner would)."""
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")                   # a new code cell below (command mode), edited after Enter
    page.keyboard.press("Enter")
    page.keyboard.insert_text(source)
    page.keyboard.press("Shift+Enter")         # runs it and adds an empty cell below


def check_cell(page, number: str):
    """The code cell whose source calls exercise ``number``'s check."""
    cells = page.locator(".jp-Notebook .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=f'check("{number}"'))
    assert cells.count() == 1, f"{cells.count()} cells call check({number!r}, ...)"
    return cells.first


def exercise_check_turns_green(page, number: str, source: str, timeout: float = 120) -> None:
    """Replace the source of exercise ``number``'s check cell by ``source`` (select all, type), run that cell
    alone and wait until it ran again; its check must then be green (else fail with the red check's text)."""
    cell = check_cell(page, number)
    prompt = cell.locator(".jp-InputPrompt").first
    before = prompt.inner_text().strip()
    editor = cell.locator(".jp-InputArea-editor .cm-content").first
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    page.keyboard.press("Control+Enter")       # runs this cell only and stays on it
    wait_until(page, lambda: (now := prompt.inner_text().strip()) != before and re.fullmatch(r"\[\d+\]:", now),
               timeout, f"exercise {number}'s cell to run again")
    red = cell.locator(f".lab-check-fail[data-exercise='{number}']")
    if red.count():
        raise AssertionError(red.first.inner_text())
    wait_until(page, lambda: cell.locator(f".lab-check-pass[data-exercise='{number}']").count(), 30,
               f"exercise {number}'s green check")


def skeleton_is_red(page, number: str) -> None:
    """After Run All, the skeleton of exercise ``number`` shows its red check with a hint (not an error)."""
    red = check_cell(page, number).locator(f".lab-check-fail[data-exercise='{number}']")
    assert red.count() == 1 and "Hint:" in red.first.inner_text(), f"exercise {number}'s skeleton is not red"


@pytest.fixture(scope="module", autouse=True)
def report_times():
    yield
    if TIMES:
        print("\nRun All in the browser (s): " + ", ".join(f"{k} {v['seconds']:.1f}" for k, v in TIMES.items()))
        if os.environ.get("LAB_BROWSER_TIMES"):
            Path(os.environ["LAB_BROWSER_TIMES"]).write_text(json.dumps(TIMES, indent=1))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_all_cleanly_in_the_browser(notebook, jupyter_lab):
    chromium = require_chromium()
    with browser_page(chromium, 1400, 1000) as page:
        page.goto(jupyter_lab.url(notebook, f"nb-{notebook[:2]}"))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        wait_until(page, lambda: kernel_idle(page), 60, "the kernel to start")
        accept_dialogs(page)
        load = os.getloadavg()[0]
        start = time.monotonic()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        page.wait_for_timeout(500)
        seen: list[str] = []                   # every error shown during the run, also one that went away again

        def finished() -> bool:
            seen.extend(e for e in error_outputs(page) if e not in seen)
            return all_cells_ran(page) or (bool(seen) and kernel_idle(page))     # an error stops Run All

        wait_until(page, finished, RUN_ALL_TIMEOUT, f"Run All of {notebook}")
        seconds = time.monotonic() - start
        assert not seen, seen
        assert every_cell_numbered(page)
        TIMES[notebook] = {"seconds": round(seconds, 1), "load_before": round(load, 2),
                           "load_after": round(os.getloadavg()[0], 2),
                           "mode": "defaults" if os.environ.get("LAB_BROWSER_DEFAULTS") == "1" else "LAB_FAST=1"}
        print(f"{notebook}: Run All {seconds:.1f} s (load {load:.1f})")

        interaction = registered(INTERACTIONS, notebook)
        if interaction is None:
            pytest.skip(f"{notebook}: Run All passed with no error; no main interaction is registered for it in "
                        "INTERACTIONS (tests/test_browser_notebooks.py) yet")
        interaction(page)
        number = registered(EXERCISE_ANSWERS, notebook)
        if number is not None:
            skeleton_is_red(page, number)
            exercise_check_turns_green(page, number, answer_source(number))
        page.wait_for_timeout(500)
        assert not error_outputs(page), error_outputs(page)
