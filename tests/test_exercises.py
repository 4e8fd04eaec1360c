"""Write-a-function exercises: the teacher's solution passes, the committed skeleton fails with a helpful
message (not an exception), and typical wrong answers - written here as a learner would - fail with the hint
that names their mistake."""
import numpy as np
import pytest
import torch

from lab.exercises import EXERCISES, check_exercise
from lab.exercises.checker import FunctionCheck
from teacher.solutions import FUNCTIONS

FUNCTION_EXERCISES = [n for n, e in EXERCISES.items() if e.kind == "function"]


def skeleton(*args):
    ...  # your code


def test_every_function_exercise_has_a_teacher_solution():
    assert sorted(FUNCTIONS) == sorted(FUNCTION_EXERCISES)


@pytest.mark.parametrize("number", FUNCTION_EXERCISES)
def test_the_teachers_solution_passes_with_a_figure(number):
    result = check_exercise(number, FUNCTIONS[number])
    assert result.passed, result.text()
    assert result.figure is not None and len(result.figure.data) > 0


@pytest.mark.parametrize("number", FUNCTION_EXERCISES)
def test_the_skeleton_fails_with_a_message_not_an_exception(number):
    result = check_exercise(number, skeleton)
    assert not result.passed
    assert "returned nothing yet" in result.message and result.hint


@pytest.mark.parametrize("number", FUNCTION_EXERCISES)
def test_every_known_mistake_is_recognised_by_its_own_hint(number):
    check = EXERCISES[number].run.__self__
    assert isinstance(check, FunctionCheck) and check.mistakes
    for mistake in check.mistakes:
        result = check.check(mistake.fn, plot=False)
        assert not result.passed and result.hint == mistake.hint, (mistake.name, result.text())


def test_a_crashing_function_shows_its_error_in_one_line():
    def my_quantize(w, bits):
        return w / undefined_name  # noqa: F821

    result = check_exercise("04.2", my_quantize)
    assert not result.passed and "NameError" in result.message and "my_quantize" in result.message


def test_a_wrong_shape_and_a_non_function_are_explained():
    assert "shape" in check_exercise("04.2", lambda w, bits: w[0]).message
    result = check_exercise("04.2", 3)
    assert not result.passed and "expected a function" in result.message


def test_the_learners_function_cannot_change_the_fixed_tensors():
    def vandal(w, bits):
        w.zero_()
        return w

    assert not check_exercise("04.2", vandal).passed
    assert check_exercise("04.2", FUNCTIONS["04.2"]).passed


def test_an_unknown_exercise_or_wrong_call_is_red_not_an_exception():
    assert not check_exercise("99.1", skeleton).passed
    assert "wrong arguments" in check_exercise("04.5").message


# --- typical wrong answers, written as a learner would ---------------------------------------------
def _hint(number, fn):
    result = check_exercise(number, fn, plot=False)
    assert not result.passed, result.text()
    return result.hint


def test_quantize_asymmetric_rounding_off_by_one_range_and_truncation():
    def asymmetric(w, bits):
        lo, hi = w.min(), w.max()
        step = (hi - lo) / (2 ** bits - 1)
        zero = torch.round(-lo / step)
        return (torch.round(w / step) + zero).clamp(0, 2 ** bits - 1).sub(zero) * step

    def unsigned_range(w, bits):
        step = w.abs().max() / (2 ** bits - 1)
        return torch.round(w / step) * step

    def off_by_one(w, bits):
        step = w.abs().max() / 2 ** (bits - 1)
        return torch.round(w / step).clamp(-2 ** (bits - 1), 2 ** (bits - 1) - 1) * step

    def truncating(w, bits):
        step = w.abs().max() / (2 ** (bits - 1) - 1)
        return (w / step).int().float() * step

    assert "asymmetric" in _hint("04.2", asymmetric)
    assert "unsigned" in _hint("04.2", unsigned_range)
    assert "off by one level" in _hint("04.2", off_by_one)
    assert "nearest" in _hint("04.2", truncating)


def test_mask_wrong_answers():
    def keeps_small(w, s):
        k = int(round(s * w.numel()))
        t = w.abs().flatten().sort().values[k - 1]
        return w.abs() <= t

    def signed(w, s):
        k = int(round(s * w.numel()))
        order = w.flatten().argsort()
        keep = torch.ones(w.numel(), dtype=torch.bool)
        keep[order[:k]] = False
        return keep.reshape(w.shape)

    assert "keeps the small weights" in _hint("04.1", keeps_small)
    assert "magnitude" in _hint("04.1", signed)


