"""The classroom app's pages without a browser (tests/test_app.py drives them in voila + Chromium)."""
import re
from pathlib import Path

import nbformat

from lab.ui.classroom import PAGES, InspectorPage, menu_page

APP = Path(__file__).resolve().parents[1] / "app"


def test_the_menu_links_every_page_of_the_app_folder_and_each_page_shows_one_widget():
    links = re.findall(r"href='([^']+)'", menu_page().value)
    assert sorted(links) == sorted(PAGES) == sorted(p.name for p in APP.glob("*.ipynb") if p.name != "index.ipynb")
    for path in APP.glob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        assert len(cells) == 1 and cells[0].cell_type == "code" and not cells[0].outputs, path.name
        assert cells[0].source.startswith("from lab.ui.classroom import "), path.name


def test_the_inspector_page_says_no_runs_yet_then_shows_the_run_trained_on_it(tmp_path):
    page = InspectorPage(tmp_path / "runs", epochs=1)
    assert "No runs yet" in page.note.value and page.trainer.selected_index == 0     # the playground is open
    assert not page.inspector.histories
    page.playground.width.value, page.playground.stages.value = 8, 1
    assert page.playground.run(), page.playground.error
    name = page.playground.run_dirs[0].name
    assert page.inspector.run_select.value == name and page.inspector.shown_run == name
    assert "No runs yet" not in page.note.value
    again = InspectorPage(tmp_path / "runs", epochs=1)                   # runs exist: the playground starts folded
    assert again.trainer.selected_index is None and name in again.inspector.histories
