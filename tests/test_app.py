"""The classroom app (``make app``) in a real browser: voila serving ``app/`` + Debian's Chromium.

One voila server (free localhost port, a token, sources stripped, an empty runs folder, ``LAB_FAST=1``) serves
the app for the module's tests: the menu links to every page and shows no code; the playground trains from its
Train button and draws W; the W inspector starts with "no runs yet", trains a small run on the page and then
draws that run's W; the compression studio trains its network and draws its preview plot. Each test saves a
screenshot in its tmp dir (the path is printed; ``pytest -s`` shows it).
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from test_browser import (browser_page, free_port, heatmap_z, require_chromium, status, wait_for_server,
                          wait_until)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
PAGES = ("index.ipynb", "playground.ipynb", "inspector.ipynb", "compression.ipynb")


def make_app_command(port: int, token: str) -> list[str]:
    """The voila command of `make app` (read from the Makefile) on ``port`` with the token ``token``."""
    line = next(x for x in (ROOT / "Makefile").read_text().splitlines() if x.startswith("\t$(VENV)/bin/voila "))
    args = line.split()[1:]
    assert "--Voila.ip=127.0.0.1" in args and "--token" in args and "--strip_sources=True" in args, line
    swap = {"app": str(APP), "--port=$(APP_PORT)": f"--port={port}", "--token": f"--token={token}"}
    return [sys.executable, "-m", "voila", *(swap.get(a, a) for a in args)]


class Voila:
    def __init__(self, base: str, token: str, runs: Path):
        self.base, self.token, self.runs = base, token, runs

    def url(self, page: str) -> str:
        return f"{self.base}/voila/render/{page}?token={self.token}"


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """voila on ``app/`` (the command `make app` runs, on a free port with a known token); yields a :class:`Voila`."""
    require_chromium()
    tmp = tmp_path_factory.mktemp("voila")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "LAB_FAST": "1", "LAB_RUNS": str(tmp / "runs"), "JUPYTER_RUNTIME_DIR": str(tmp / "rt")}
    log = open(tmp / "voila.log", "w")
    proc = subprocess.Popen(make_app_command(port, token), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/?token={token}", proc, tmp / "voila.log", "voila", 60)
        yield Voila(base, token, tmp / "runs")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def test_the_app_needs_its_token(voila):
    """Without the token a page sends the browser to voila's login form and starts no kernel."""
    with urllib.request.urlopen(f"{voila.base}/voila/render/playground.ipynb", timeout=10) as r:
        assert r.geturl().startswith(f"{voila.base}/login?next=")
        assert "lab-playground" not in r.read().decode()


def test_every_page_is_in_the_app_folder():
    assert sorted(p.name for p in APP.glob("*.ipynb")) == sorted(PAGES)


def open_page(page, url: str) -> None:
    """Go to ``url``: voila runs the page's notebook before it sends the page (slow on a loaded machine)."""
    page.set_default_navigation_timeout(180_000)
    page.goto(url)


def page_ready(page, css: str) -> bool:
    return page.locator(css).count() > 0 and page.locator(css).first.is_visible()


def no_code_and_no_error(page) -> None:
    text = page.locator("body").inner_text()
    assert "from lab.ui" not in text, "the app shows code"
    assert "Traceback" not in text and "Error" not in text.split("Errors")[0], text[:2000]


def test_the_inspector_page_trains_a_run_when_there_is_none(chromium_path, voila, tmp_path):
    with browser_page(chromium_path, 1280, 900) as page:
        open_page(page, voila.url("inspector.ipynb"))
        wait_until(page, lambda: page_ready(page, ".lab-app-inspector .lab-inspector"), 120, "the inspector page")
        if not list(voila.runs.glob("*/history.json")):          # the module's first test: no run yet
            assert "No runs yet" in page.locator(".lab-app-note").inner_text()
            assert "No saved runs" in page.locator(".lab-inspector").first.inner_text()
        else:                                                    # runs exist: the playground starts folded
            page.get_by_text("train a small run here").click()
        wait_until(page, lambda: page_ready(page, ".lab-app-inspector .lab-train"), 30, "the page's playground")
        page.screenshot(path=str(tmp_path / "app-inspector-empty.png"), full_page=True)
        page.locator(".lab-app-inspector .lab-train").first.click()
        plot = ".lab-inspector-W .js-plotly-plot"
        wait_until(page, lambda: page.locator(plot).count() and page.locator(plot).first.is_visible(), 120,
                   "the inspector to show the new run's W")
        selected = page.locator(".lab-run-select select").first.input_value()
        assert selected.endswith("-digits-cross_stitch") and (voila.runs / selected / "history.json").exists()
        page.locator(".lab-inspector-W").first.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "app-inspector.png"))
        no_code_and_no_error(page)
        print(f"screenshots: {tmp_path}")


def test_menu_links_every_page_and_the_playground_trains(chromium_path, voila, tmp_path):
    with browser_page(chromium_path, 1280, 900) as page:
        open_page(page, voila.url("index.ipynb"))
        wait_until(page, lambda: page.locator(".lab-app-link").count() == 3, 90, "the menu's links")
        page.screenshot(path=str(tmp_path / "app-menu.png"))
        no_code_and_no_error(page)
        hrefs = [a.get_attribute("href") for a in page.locator(".lab-app-link").all()]
        assert sorted(hrefs) == sorted(PAGES[1:])
        page.locator(".lab-app-link", has_text="Coupling playground").click()     # the cookie carries the token
        wait_until(page, lambda: page_ready(page, ".lab-playground .lab-train"), 120, "the playground")
        assert page.url.split("?")[0].endswith("/voila/render/playground.ipynb")
        page.locator(".lab-train").first.click()
        wait_until(page, lambda: status(page).startswith("done:") and heatmap_z(page), 120,
                   "the Train button's run and its W heatmap")
        page.locator(".lab-W-view").first.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "app-playground.png"))
        no_code_and_no_error(page)
        assert list(voila.runs.glob("*-digits-cross_stitch/history.json"))
        print(f"screenshots: {tmp_path}")


def test_the_compression_page_trains_and_previews(chromium_path, voila, tmp_path):
    with browser_page(chromium_path, 1280, 900) as page:
        open_page(page, voila.url("compression.ipynb"))
        wait_until(page, lambda: page_ready(page, ".lab-compression .lab-train"), 120, "the compression studio")
        page.locator(".lab-compression .lab-train").first.click()
        wait_until(page, lambda: "parameters," in page.locator(".lab-model-info").first.inner_text(), 120,
                   "the reference network to train")
        page.get_by_role("tab", name="2 Preview").click()
        plot = ".lab-preview-view .js-plotly-plot"
        wait_until(page, lambda: page.locator(plot).count() and page.locator(plot).first.is_visible(), 60,
                   "the preview plot")
        page.screenshot(path=str(tmp_path / "app-compression.png"))
        no_code_and_no_error(page)
        print(f"screenshots: {tmp_path}")


@pytest.fixture
def chromium_path() -> Path:
    return require_chromium()