def test_kmeans_assignment_wrong_axis_and_signed_distance():
    def wrong_axis(w, codebook):
        return (w.unsqueeze(-1) - codebook).abs().argmin(0)

    def signed(w, codebook):
        return (w.unsqueeze(-1) - codebook).argmin(-1)

    assert "shape" in check_exercise("04.3", wrong_axis).message
    assert "without its sign" in _hint("04.3", signed)


def test_huffman_any_optimal_code_passes_and_fixed_length_fails():
    def fixed(counts):
        n = int((np.asarray(counts) > 0).sum())
        return [int(np.ceil(np.log2(n))) if c else 0 for c in counts]

    assert "fixed-length" in _hint("04.4", fixed)
    # counts (1, 1, 1, 1): every length-2 code is optimal; the check accepts the teacher's own tree too
    assert check_exercise("04.4", FUNCTIONS["04.4"]).passed


def test_pcgrad_projecting_when_cos_is_positive_and_sequential_projection():
    def positive(grads):
        out = grads.clone()
        for i in range(len(grads)):
            for j in range(len(grads)):
                d = out[i] @ grads[j]
                if i != j and d > 0:
                    out[i] -= d / grads[j].square().sum() * grads[j]
        return out

    def sequential(grads):
        out = grads.clone()
        for i in range(len(grads)):
            for j in range(len(grads)):
                d = out[i] @ out[j]
                if i != j and d < 0:
                    out[i] -= d / out[j].square().sum() * out[j]
        return out

    assert "agree" in _hint("01.1", positive)
    assert "original" in _hint("01.1", sequential)


def test_mix_with_the_wrong_axis_of_W():
    assert "columns" in _hint("00.1", lambda W, x: torch.einsum("ji,jbf->ibf", W, x))


def test_fgsm_descending_and_unclamped():
    assert "*down* the loss" in _hint("03.1", lambda x, g, eps: (x - eps * g.sign()).clamp(0, 1))
    assert "[0, 1]" in _hint("03.1", lambda x, g, eps: x + eps * torch.sign(g))


def test_edge_scores_that_cancel_signs():
    assert "cancels" in _hint("02.1", lambda mats: torch.stack(list(mats)).mean(0).abs())


def test_influence_summing_rows():
    assert "column" in _hint("05.1", lambda mats: torch.stack(list(mats)).abs().sum((0, 2)))


def test_dwa_inverted_ratio_and_weights_summing_to_one():
    def inverted(h, T):
        if len(h) < 2:
            return [1.0] * len(h[0])
        r = torch.tensor(h[-2]) / torch.tensor(h[-1])
        return (len(r) * torch.softmax(r / T, 0)).tolist()

    def to_one(h, T):
        if len(h) < 2:
            return [1.0] * len(h[0])
        r = torch.tensor(h[-1]) / torch.tensor(h[-2])
        return torch.softmax(r / T, 0).tolist()

    assert "upside down" in _hint("06.1", inverted)
    assert "number of tasks" in _hint("06.1", to_one)


def test_detection_score_written_as_learners_do():
    from torchvision.ops import box_iou

    def with_torchvision(logits, boxes, labels, target_boxes):           # a right answer using the library
        iou = box_iou(boxes, target_boxes).diagonal()
        return ((logits.argmax(1) == labels) & (iou >= 0.5)).float().mean().item()

    def strict(logits, boxes, labels, target_boxes):
        iou = box_iou(boxes, target_boxes).diagonal()
        return ((logits.argmax(1) == labels) & (iou > 0.5)).float().mean()

    def max_of_logits(logits, boxes, labels, target_boxes):              # compares the largest logit, not its class
        iou = box_iou(boxes, target_boxes).diagonal()
        return ((logits.max(1).values == labels) & (iou >= 0.5)).float().mean()

    assert check_exercise("07.1", with_torchvision).passed
    assert "IoU >= 0.5, not > 0.5" in check_exercise("07.1", strict).hint
    wrong = check_exercise("07.1", max_of_logits)
    assert not wrong.passed and "argmax" in wrong.hint                     # no known mistake: the generic hint
    assert "one number" in check_exercise("07.1", lambda *a: {"score": 1}).message


def test_delta_m_without_abs_or_over_the_method():
    def no_abs(metrics, baseline):
        return 100 * sum((metrics[t] - baseline[t]) / baseline[t] for t in metrics) / len(metrics)

    def relative_to_method(metrics, baseline):
        return 100 * sum((metrics[t] - baseline[t]) / abs(metrics[t]) for t in metrics) / len(metrics)

    assert "|B_i|" in check_exercise("08.1", no_abs).hint
    assert "baseline's" in check_exercise("08.1", relative_to_method).hint
