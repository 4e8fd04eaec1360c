"""The detection data, metrics and system: shapes, determinism, bad input, hand-made metric cases, gradient flow."""
import pytest
import torch
from torchvision.ops import box_iou, generalized_box_iou_loss

from lab.data import Task, load_data, load_detection
from lab.data.detection import check_boxes
from lab.detection import (DETECTION_COUPLINGS, DetectionConfig, DetectionSettings, DetectionSystem, decode_box,
                           detection_metrics, refine_box)
from lab.metrics import box_loss, matched_box_iou, task_loss, task_metric


@pytest.fixture(scope="module")
def small():
    return load_detection(seed=3, limit=60)


# --- data ------------------------------------------------------------------------------------------
def test_data_shapes_tasks_and_boxes_inside_the_canvas(small):
    assert small.name == "detection" and small.input_shape == (1, 32, 32)
    assert small.task_names == ("proposal", "digit", "box")
    assert [t.metric for t in small.tasks] == ["iou", "accuracy", "iou"]
    n = len(small.train) + len(small.val) + len(small.test)
    assert n == 60 and small.train.x.shape[1:] == (1, 32, 32)
    assert 0 <= float(small.train.x.min()) and float(small.train.x.max()) <= 1
    for split in small.splits().values():
        boxes = check_boxes(split.y["box"])
        torch.testing.assert_close(split.y["proposal"], split.y["box"])
        side = (boxes[:, 2] - boxes[:, 0]) * 32
        assert ((side >= 12 - 1e-4) & (side <= 20 + 1e-4)).all()
        torch.testing.assert_close(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def test_the_target_digit_lies_inside_its_box_and_clutter_outside_it_when_there_is_room():
    data = load_detection(seed=1, limit=40, clutter="digit")
    x, boxes = data.train.x[:, 0], data.train.y["box"] * 32
    for img, b in zip(x, boxes.round().long()):
        inside = img[b[1]:b[3], b[0]:b[2]].sum()
        assert inside > 0.3 * img.sum() and img.sum() > inside    # the distractor adds ink outside the box
    plain = load_detection(seed=1, limit=40, clutter="none")
    for img, b in zip(plain.train.x[:, 0], plain.train.y["box"].mul(32).round().long()):
        torch.testing.assert_close(img[b[1]:b[3], b[0]:b[2]].sum(), img.sum())


def test_same_seed_same_data_other_seed_other_data():
    a, b = load_detection(seed=5, limit=40, copies=2), load_detection(seed=5, limit=40, copies=2)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y["box"], b.train.y["box"])
    assert len(a.train) + len(a.val) + len(a.test) == 80
    c = load_detection(seed=6, limit=40, copies=2)
    assert not torch.equal(a.train.x, c.train.x)
    assert torch.equal(load_data("detection", seed=5, limit=40, copies=2).test.x, a.test.x)


@pytest.mark.parametrize("kwargs,message", [
    ({"canvas": 16, "max_size": 20}, r"canvas \(16 px\) is smaller than the largest digit \(max_size=20"),
    ({"min_size": 15, "max_size": 12}, "min_size=15 is larger than max_size=12"),
    ({"clutter": "fog"}, r"clutter.*'digit', 'strokes', 'none'"),
    ({"canvas": 4}, "canvas must be >= 8 and <= 128"),
    ({"copies": 0}, "copies must be"),
    ({"limit": 5}, "use at least 30"),
    ({"seed": -1}, "seed"),
])
def test_bad_data_settings_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_detection(**kwargs)


@pytest.mark.parametrize("boxes,message", [
    ([[0.1, 0.1, 1.2, 0.5]], "outside the canvas"),
    ([[-0.1, 0.1, 0.5, 0.5]], "outside the canvas"),
    ([[0.5, 0.1, 0.5, 0.4]], "degenerate"),
    ([[0.6, 0.1, 0.5, 0.4]], "degenerate"),
    ([[0.1, float("nan"), 0.5, 0.4]], "NaN or inf"),
    ([0.1, 0.1, 0.5, 0.4], r"\(N, 4\)"),
    ("box", r"\(N, 4\)"),
])
def test_bad_boxes_are_refused_with_what_is_allowed(boxes, message):
    with pytest.raises(ValueError, match=message):
        check_boxes(boxes)


