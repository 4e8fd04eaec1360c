"""The box task's IoU and iou50 metric against torchvision's reference ``torchvision.ops.box_iou``."""
import pytest
import torch
from torchvision.ops import box_iou as torchvision_box_iou

from lab.data import load_digits_canvas
from lab.metrics import box_iou, task_metric


@pytest.fixture(scope="module")
def canvas_boxes():
    """Target boxes of the digits-on-canvas task and seeded predictions around them (well formed)."""
    data = load_digits_canvas(seed=0, limit=300)
    target = torch.cat([data.train.y["box"], data.test.y["box"]])
    noise = 0.12 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0))
    pred = target + noise
    pred = torch.cat([torch.minimum(pred[:, :2], pred[:, 2:]), torch.maximum(pred[:, :2], pred[:, 2:])], dim=1)
    return data, pred, target


def test_box_iou_matches_torchvision_on_the_canvas_task(canvas_boxes):
    _, pred, target = canvas_boxes
    reference = torchvision_box_iou(pred, target).diagonal()          # (N, N) pairwise; matching pairs on the diagonal
    torch.testing.assert_close(box_iou(pred, target), reference, rtol=0, atol=1e-6)
    assert 0.2 < float((reference >= 0.5).float().mean()) < 0.8       # the threshold is exercised both ways


def test_box_iou_matches_torchvision_on_hand_made_cases():
    target = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 5)
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0],        # identical: 1
                         [0.5, 0.0, 1.5, 1.0],        # half overlap: 1/3
                         [0.25, 0.25, 0.75, 0.75],    # nested: 1/4
                         [1.0, 0.0, 2.0, 1.0],        # touching edges: 0
                         [3.0, 3.0, 4.0, 5.0]])       # disjoint: 0
    expected = torch.tensor([1.0, 1 / 3, 0.25, 0.0, 0.0])
    torch.testing.assert_close(box_iou(pred, target), expected)
    torch.testing.assert_close(torchvision_box_iou(pred, target).diagonal(), expected)


def test_iou50_metric_is_the_share_of_boxes_torchvision_scores_at_least_one_half(canvas_boxes):
    data, pred, target = canvas_boxes
    box_task = data.tasks[1]
    assert box_task.metric == "iou50"
    expected = float((torchvision_box_iou(pred, target).diagonal() >= 0.5).float().mean())
    assert task_metric(box_task, pred, target) == pytest.approx(expected, abs=1e-7)


def test_degenerate_boxes_differ_from_torchvision_deliberately():
    """torchvision expects well-formed boxes (x0 <= x1, y0 <= y1) and gives NaN when the union is
    empty; the lab counts an inverted box as empty and scores an empty union 0, so the IoU of any
    prediction is a number in [0, 1] (a diverging box head cannot turn the metric into NaN)."""
    pred = torch.tensor([[0.2, 0.2, 0.2, 0.2],        # a point on a point: empty union
                         [0.0, 0.0, 1.0, -1.0],       # inverted: torchvision's signed area -1 cancels the target's
                         [0.6, 0.6, 0.4, 0.4]])       # inverted in x and y: torchvision's area is positive
    target = torch.tensor([[0.2, 0.2, 0.2, 0.2], [0.0, 0.0, 1.0, 1.0], [0.3, 0.3, 0.7, 0.7]])
    reference = torchvision_box_iou(pred, target).diagonal()
    assert torch.isnan(reference[:2]).all() and reference[2] == 0
    assert box_iou(pred, target).tolist() == [0.0, 0.0, 0.0]
