"""Target and prediction exercises: green on the right state, red with what to do first on a panel without a
result, red with the right hint on a wrong answer - on small fakes of the panels' public attributes, and on
small real systems where the check measures something."""
from types import SimpleNamespace

import pytest
import torch

import lab.tune
from lab.cost import Report
from lab.exercises import check_exercise, predict
from lab.exercises import predictions, targets

CHAIN = [[0, 0, 0], [1, 0, 0], [0, 1, 0]]        # edges 0 -> 1 and 1 -> 2


def fake_system(*mats):
    return SimpleNamespace(coupling_matrices=lambda: [torch.tensor(W, dtype=torch.float32) for W in mats])


# --- targets ---------------------------------------------------------------------------------------
def test_00_2_borrowed_most_reads_the_column_off_the_diagonal():
    W = [[0.9, 0.05, 0.3], [0.02, 0.8, 0.4], [0.01, 0.1, 0.9]]      # others take most from module 2 (0.7)
    system = fake_system(W)
    assert check_exercise("00.2", 2, system).passed
    wrong = check_exercise("00.2", 0, system)
    assert not wrong.passed and "column" in wrong.hint
    assert "module number" in check_exercise("00.2", None, system).message
    assert "train" in check_exercise("00.2", 1, None).hint


def _history(W_per_epoch, W_true=CHAIN):
    return SimpleNamespace(W=[[W] for W in W_per_epoch], W_true=W_true, epochs=list(range(1, len(W_per_epoch) + 1)),
                           config={"strategy": "cross_stitch"}, num_epochs=len(W_per_epoch))


def test_01_2_w_recovered_needs_a_run_with_a_known_W_star():
    assert "press Train" in check_exercise("01.2", SimpleNamespace(history=None)).hint
    digits = SimpleNamespace(history=SimpleNamespace(W_true=None, W=[]))
    assert "synthetic" in check_exercise("01.2", digits).hint
    good = [[1, 0, 0], [0.6, 1, 0.01], [0.02, 0.5, 1]]
    assert check_exercise("01.2", SimpleNamespace(history=_history([good]))).passed
    bad = [[1, 0.6, 0], [0.01, 1, 0.5], [0.02, 0.01, 1]]            # the transpose: wrong edges
    result = check_exercise("01.2", SimpleNamespace(history=_history([bad])))
    assert not result.passed and "AUC" in result.message


def test_02_2_overtaking_epoch():
    e1 = [[1, 0.3, 0], [0.1, 1, 0], [0, 0.1, 1]]                    # a false edge (1 -> 0) leads
    e2 = [[1, 0.3, 0], [0.5, 1, 0], [0, 0.2, 1]]                    # the true edge 0 -> 1 leads from epoch 2
    history = _history([e1, e2, e2])
    assert check_exercise("02.2", 2, history).passed
    assert "later" in check_exercise("02.2", 1, history).hint
    assert "earlier" in check_exercise("02.2", 3, history).hint
    assert not check_exercise("02.2", "never", history).passed
    assert "no answer" in check_exercise("02.2", None, history).message
    assert check_exercise("02.2", "never", _history([e1])).passed


def test_03_2_half_accuracy_eps(monkeypatch):
    from lab.ui import RobustnessConfig

    config = RobustnessConfig.defaults()
    data = SimpleNamespace(test=None, train=SimpleNamespace(x=torch.rand(4, 64)))
    robust = SimpleNamespace(systems={"cross_stitch": object()}, clean={"cross_stitch": {"a": 0.8, "b": 1.0}},
                             data=data, trained_config=config)
    seen = []

    def fake_robust_accuracy(system, split, attack, seed=0):
        seen.append(attack)
        return {"a": 0.9 * (1 - attack.eps), "b": 0.9 * (1 - attack.eps)}   # kept = (1 - eps)

    monkeypatch.setattr(targets, "robust_accuracy", fake_robust_accuracy)
    assert check_exercise("03.2", 0.5, robust).passed
    assert seen[-1].eps == 0.5 and seen[-1].kind == config.attack and seen[-1].clamp == (0.0, 1.0)
    assert "larger eps" in check_exercise("03.2", 0.1, robust).hint
    assert "smaller eps" in check_exercise("03.2", 0.9, robust).hint
    assert "eps > 0" in check_exercise("03.2", None, robust).message
    assert "press Train" in check_exercise("03.2", 0.5, SimpleNamespace(systems={})).hint


def _cp(recipe_reports, test_size=360):
    runs = [SimpleNamespace(recipe=r, reports=reps) for r, reps in recipe_reports]
    loaded = SimpleNamespace(label="mlp", data=SimpleNamespace(test=range(test_size)))
    return SimpleNamespace(loaded=loaded, runs=runs)