# --- metrics ---------------------------------------------------------------------------------------
def test_matched_iou_and_box_loss_against_torchvision_and_hand_cases():
    target = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6], [0.0, 0.0, 1.0, 1.0]])
    pred = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.4, 0.2, 0.8, 0.6], [0.5, 0.5, 0.5, 0.5]])
    iou = matched_box_iou(pred, target)
    torch.testing.assert_close(iou, torch.tensor([1.0, 1 / 3, 0.0]))       # same box; half overlap; empty box
    torch.testing.assert_close(iou[:2], box_iou(pred[:2], target[:2]).diagonal())
    inverted = pred[1:2][:, [2, 3, 0, 1]]                                     # corners swapped: the same box
    torch.testing.assert_close(matched_box_iou(inverted, target[1:2]), iou[1:2])
    expected = (pred - target).abs().mean() + generalized_box_iou_loss(pred, target, reduction="mean", eps=1e-7)
    torch.testing.assert_close(box_loss(pred, target), expected)
    task = Task("box", "regression", 4, metric="iou")
    assert task_metric(task, pred, target) == pytest.approx((1 + 1 / 3) / 3)
    torch.testing.assert_close(task_loss(task, pred, target), expected)


def test_detection_metrics_on_a_hand_made_case():
    target = {"digit": torch.tensor([1, 2, 3, 4]),
              "box": torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 4)}
    out = {"digit": torch.nn.functional.one_hot(torch.tensor([1, 2, 0, 4]), 10).float(),
           "box": torch.tensor([[0.0, 0.0, 0.5, 0.5],         # IoU 1
                                [0.0, 0.0, 0.5, 0.3],         # IoU 0.6
                                [0.0, 0.0, 0.5, 0.45],        # IoU 0.9, class wrong
                                [0.0, 0.0, 0.5, 0.2]]),       # IoU 0.4
           "proposal": torch.tensor([[0.0, 0.0, 0.25, 0.5]] * 4)}
    m = detection_metrics(out, target)
    assert m["class_acc"] == pytest.approx(0.75)
    assert m["mean_iou"] == pytest.approx((1 + 0.6 + 0.9 + 0.4) / 4)
    assert m["iou50"] == pytest.approx(0.75) and m["iou75"] == pytest.approx(0.5)
    assert m["detection"] == pytest.approx(0.5)                # right class and IoU >= 0.5: examples 0 and 1
    assert m["proposal_iou"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outside the canvas"):
        detection_metrics(out, {**target, "box": target["box"] + 0.6})
    with pytest.raises(ValueError, match="'digit' and 'box'"):
        detection_metrics({"box": out["box"]}, target)


# --- the system ------------------------------------------------------------------------------------
def test_box_decoding_gives_well_formed_boxes_and_refinement_is_bounded():
    raw = torch.randn(50, 4) * 5
    boxes = decode_box(raw)
    assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    prop = torch.tensor([[0.2, 0.2, 0.6, 0.6]])
    torch.testing.assert_close(refine_box(prop, torch.zeros(1, 4)), prop)
    big = refine_box(prop, torch.full((1, 4), 50.0))
    torch.testing.assert_close(big, torch.tensor([[0.2, 0.2, 1.0, 1.0]]))    # centre +w/2, size x2


@pytest.mark.parametrize("coupling", list(DETECTION_COUPLINGS))
def test_every_coupling_has_the_same_modules_and_outputs(coupling, small):
    system = DetectionSystem(DetectionConfig(coupling, channels=8), small.tasks, small.input_shape)
    out = system(small.test.x[:5])
    assert {k: tuple(v.shape) for k, v in out.items()} == {"proposal": (5, 4), "digit": (5, 10), "box": (5, 4)}
    base = DetectionSystem(DetectionConfig("independent", channels=8), small.tasks, small.input_shape)
    extra = system.num_parameters() - base.num_parameters()
    assert extra == {"independent": 0, "pipeline": 0, "cross_stitch": 8, "pipeline_cross_stitch": 4}[coupling]
    Ws = system.coupling_matrices()
    assert len(Ws) == 2 and all(W.shape == (2, 2) for W in Ws)
    if coupling in ("independent", "pipeline"):
        assert all(torch.equal(W, torch.eye(2)) for W in Ws)
    else:
        assert len(system.coupling_parameters()) == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"coupling": "magic"}, "unknown detection coupling 'magic'"),
    ({"channels": 0}, "channels"),
    ({"crop": 1}, "crop"),
    ({"detach_box": "yes"}, "detach_box"),
    ({"w_init": (0.0, 0.0)}, "all zeros"),
])
def test_bad_detection_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DetectionConfig(**kwargs)


