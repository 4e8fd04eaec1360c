"""The notebooks in a real browser: JupyterLab + Debian's Chromium driven by Playwright.

One JupyterLab (free localhost port, token on; one per session, shared with test_browser_notebooks.py) serves
copies of the notebooks:

* the playground (01_coupling_playground.ipynb): run all cells, click Train and watch the W heatmap
  change, then start a long run and check that Stop ends it before its last epoch;
* 00_start_here.ipynb: run, save, reload the page - no "Error displaying widget" (a dead progress-bar widget);
* every panel at JupyterLab's default layout (file browser open, 1280x800): no widget sticks out of the
  notebook's output area (cut headers, dropdowns, status lines).

Each test opens its own JupyterLab workspace (the default layout). On failure a screenshot goes under runs/
(or $LAB_RUNS). ``LAB_BROWSER_SCREENSHOT=path.png`` also saves one at the end of a passing playground run.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_coupling_playground.ipynb"
START = "00_start_here.ipynb"
PANELS = "all_panels.ipynb"            # written by the fixture: every panel of lab.ui, one per cell
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
LONG_RUN = 1000            # epochs of the run that Stop must cut short


def require_chromium(path: Path = CHROMIUM) -> Path:
    """``path`` if it exists; else fail with what to do (or skip when LAB_SKIP_BROWSER=1)."""
    if not path.exists():
        if os.environ.get("LAB_SKIP_BROWSER") == "1":
            pytest.skip("LAB_SKIP_BROWSER=1: the real-browser test was skipped on purpose")
        pytest.fail(f"Debian's Chromium is missing ({path} not found). `make test` installs it with apt; by hand: "
                    "apt-get update && apt-get install -y chromium. Set LAB_SKIP_BROWSER=1 to skip this test "
                    "on purpose.", pytrace=False)
    return path


@pytest.fixture
def chromium() -> Path:
    return require_chromium()


def test_a_missing_browser_fails_clearly_unless_skipped_on_purpose(tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_SKIP_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match="Chromium is missing .*apt-get install -y chromium"):
        require_chromium(tmp_path / "no-chromium")
    monkeypatch.setenv("LAB_SKIP_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception, match="skipped on purpose"):
        require_chromium(tmp_path / "no-chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, name: str, timeout: float) -> None:
    """Returns once ``url`` answers 200; raises with the tail of ``log`` if ``proc`` exits or ``timeout`` (s) passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def panels_notebook(runs: Path) -> nbformat.NotebookNode:
    """Every panel, the playground after a short run (its status line names a long path), the inspector on it."""
    cells = [f"import os\nos.environ['LAB_RUNS'] = {str(runs)!r}\n"
             "from lab.ui import CompressionPanel, CouplingPlayground, RobustnessPanel, TransferPanel, WInspector",
             "pg = CouplingPlayground()\npg.baselines.value = ('independent',)\npg.run()\npg",
             "WInspector()", "RobustnessPanel()", "TransferPanel()", "CompressionPanel()"]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})


class Lab:
    """A running JupyterLab: ``url(notebook, workspace)`` opens a notebook in a fresh workspace (default layout)."""

    def __init__(self, base: str, token: str, notebooks: Path, runs: Path):
        self.base, self.token, self.notebooks, self.runs = base, token, notebooks, runs

    def url(self, notebook: str, workspace: str) -> str:
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def __iter__(self):                          # base, token = jupyter_lab
        return iter((self.base, self.token))


def lab_server(tmp_path_factory):
    """A JupyterLab server on copies of every notebook (and the panels notebook); yields a :class:`Lab`.
    One server for the session: the ``jupyter_lab`` fixture in conftest.py. ``LAB_BROWSER_DEFAULTS=1`` runs
    its kernels with the notebooks' defaults (a user's run) instead of ``LAB_FAST=1``."""
    require_chromium()                          # skip (or fail) before starting a server for nothing
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    for path in (ROOT / "notebooks").glob("*.ipynb"):      # the server may save them: never the originals
        shutil.copy(path, nb_dir / path.name)
    nbformat.write(panels_notebook(tmp_path / "panel-runs"), nb_dir / PANELS)
    port, token = free_port(), secrets.token_hex(16)
    fast = "0" if os.environ.get("LAB_BROWSER_DEFAULTS") == "1" else "1"
    env = {**os.environ, "LAB_FAST": fast, "LAB_RUNS": str(tmp_path / "runs"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    notices = tmp_path / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notices.parent.mkdir(parents=True)
    notices.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))   # no news pop-up
    # every cell stays in the page (JupyterLab renders only the visible ones by default), so the tests see
    # every output, also after a reload; the layout is unchanged
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={nb_dir}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=nb_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/api/status?token={token}", proc, tmp_path / "jupyter.log", "JupyterLab", 90)
        yield Lab(base, token, nb_dir, tmp_path / "runs")
    finally:
        proc.send_signal(signal.SIGINT)            # lets the server shut its kernels down
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)            # confirms the shutdown prompt
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def heatmap_z(page) -> str | None:
    """The z values of the playground's W heatmap as plotly drew them (None before it exists)."""
    return page.evaluate("""() => {
        const gd = document.querySelector('.lab-W-view .js-plotly-plot');
        return gd && gd.data && gd.data.length ? JSON.stringify(gd.data.map(t => t.z)) : null; }""")