def test_04_5_compression_target_reads_the_latest_run():
    assert "Train / load" in check_exercise("04.5", SimpleNamespace(loaded=None, runs=[])).hint
    assert "Run recipe" in check_exercise("04.5", _cp([])).hint
    good = Report("kmeans:16", metric=0.9694, packed_bytes=5676)
    big = Report("kmeans:16", metric=0.975, packed_bytes=7308)
    poor = Report("kmeans:8", metric=0.936, packed_bytes=5880)
    assert check_exercise("04.5", _cp([("r", [big, good])])).passed
    assert not check_exercise("04.5", _cp([("r", [good]), ("r2", [big])])).passed      # the latest run counts
    assert "smaller" in check_exercise("04.5", _cp([("r", [big])])).hint
    assert "more accurate" in check_exercise("04.5", _cp([("r", [poor])])).hint
    fast = check_exercise("04.5", _cp([("r", [good])], test_size=72))
    assert not fast.passed and "LAB_FAST" in fast.hint


def test_05_2_recovered_edges():
    W = [[1, 0.02, 0.01], [0.6, 1, 0.5], [0.03, 0.04, 1]]           # top-2 off-diagonal: 0 -> 1, 2 -> 1
    system = fake_system(W)
    assert check_exercise("05.2", [(0, 1)], system, CHAIN).passed    # 1 -> 2 is true but not recovered
    wrong = check_exercise("05.2", [(0, 1), (2, 1)], system, CHAIN)
    assert not wrong.passed and "(2, 1)" in wrong.message
    assert not check_exercise("05.2", [(0, 1), (1, 2)], system, CHAIN).passed
    assert "pairs" in check_exercise("05.2", None, system, CHAIN).message


def test_06_2_front_beats_hand(monkeypatch):
    hand = [{"recipe": "a", "val_%": 90.0, "bytes": 9000}, {"recipe": "b", "val_%": 95.0, "bytes": 5000}]
    tp = SimpleNamespace(study=object(), rows=[{"trial": 0}], config=SimpleNamespace(objectives=("accuracy", "bytes")))
    monkeypatch.setattr(lab.tune, "dominated", lambda points, study, objectives: [True, False])
    result = check_exercise("06.2", tp, hand)
    assert not result.passed and "b" in result.message and "more trials" in result.hint
    monkeypatch.setattr(lab.tune, "dominated", lambda points, study, objectives: [True, True])
    assert check_exercise("06.2", tp, hand).passed
    assert "Start" in check_exercise("06.2", SimpleNamespace(study=None, rows=[]), hand).hint


# --- predictions -----------------------------------------------------------------------------------
def test_a_prediction_needs_a_recorded_valid_guess():
    system = fake_system([[0.9, 0.1], [0.1, 0.9]])
    assert "no guess" in check_exercise("00.3", predict("00.3", None), system).message
    assert "not one of" in check_exercise("00.3", predict("00.3", "maybe"), system).message
    assert "show_guess" in check_exercise("00.3", "yes", system).hint
    assert "show_guess" in check_exercise("00.3", predict("01.3", "stay"), system).hint
    with pytest.raises(ValueError, match="no prediction exercise"):
        predict("04.1", "x")


def test_00_3_row_sums_right_and_wrong_guess_say_why():
    moved = fake_system([[0.95, 0.2], [0.1, 0.9]])
    right = check_exercise("00.3", predict("00.3", "no"), moved)
    assert right.passed and "row sums" in right.message
    wrong = check_exercise("00.3", predict("00.3", "yes"), moved)
    assert not wrong.passed and "measured 'no'" in wrong.message and "nothing in the loss" in wrong.hint
    assert check_exercise("00.3", predict("00.3", "yes"), fake_system([[0.9, 0.1], [0.1, 0.9]])).passed


def test_01_3_identity_start():
    assert check_exercise("01.3", predict("01.3", "move"), fake_system([[1, 0.02], [0, 1]])).passed
    assert check_exercise("01.3", predict("01.3", "stay"), fake_system([[1, 0], [0, 1]])).passed
    assert "Train" in check_exercise("01.3", predict("01.3", "move"), None).hint


def test_02_3_attention_vs_cross_stitch():
    good, bad = [[1, 0, 0], [0.6, 1, 0.01], [0.02, 0.5, 1]], [[1, 0.6, 0], [0.01, 1, 0.5], [0.02, 0.01, 1]]
    results = {"cross_stitch": SimpleNamespace(history=_history([good])),
               "attention": SimpleNamespace(history=_history([bad]))}
    assert check_exercise("02.3", predict("02.3", "cross_stitch"), results).passed
    assert not check_exercise("02.3", predict("02.3", "attention"), results).passed


