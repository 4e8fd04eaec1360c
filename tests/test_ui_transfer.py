"""The transfer panel driven like a learner would: choose shift and mode, click, read the tables and W."""
import html
import json

import numpy as np
import pytest
import torch
from ui_helpers import wait_for

from lab.history import History
from lab.runs import load_run
from lab.ui import RobustnessConfig, RobustnessPanel, TransferPanel, TransferPanelConfig

SMALL = dict(width=16, source_epochs=3, source_lr=3e-3, epochs=2, lr=1e-2, small_data=True)


def panel(tmp_path, robustness=None, **config) -> TransferPanel:
    return TransferPanel(TransferPanelConfig(**{**SMALL, **config}), robustness=robustness,
                         runs_root=tmp_path / "runs", update_interval=0.0)


def snapshot(system):
    return {k: v.clone() for k, v in system.state_dict().items()}


def test_coupling_mode_trains_only_W_then_heads_reuses_the_source(tmp_path):
    tp = panel(tmp_path)
    tp.train_button.click()
    assert tp.wait(120) and tp.error is None, tp.message_text
    source, result = tp.source.system, tp.result
    assert tp.source.label == "trained here (3/3 epochs)" and tp.source.history.num_epochs == 3
    # W only: 2 stages x 4 x 4 entries trainable; every other parameter bit-identical to the source
    coupling = {n for n, _ in result.system.named_parameters() if n.startswith("coupling.")}
    assert result.trainable_parameters == 32 == sum(p.numel() for n, p in result.system.named_parameters()
                                                    if n in coupling)
    src = dict(source.named_parameters())
    for name, p in result.system.named_parameters():
        if name in coupling:
            continue
        assert torch.equal(p, src[name]), name
    assert any(not torch.equal(p, src[n]) for n, p in result.system.named_parameters() if n in coupling)
    # the before/after table: one row per task and the mean, straight from the TransferResult
    rows = {r["task"]: r for r in tp.before_after_rows}
    assert list(rows) == ["digit", "parity", "ge5", "loops", "mean"]
    assert rows["digit"]["target before"] == result.before["target"]["digit"]
    assert rows["loops"]["source after"] == result.after["source"]["loops"]
    assert rows["mean"]["target change"] == pytest.approx(np.mean([rows[t]["target change"] for t in
                                                                   ("digit", "parity", "ge5", "loops")]))
    caption = html.unescape(tp.before_after_table.value)
    assert "32 of 5,569 parameters trainable" in caption and "mode 'coupling'" in caption
    # W before and after: the source's W and the adapted W, stage by stage
    fw = tp.W_view.figure
    assert len(fw.data) == 6 and fw.data[0].name == "before stage 1" and fw.data[5].name == "change stage 2"
    for s, (W0, W1) in enumerate(zip(source.coupling_matrices(), result.system.coupling_matrices())):
        np.testing.assert_allclose(np.asarray(fw.data[s].z), W0.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(fw.data[2 + s].z), W1.detach().numpy(), rtol=1e-6)
    # runs on disk: the source and the adaptation, with the panel's settings
    assert len(tp.run_dirs) == 2 and tp.run_dirs[0].name.endswith("-digits-source-cross_stitch")
    assert tp.run_dirs[1].name.endswith("-digits-rotation30-transfer-cross_stitch-coupling")
    adapted, saved = load_run(tp.run_dirs[1])
    assert saved.extra["transfer"]["mode"] == "coupling" and saved.extra["transfer"]["trainable_parameters"] == 32
    torch.testing.assert_close(adapted.state_dict(), result.system.state_dict())
    assert json.loads((tp.run_dirs[1] / "config.json").read_text())["transfer_panel"]["mode"] == "coupling"

    # a second Train with another mode reuses the source (no new source run) and adds a summary row
    before = snapshot(source)
    tp.mode.value = "heads"
    assert tp.run() and tp.source.system is source and len(tp.run_dirs) == 3
    torch.testing.assert_close(source.state_dict(), before, rtol=0, atol=0)     # the source never changes
    heads = {n for n, _ in tp.result.system.named_parameters() if n.startswith("heads.")}
    for name, p in tp.result.system.named_parameters():
        assert torch.equal(p, src[name]) == (name not in heads), name
    assert [(r["mode"], r["trainable"]) for r in tp.summary_rows] == [("coupling", 32),
                                                                      ("heads", tp.result.trainable_parameters)]
    assert tp.summary_rows[0]["target_before"] == tp.summary_rows[1]["target_before"]   # same source, same start


def test_fixed_W_strategy_shows_no_W_change_and_step_cap_is_not_a_stop(tmp_path):
    tp = panel(tmp_path, strategy="independent", mode="all", max_steps=3, epochs=50, shift="noise", amount=0.3)
    assert tp.run(), tp.message_text
    assert len(tp.result.history.step_loss) == 3
    assert tp.status.value.startswith("done: adapted independent (all)")
    assert tp.W_view.figure is None and "fixed W" in tp.W_view.box.children[0].value
    assert tp.result.history.extra["transfer"]["target"] == "digits[noise=0.3]"