def test_a_crop_that_does_not_fit_or_a_wrong_input_is_refused(small):
    with pytest.raises(ValueError, match="use crop = 8"):
        DetectionSystem(DetectionConfig(crop=6), small.tasks, small.input_shape)
    with pytest.raises(ValueError, match="multiple of 8"):
        DetectionSystem(DetectionConfig(), small.tasks, (1, 30, 30))
    system = DetectionSystem(DetectionConfig(), small.tasks, small.input_shape)
    with pytest.raises(ValueError, match=r"expected \(B, 1, 32, 32\)"):
        system(torch.zeros(2, 1, 16, 16))


@pytest.mark.parametrize("lam,message", [(-0.5, ">= 0"), (float("nan"), "finite"), (float("inf"), "finite"),
                                         ("1", "number")])
def test_lambda_must_be_finite_and_not_negative(lam, message):
    with pytest.raises(ValueError, match=message):
        DetectionSettings(lam=lam)


def test_lambda_with_a_weighting_that_chooses_its_own_weights_is_refused():
    with pytest.raises(ValueError, match="leave lambda at 1"):
        DetectionSettings(lam=0.5, weighting="uncertainty")
    assert DetectionSettings(lam=0.5).task_weights() == (1.0, 0.5, 0.5)
    assert DetectionSettings(weighting="dwa").task_weights() is None


def _proposal_grads(system, x, y, task):
    system.zero_grad()
    out = system(x)
    loss = task_loss(next(t for t in system.tasks if t.name == task), out[task], y[task])
    loss.backward()
    head = system.heads[0]["proposal"].weight.grad
    features = system.stacks[0][0][0].weight.grad
    return (0.0 if head is None else float(head.abs().sum())), float(features.abs().sum())


def test_gradient_flow_through_roi_align_with_and_without_detach(small):
    """roi_align gives the box no gradient; L_loc reaches the proposal only through the refinement, which
    ``detach_box`` cuts. The crop passes L_cls to the shared features either way."""
    boxes = torch.tensor([[0.1, 0.2, 0.6, 0.7]], requires_grad=True)
    from torchvision.ops import roi_align
    feats = torch.randn(1, 3, 16, 16, requires_grad=True)
    roi_align(feats, torch.cat([torch.zeros(1, 1), boxes * 16], 1), (4, 4), aligned=True).sum().backward()
    assert boxes.grad is None and feats.grad.abs().sum() > 0

    x, y = small.train.x[:16], small.train.y
    y = {k: v[:16] for k, v in y.items()}
    grads = {}
    for detach in (False, True):
        system = DetectionSystem(DetectionConfig("pipeline", channels=8, detach_box=detach), small.tasks,
                                 small.input_shape)
        grads[detach] = {task: _proposal_grads(system, x, y, task) for task in ("digit", "box", "proposal")}
    assert grads[False]["box"][0] > 0 and grads[True]["box"][0] == 0           # L_loc -> proposal head: cut
    assert grads[False]["digit"][0] == 0 and grads[True]["digit"][0] == 0      # L_cls never reaches the box
    assert grads[False]["digit"][1] > 0 and grads[True]["digit"][1] > 0        # ... but reaches the features
    assert grads[True]["proposal"][0] > 0                                      # L_det still trains the head
    independent = DetectionSystem(DetectionConfig("independent", channels=8), small.tasks, small.input_shape)
    assert _proposal_grads(independent, x, y, "box")[0] == 0                   # no hand-off, no path


def test_same_seed_same_system_and_a_checkpoint_round_trip(small, tmp_path):
    from lab.checkpoint import save_checkpoint
    from lab.coupling.system import CoupledSystem
    a = DetectionSystem(DetectionConfig("pipeline_cross_stitch", seed=4), small.tasks, small.input_shape)
    b = DetectionSystem(DetectionConfig("pipeline_cross_stitch", seed=4), small.tasks, small.input_shape)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    save_checkpoint(a, tmp_path / "c.pt")
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    rebuilt = CoupledSystem.from_architecture(payload["architecture"], payload["state_dict"])
    assert isinstance(rebuilt, DetectionSystem) and rebuilt.strategy == "pipeline_cross_stitch"
    x = small.test.x[:4]
    for k, v in a.eval()(x).items():
        torch.testing.assert_close(rebuilt.eval()(x)[k], v)
    bad = {**payload["state_dict"], "heads.1.digit.weight": torch.zeros(3, 3)}
    with pytest.raises(ValueError):
        CoupledSystem.from_architecture(payload["architecture"], bad)