def test_03_3_attack_on_another_module(monkeypatch):
    from lab.ui import RobustnessConfig

    star = SimpleNamespace(trained_config=RobustnessConfig.defaults("synthetic", structure="star"), data=SimpleNamespace(
        test=None), systems={"cross_stitch": object()}, clean={"cross_stitch": {"task0": 0.9}})
    attacks = []

    def fake(system, split, attack, seed=0):
        attacks.append(attack)
        return {"task0": 0.88}

    monkeypatch.setattr(predictions, "robust_accuracy", fake)
    assert check_exercise("03.3", predict("03.3", "barely moves"), star).passed
    assert attacks[-1].modules == (1,) and attacks[-1].eps == 0.5


def test_04_6_granularity_runs_both_previews():
    calls = []

    def preview(sparsity, bits, granularity):
        calls.append((sparsity, bits, granularity))
        return SimpleNamespace(accuracy={"channel": 0.85, "tensor": 0.22}[granularity])

    cp = SimpleNamespace(preview=preview)
    assert check_exercise("04.6", predict("04.6", "per tensor"), cp).passed
    assert sorted(calls) == [(0.5, 2, "channel"), (0.5, 2, "tensor")]
    assert "train first" in check_exercise("04.6", predict("04.6", "per tensor"), SimpleNamespace()).hint


def test_05_3_removal_on_a_real_small_system():
    from lab.coupling import SystemConfig, build_system
    from lab.data import load_synthetic

    data = load_synthetic(num_modules=4, num_samples=60, seed=0)
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(4,), seed=0))
    answer, why = predictions.QUESTIONS["05.3"].measure(system, data)
    assert answer in predictions.QUESTIONS["05.3"].choices and "module 0 costs" in why
    assert check_exercise("05.3", predict("05.3", answer), system, data).passed


def test_06_3_new_hand_recipe(monkeypatch):
    monkeypatch.setattr(lab.tune, "recipe_points", lambda context, recipes, finetune: [
        {"recipe": recipes[0], "val_%": 97.0, "bytes": 30000}])
    monkeypatch.setattr(lab.tune, "dominated", lambda points, study, objectives: [True])
    tp = SimpleNamespace(context=object(), study=object(), config=SimpleNamespace(objectives=("accuracy", "bytes")))
    assert check_exercise("06.3", predict("06.3", "dominated"), tp).passed
    assert not check_exercise("06.3", predict("06.3", "not dominated"), tp).passed


# --- notebook 07: the detection panel (rows as DetectionPanel.rows: {"run": label, **DetectionResult.row()}) ---
def _row(coupling, lam, detection, detach=False):
    return {"run": f"{coupling} lambda={lam:g}" + (" detached" if detach else ""), "coupling": coupling,
            "lambda": lam, "detach": detach, "detection": detection, "class_acc": detection + 0.01, "mean_iou": 0.8}


def test_07_2_detection_target_reads_every_run_of_the_panel():
    assert "press Train" in check_exercise("07.2", SimpleNamespace(rows=[])).hint
    assert "detection panel" in check_exercise("07.2", None).message
    short = check_exercise("07.2", SimpleNamespace(rows=[_row("independent", 1.0, 0.41), _row("pipeline", 1.0, 0.83)]))
    assert not short.passed and "pipeline lambda=1" in short.message and "83.0 %" in short.message
    assert "lambda" in short.hint
    done = SimpleNamespace(rows=[_row("pipeline", 1.0, 0.88, detach=True), _row("independent", 4.0, 0.47)])
    result = check_exercise("07.2", done)
    assert result.passed and "pipeline lambda=1 detached" in result.message


def test_07_3_pipeline_vs_independent_at_the_latest_lambda_where_both_ran():
    rows = [_row("independent", 1.0, 0.40), _row("pipeline", 1.0, 0.82), _row("cross_stitch", 4.0, 0.40),
            _row("pipeline", 4.0, 0.47, detach=True)]                       # a detached run does not count
    panel = SimpleNamespace(rows=rows)
    right = check_exercise("07.3", predict("07.3", "pipeline"), panel)
    assert right.passed and "at lambda 1" in right.message
    wrong = check_exercise("07.3", predict("07.3", "about the same"), panel)
    assert not wrong.passed and "measured 'pipeline'" in wrong.message and "crop" in wrong.hint
    rows += [_row("independent", 4.0, 0.46), _row("pipeline", 4.0, 0.47)]
    assert check_exercise("07.3", predict("07.3", "about the same"), panel).passed      # lambda 4, within 2 points
    alone = check_exercise("07.3", predict("07.3", "pipeline"), SimpleNamespace(rows=[_row("pipeline", 1.0, 0.8)]))
    assert not alone.passed and "independent at the same lambda" in alone.message
