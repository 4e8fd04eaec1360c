"""Fixes from a walk through the notebooks in a browser, checked without one: the playground's W labels follow
the data, every panel's layout wraps at JupyterLab's default width, and notebook 04 picks the run it says."""
import ipywidgets as widgets
import pytest

from lab.adversarial import AdversarialTraining, Attack
from lab.compare import run_strategy
from lab.coupling import SystemConfig
from lab.data import DIGITS_TASKS, MNIST1D_TASKS, load_digits_tasks
from lab.runs import latest_plain_run, save_run
from lab.train import TrainConfig
from lab.ui import (CompressionPanel, CouplingPlayground, PlaygroundConfig, RobustnessPanel, TransferPanel,
                    TuningPanel, WInspector)
from lab.ui.base import field_layout, settings_row, titled_column, wrap_row


def W_labels(pg: CouplingPlayground) -> list[tuple[list[str], list[str]]]:
    """(x labels, y labels) of every stage's heatmap in the playground's live W view."""
    return [(list(t.x), list(t.y)) for t in pg.W_view.figure.data]


def test_W_labels_follow_the_data_on_the_live_heatmap_and_every_figure(tmp_path):
    pg = CouplingPlayground(PlaygroundConfig(width=8, stages=2, epochs=1, small_data=True, baselines=()),
                            runs_root=tmp_path, update_interval=0.0)
    digits = list(DIGITS_TASKS)
    synthetic = [f"task{i}" for i in range(4)]
    assert pg.run(), pg.message_text
    assert W_labels(pg) == [(digits, digits)] * 2
    pg.data.value = "synthetic"                   # also 4 modules: the old 4x4 figure would be updated in place
    assert pg.num_modules.value == 4
    assert pg.run(), pg.message_text
    assert W_labels(pg) == [(synthetic, synthetic)] * 2
    curves = {t.name for t in pg.curves_view.figure.data}
    assert any("task0" in name for name in curves) and not any("digit" in name for name in curves)
    assert "task0" in pg.results_table.value and "parity" not in pg.results_table.value
    pg.data.value = "mnist1d"
    assert pg.run(), pg.message_text
    assert W_labels(pg) == [(list(MNIST1D_TASKS), list(MNIST1D_TASKS))] * 2
    pg.data.value = "digits"
    pg.num_modules.value = 4
    assert pg.run(), pg.message_text
    assert W_labels(pg) == [(digits, digits)] * 2
    pg.seed.value = 1                             # same data again: the cheap in-place update keeps the labels
    updates = pg.W_view.updates
    assert pg.run() and pg.W_view.updates > updates
    assert W_labels(pg) == [(digits, digits)] * 2


# --- layouts that wrap at JupyterLab's default width ---------------------------------------------------------
def widget_tree(root: widgets.Widget):
    """``root`` and every widget below it (Box children, Tab pages)."""
    stack, seen = [root], set()
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        yield w
        stack.extend(getattr(w, "children", ()) or ())


def test_layout_helpers_wrap_and_never_exceed_their_container():
    field = field_layout("420px")
    assert (field.width, field.max_width) == ("420px", "100%") and field is not field_layout("420px")
    row = wrap_row([widgets.Button(), widgets.Button()])
    assert row.layout.flex_flow == "row wrap" and row.layout.max_width == "100%"
    column = titled_column("a <title>", widgets.Button())
    assert "&lt;title&gt;" in column.children[0].value
    assert settings_row(column, column).layout.align_items == "flex-start"


@pytest.mark.parametrize("make", [
    lambda root: CouplingPlayground(runs_root=root), lambda root: WInspector(root),
    lambda root: RobustnessPanel(runs_root=root), lambda root: TransferPanel(runs_root=root),
    lambda root: CompressionPanel(runs_root=root), lambda root: TuningPanel(runs_root=root)],
    ids=["playground", "inspector", "robustness", "transfer", "compression", "tuning"])
def test_every_panel_wraps_its_rows_and_caps_fixed_widths(tmp_path, make):
    panel = make(tmp_path)
    tree = list(widget_tree(panel.ui))
    assert len(tree) > 10
    rows = [w for w in tree if isinstance(w, widgets.HBox)]
    assert rows and all(r.layout.flex_flow == "row wrap" for r in rows), \
        [type(c).__name__ for r in rows if r.layout.flex_flow != "row wrap" for c in r.children]
    fixed = [w for w in tree if str(w.layout.width or "").endswith("px")]
    assert fixed and all(w.layout.max_width == "100%" for w in fixed), \
        [(type(w).__name__, getattr(w, "description", "")) for w in fixed if w.layout.max_width != "100%"]


# --- notebook 04 compresses the run it says -----------------------------------------------------------------
def save_tiny_run(root, name, strategy="cross_stitch", role="yours", adversarial=None, transfer=False):
    data = load_digits_tasks(seed=0, limit=120)
    result = run_strategy(data, SystemConfig(strategy=strategy, widths=(4,), seed=0), TrainConfig(epochs=1),
                          adversarial=adversarial)
    if transfer:
        result.history.extra["transfer"] = {"mode": "coupling", "target": "digits[rotation 30]"}
    config = {**result.history.config, **({"role": role} if role else {})}
    return save_run(root / name, result.system, result.history, config=config)


@pytest.fixture(scope="module")
def runs_with_decoys(tmp_path_factory):
    """A plain cross-stitch run of the playground and newer decoys that must not be taken for it."""
    root = tmp_path_factory.mktemp("runs")
    fgsm = AdversarialTraining(Attack("fgsm", eps=0.1, clamp=(0.0, 1.0)), 0.5)
    right = save_tiny_run(root, "20260101-000000-digits-cross_stitch")
    save_tiny_run(root, "20260101-000100-digits-cross_stitch", adversarial=fgsm)             # adversarial playground
    save_tiny_run(root, "20260101-000200-digits-robust-cross_stitch", role="robustness", adversarial=fgsm)
    save_tiny_run(root, "20260101-000300-digits-robust-cross_stitch", role="robustness")    # robustness panel
    save_tiny_run(root, "20260101-000400-digits-source-cross_stitch", role="transfer source")
    save_tiny_run(root, "20260101-000500-digits-rotation30-transfer-cross_stitch-all", role="transfer",
                  transfer=True)
    save_tiny_run(root, "20260101-000600-digits-attention", strategy="attention")
    broken = root / "20260101-000700-digits-cross_stitch"
    broken.mkdir()
    (broken / "history.json").write_text("{not json")
    (broken / "checkpoint.pt").write_bytes(b"")
    return root, right


def test_latest_plain_run_skips_adversarial_transfer_and_panel_runs(runs_with_decoys):
    root, right = runs_with_decoys
    assert latest_plain_run("cross_stitch", data="digits", root=root) == right
    assert latest_plain_run("attention", root=root).name == "20260101-000600-digits-attention"
    assert latest_plain_run("cross_stitch", data="mnist1d", root=root) is None
    assert latest_plain_run("cross_stitch", root=root / "missing") is None
    cli = save_tiny_run(root, "20260101-000800-digits-cross_stitch", role=None)      # `couple --save`: no role
    try:
        assert latest_plain_run("cross_stitch", root=root) == cli
    finally:
        for f in cli.iterdir():
            f.unlink()
        cli.rmdir()
