"""The playground in a real browser: JupyterLab + Debian's Chromium driven by Playwright.

Starts JupyterLab on a free localhost port with a token, opens a copy of
01_coupling_playground.ipynb, runs all cells, clicks Train and watches the W
heatmap change, then starts a long run and checks that Stop ends it before its
last epoch. On failure a screenshot goes under runs/ (or $LAB_RUNS).
``LAB_BROWSER_SCREENSHOT=path.png`` also saves one at the end of a passing run.
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
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_coupling_playground.ipynb"
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


@pytest.fixture
def jupyter_lab(tmp_path):
    """A JupyterLab server on a copy of the notebook; yields (base url, token); stopped in the end."""
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, nb_dir / NOTEBOOK)   # the server may save it: never the original
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "LAB_FAST": "1", "LAB_RUNS": str(tmp_path / "runs"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    notices = tmp_path / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notices.parent.mkdir(parents=True)
    notices.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))   # no news pop-up
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={nb_dir}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=nb_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start:\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, token
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
        return gd && gd.data ? JSON.stringify(gd.data.map(t => t.z)) : null; }""")


def status(page) -> str:
    label = page.locator(".lab-status")
    return label.first.inner_text() if label.count() else ""


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


def test_playground_in_jupyterlab(chromium, jupyter_lab, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    base, token = jupyter_lab
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            wait_until(page, lambda: "Idle" in page.locator(".jp-StatusBar-Widget").all_inner_texts().__str__(),
                       60, "the kernel to start")
            accept_dialogs(page)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            # the notebook's own run (playground.run()) fills the heatmap and ends with "done:"
            wait_until(page, lambda: heatmap_z(page), 120, "the W heatmap to render")
            wait_until(page, lambda: status(page).startswith("done:"), 120, "the notebook's training run")
            first_status, z_before = status(page), heatmap_z(page)
            assert z_before

            # Train from the button with another seed: the heatmap must change
            set_number(page, ".lab-seed", 1)
            page.locator(".lab-train").first.click()
            wait_until(page, lambda: status(page).startswith("done:") and status(page) != first_status, 120,
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
            saved = sorted((tmp_path / "runs").glob("*-digits-cross_stitch/history.json"))[-1]
            history = json.loads(saved.read_text())
            assert history["stopped"] and len(history["epochs"]) == int(done.group(1))
            if os.environ.get("LAB_BROWSER_SCREENSHOT"):
                page.locator(".lab-train").first.scroll_into_view_if_needed()
                page.screenshot(path=os.environ["LAB_BROWSER_SCREENSHOT"])
        except BaseException:
            shots = Path(os.environ.get("LAB_RUNS") or ROOT / "runs")
            shots.mkdir(parents=True, exist_ok=True)
            shot = shots / f"browser-failure-{time.strftime('%Y%m%d-%H%M%S')}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
            raise
        finally:
            browser.close()