def status(page) -> str:
    label = page.locator(".lab-status")
    return label.first.inner_text() if label.count() else ""


def idle_panel(page) -> bool:
    """The panel's job has ended (its Stop button is disabled again): a Train click now starts a new run."""
    stop = page.locator(".lab-stop")
    return bool(stop.count()) and stop.first.is_disabled()


def accept_dialogs(page) -> None:
    """Accept a dialog JupyterLab may open on its own (e.g. "Select Kernel" with Python 3 preselected)."""
    button = page.locator(".jp-Dialog .jp-mod-accept")
    if button.count() and button.first.is_visible():
        button.first.click()


def wait_until(page, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        accept_dialogs(page)
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; status: {status(page)!r}")
        page.wait_for_timeout(100)


def set_number(page, css: str, value: int) -> None:
    box = page.locator(f"{css} input").first
    box.fill(str(value))
    box.press("Enter")


def kernel_idle(page) -> bool:
    return "Idle" in str(page.locator(".jp-StatusBar-Widget").all_inner_texts())


def open_and_run_all(page, url: str) -> None:
    """Open a notebook, wait for its kernel, and Run All Cells from the Run menu."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    wait_until(page, lambda: kernel_idle(page), 60, "the kernel to start")
    accept_dialogs(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


@contextmanager
def browser_page(chromium: Path, width: int, height: int):
    """A Chromium page of ``width`` x ``height``; a screenshot under runs/ when the test fails."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            yield page
        except BaseException:
            shots = Path(os.environ.get("LAB_RUNS") or ROOT / "runs")
            shots.mkdir(parents=True, exist_ok=True)
            shot = shots / f"browser-failure-{time.strftime('%Y%m%d-%H%M%S')}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
            raise
        finally:
            browser.close()


def test_playground_in_jupyterlab(chromium, jupyter_lab):
    with browser_page(chromium, 1400, 1100) as page:
        open_and_run_all(page, jupyter_lab.url(NOTEBOOK, "playground"))
        # the notebook's own run (playground.run()) fills the heatmap and ends with "done:"
        wait_until(page, lambda: heatmap_z(page), 120, "the W heatmap to render")
        wait_until(page, lambda: status(page).startswith("done:") and idle_panel(page), 120,
                   "the notebook's training run")
        first_status, z_before = status(page), heatmap_z(page)
        assert z_before

        # Train from the button with another seed: the heatmap must change
        set_number(page, ".lab-seed", 1)
        page.locator(".lab-train").first.click()
        wait_until(page, lambda: status(page).startswith("done:") and status(page) != first_status
                   and idle_panel(page), 120,
                   "the Train button's run")
        z_after = heatmap_z(page)
        assert z_after and z_after != z_before

        # a long run, stopped from the browser while the kernel is free
        set_number(page, ".lab-epochs", LONG_RUN)
        page.locator(".lab-train").first.click()
        pattern = re.compile(rf"training cross_stitch: epoch (\d+)/{LONG_RUN}")
        wait_until(page, lambda: (m := pattern.search(status(page))) and int(m.group(1)) >= 3, 90,
                   "epoch 3 of the long run")
        z_live = heatmap_z(page)
        wait_until(page, lambda: heatmap_z(page) != z_live, 30, "a live update of W")   # W moves while training
        page.locator(".lab-stop").first.click()
        wait_until(page, lambda: status(page).startswith("stopped:"), 60, "Stop to end training")
        done = re.search(rf"stopped: cross_stitch trained (\d+)/{LONG_RUN} epochs", status(page))
        assert done and 3 <= int(done.group(1)) < LONG_RUN, status(page)
        saved = sorted(jupyter_lab.runs.glob("*-digits-cross_stitch/history.json"))[-1]
        history = json.loads(saved.read_text())
        assert history["stopped"] and len(history["epochs"]) == int(done.group(1))
        if os.environ.get("LAB_BROWSER_SCREENSHOT"):
            page.locator(".lab-train").first.scroll_into_view_if_needed()
            page.screenshot(path=os.environ["LAB_BROWSER_SCREENSHOT"])


def test_a_saved_and_reopened_notebook_shows_no_widget_error(chromium, jupyter_lab):
    """00_start_here trains with a progress bar: after Save and a page reload, no dead widget view remains
    ("Error displaying widget: model not found" where tqdm's notebook bar was)."""
    saved = jupyter_lab.notebooks / START
    with browser_page(chromium, 1280, 800) as page:
        open_and_run_all(page, jupyter_lab.url(START, "start-here"))
        plots = page.locator(".jp-Notebook .js-plotly-plot")
        wait_until(page, lambda: plots.count() >= 2 and kernel_idle(page), 180, "the two W heatmaps")
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Control+s")
        wait_until(page, lambda: "application/vnd.plotly" in saved.read_text(), 30,
                   "the notebook to be saved with its outputs")
        page.reload()
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        figures = page.locator(".jp-Notebook .jp-RenderedPlotly")     # the saved heatmaps (shown as plot or PNG)
        wait_until(page, lambda: figures.count() >= 2 and "'digit':" in page.locator(".jp-Notebook").inner_text()
                   and kernel_idle(page), 60, "the saved outputs after reload")
        page.wait_for_timeout(3000)              # widget views render (or fail) asynchronously
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()


# JupyterLab's default layout on a 1280x800 screen (file browser open) leaves a notebook output area ~850 px
# wide. No element of a panel may stick out of that area, nor out of the nearest box that clips it (ipywidgets'
# boxes scroll or cut what overflows them): that is how headers, dropdowns and status lines got cut off. Wide
# figures and tables scroll sideways on purpose inside their own box (.lab-figure-box, .lab-table-wrap): those
# boxes are measured, not their contents. 2 px of rounding (slider handles, borders) are allowed.
OVERFLOW_JS = """(panel) => {
    const area = panel.closest('.jp-OutputArea-output').getBoundingClientRect();
    const scrollers = '.lab-figure-box, .lab-table-wrap';
    const name = el => `${el.tagName.toLowerCase()}.${String(el.className).split(' ').filter(
        c => c.startsWith('widget-') || c.startsWith('lab-')).join('.')}`;
    const out = [];
    for (const el of panel.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        const scroller = el.parentElement.closest(scrollers);
        if (scroller && panel.contains(scroller)) continue;
        let left = area.left, right = area.right, by = 'the output area';
        for (let a = el.parentElement; a && a !== panel.parentElement; a = a.parentElement) {
            if (getComputedStyle(a).overflowX !== 'visible') {
                const c = a.getBoundingClientRect();
                if (c.right < right) { right = c.right; by = name(a); }
                left = Math.max(left, c.left);
                break;
            }
        }
        if (r.right > right + 2 || r.left < left - 2)
            out.push(`${name(el)} "${(el.innerText || el.value || '').trim().slice(0, 30)}" `
                     + `${Math.round(r.left)}..${Math.round(r.right)} cut by ${by} at ${Math.round(right)}`);
    }
    return {area: [Math.round(area.left), Math.round(area.right)], overflow: out.slice(0, 20), count: out.length};
}"""
PANEL_CLASSES = (".lab-playground", ".lab-inspector", ".lab-robustness", ".lab-transfer", ".lab-compression")


def test_every_panel_fits_the_notebook_with_the_file_browser_open(chromium, jupyter_lab):
    with browser_page(chromium, 1280, 800) as page:
        open_and_run_all(page, jupyter_lab.url(PANELS, "panels"))
        browser_panel = page.locator("#filebrowser")
        assert browser_panel.is_visible(), "JupyterLab's default layout should show the file browser"
        wait_until(page, lambda: all(page.locator(c).count() for c in PANEL_CLASSES) and kernel_idle(page), 240,
                   "every panel to be displayed")
        wait_until(page, lambda: status(page).startswith("done:"), 60, "the playground's run")
        notebook_width = page.locator(".jp-NotebookPanel").first.bounding_box()["width"]
        assert notebook_width < 1000, f"the notebook is {notebook_width} px wide: the file browser is not open"
        report = {}
        for css in PANEL_CLASSES:
            panel = page.locator(css).first
            panel.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            report[css] = panel.evaluate(OVERFLOW_JS)
        assert all(not r["overflow"] for r in report.values()), json.dumps(report, indent=1)
        status_box = page.locator(".lab-playground .lab-status").first.bounding_box()
        assert "saved in" in status(page) and status_box["height"] > 30      # the long status line wraps