def test_few_shot_limit_uses_that_many_target_examples(tmp_path):
    tp = panel(tmp_path, limit=40, epochs=1, shift="blur", amount=1.0)
    assert tp.run(), tp.message_text
    assert len(tp.result.history.step_loss) == 1                         # 40 examples, batch 64: one step
    assert "on 40 target training examples" in tp.before_after_table.value


def test_reuses_the_robustness_panels_system_when_compatible(tmp_path):
    rp = RobustnessPanel(RobustnessConfig(strategies=("cross_stitch",), width=16, epochs=2, small_data=True),
                         runs_root=tmp_path / "runs", update_interval=0.0)
    tp = panel(tmp_path, robustness=rp, source="robustness")
    assert tp.width.layout.display == "none"                             # the source settings are not used
    tp.train_button.click()
    assert "has not trained anything yet" in tp.message_text and tp.result is None
    assert rp.run()
    tp.strategy.value = "attention"
    tp.train_button.click()
    assert "did not train 'attention' (it trained ['cross_stitch'])" in tp.message_text
    tp.strategy.value = "cross_stitch"
    assert tp.run(), tp.message_text
    assert tp.source.system is rp.systems["cross_stitch"] and tp.source.data is rp.data
    assert tp.source.label == "Robustness panel (2/2 epochs)" and len(tp.run_dirs) == 1   # nothing trained here
    assert json.loads((tp.run_dirs[0] / "config.json").read_text())["source_run"] == str(rp.run_dirs["cross_stitch"])
    rp.data_choice.value = "synthetic"
    assert rp.run()
    tp.train_button.click()
    assert "trained on synthetic data, but domain shifts need images" in tp.message_text


def test_stop_during_adaptation_keeps_the_history(tmp_path):
    tp = panel(tmp_path, epochs=300, mode="all")
    tp.train_button.click()
    wait_for(lambda: tp.live_history is not None and "transfer" not in tp.live_history.extra
             and tp.status.value.startswith("training adapting") and tp.live_history.num_epochs >= 1)
    tp.stop_button.click()
    assert tp.wait(60) and tp.error is None, tp.message_text
    h = tp.result.history
    assert h.stopped and 1 <= h.num_epochs < 300 and tp.source.history.num_epochs == 3
    assert tp.status.value.startswith(f"stopped: adapted cross_stitch (all) for {len(h.step_loss)} steps")
    assert History.load(tp.run_dirs[-1] / "history.json").stopped and tp.before_after_rows


def test_stop_while_training_the_source_skips_adaptation_and_does_not_cache_it(tmp_path):
    tp = panel(tmp_path, source_epochs=300)
    tp.train_button.click()
    wait_for(lambda: tp.live_history is not None and tp.live_history.num_epochs >= 1)
    tp.stop_button.click()
    assert tp.wait(60) and tp.error is None, tp.message_text
    h = tp.source.history
    assert h.stopped and 1 <= h.num_epochs < 300 and tp.result is None
    assert tp.status.value == (f"stopped while training the source ({h.num_epochs}/300 epochs, saved); "
                               "adaptation skipped")
    assert History.load(tp.run_dirs[0] / "history.json").stopped
    first = tp.source
    tp.train_button.click()                               # same settings: a stopped source is trained again
    wait_for(lambda: tp.live_history is not h and tp.live_history is not None)
    tp.stop_button.click()
    assert tp.wait(60) and tp.source is not first and len(tp.run_dirs) == 2


@pytest.mark.parametrize("widget, value, reason", [
    ("strategy", "independent", "transfer mode 'coupling' trains only W, but the 'independent' strategy has no "
                                "coupling parameters"),
    ("amount", 2.0, "invert amount must lie in [0, 1], got 2.0"),
    ("limit", -1, "few-shot limit (target training examples) must be a whole number >= 1, or 0 for no limit"),
    ("limit", 5000, "few-shot limit 5000 is more than the 240 target training examples"),
    ("max_steps", -3, "step cap must be a whole number >= 1, or 0 for no limit"),
    ("lr", 0.0, "adaptation learning rate must be a positive number"),
])
def test_bad_values_show_a_readable_message_and_do_not_train(tmp_path, widget, value, reason):
    tp = panel(tmp_path)
    if widget == "amount":
        tp.shift.value = "invert"
        assert tp.amount.value == 0.5                        # each shift kind brings its own default amount
    getattr(tp, widget).value = value
    tp.train_button.click()
    assert not tp.running and tp.result is None
    assert reason in tp.message_text and tp.message_text.startswith("Cannot train with these settings")
    assert "Traceback" not in tp.message.value and not (tmp_path / "runs").exists()
