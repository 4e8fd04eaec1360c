import pytest
import torch

from lab.data import (DATASETS, DomainShift, MultiTaskData, Split, Task, apply_shift, load_data, load_digits_canvas,
                      load_digits_tasks, load_mnist1d, load_synthetic, load_torchvision_set, make_coupling_structure,
                      shift_domain)
from lab.metrics import box_iou


def test_digits_tasks_are_derived_from_the_digit():
    data = load_digits_tasks(seed=0)
    assert data.task_names == ("digit", "parity", "ge5", "loops")
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    assert data.train.x.shape[1:] == (1, 8, 8) and 0 <= data.train.x.min() and data.train.x.max() <= 1
    y = data.train.y
    assert torch.equal(y["parity"], y["digit"] % 2)
    assert torch.equal(y["ge5"], (y["digit"] >= 5).long())
    loops = {0: 1, 1: 0, 4: 1, 6: 1, 8: 2, 9: 1, 7: 0}
    for d, n in loops.items():
        assert (y["loops"][y["digit"] == d] == n).all()


def test_splits_are_seeded_and_disjoint():
    a, b, c = load_digits_tasks(seed=3), load_digits_tasks(seed=3), load_digits_tasks(seed=4)
    assert torch.equal(a.train.x, b.train.x)
    assert not torch.equal(a.train.x, c.train.x)
    rows = lambda s: {tuple(r.flatten().tolist()) for r in s.x}  # noqa: E731
    assert len(rows(a.train) & rows(a.test)) < 10  # the digits set holds a few exact duplicate images


def test_canvas_boxes_match_the_pasted_digit():
    data = load_digits_canvas(canvas=16, min_size=6, max_size=10, seed=1, limit=60)
    x, box = data.train.x, data.train.y["box"]
    assert x.shape[1:] == (1, 16, 16) and box.shape[1:] == (4,)
    for i in range(10):
        x0, y0, x1, y1 = (box[i] * 16).round().long().tolist()
        inside = x[i, 0, y0:y1, x0:x1].sum()
        assert torch.isclose(inside, x[i].sum())  # all ink lies inside the box
        assert 6 <= x1 - x0 <= 10 and x1 - x0 == y1 - y0
    assert data.tasks[1].kind == "regression" and data.tasks[1].metric == "iou50"
    assert box_iou(box[:5], box[:5]).allclose(torch.ones(5))


def test_mnist1d_is_generated_locally():
    data = load_mnist1d(num_samples=500, seed=1)
    assert data.train.x.shape[1:] == (1, 40)
    assert len(data.test) == 100 and len(data.train) + len(data.val) == 400
    assert torch.equal(data.train.y["parity"], data.train.y["digit"] % 2)
    with pytest.raises(ValueError, match="loops"):
        load_mnist1d(tasks=("digit", "loops"))


@pytest.mark.parametrize("kind,amount", [("rotation", 90), ("noise", 0.3), ("invert", 1.0), ("blur", 1.0)])
def test_domain_shifts_change_inputs_not_labels(digits, kind, amount):
    shifted = shift_domain(digits, kind, amount, seed=0)
    assert shifted.train.x.shape == digits.train.x.shape
    assert not torch.allclose(shifted.train.x, digits.train.x)
    assert all(torch.equal(shifted.train.y[t], digits.train.y[t]) for t in digits.task_names)
    assert kind in shifted.name


def test_shift_values():
    x = torch.rand(3, 1, 8, 8)
    assert torch.allclose(apply_shift(x, DomainShift("invert", 1.0)), 1 - x)
    assert torch.allclose(apply_shift(x, DomainShift("rotation", 360.0)), x, atol=1e-5)
    rot = apply_shift(x, DomainShift("rotation", 90.0))
    assert torch.allclose(rot, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5)
    blurred = apply_shift(x, DomainShift("blur", 1.5))
    assert blurred.std() < x.std()
    with pytest.raises(ValueError, match="invert amount"):
        DomainShift("invert", 2.0)
    with pytest.raises(ValueError, match="unknown domain shift"):
        DomainShift("shear", 1.0)


def test_synthetic_targets_depend_only_on_the_modules_W_true_names():
    W = torch.tensor([[1.0, 0, 0], [1.0, 1.0, 0], [0, 0, 1.0]])
    data = load_synthetic(W_true=W, num_samples=600, seed=0, kind="regression")
    assert data.per_module_inputs and data.train.x.shape[1:] == (3, 8)
    assert torch.equal(data.W_true, W)
    # Perturbing module 2's input must leave tasks 0 and 1 unchanged: regenerate with the
    # same seed but a W that differs only in an entry, and check which targets move.
    W2 = W.clone()
    W2[1, 0] = 0.0
    other = load_synthetic(W_true=W2, num_samples=600, seed=0, kind="regression")
    moved = [not torch.allclose(data.train.y[f"task{i}"], other.train.y[f"task{i}"]) for i in range(3)]
    assert moved == [False, True, False]


@pytest.mark.parametrize("structure", ["chain", "star", "block", "random"])
def test_coupling_structures(structure):
    W = make_coupling_structure(structure, 5, seed=1)
    assert W.shape == (5, 5) and torch.equal(W.diagonal(), torch.ones(5))
    off = W[~torch.eye(5, dtype=torch.bool)]
    assert 0 < off.sum() < 20
    if structure == "chain":
        assert W[3, 2] == 1 and W[2, 3] == 0


def test_torchvision_sets_need_local_files(tmp_path):
    with pytest.raises(ValueError, match=r"download=True") as err:
        load_torchvision_set("mnist", root=tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(ValueError, match="unknown torchvision set"):
        load_torchvision_set("cifar", root=tmp_path)


def test_registry_lists_every_loader():
    assert {"digits", "digits_canvas", "mnist1d", "synthetic", "mnist", "fashion_mnist"} <= set(DATASETS)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_data("imagenet")


def test_bad_data_is_refused():
    x = torch.zeros(4, 3)
    ok = Split(x, {"a": torch.tensor([0, 1, 0, 1])})
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        MultiTaskData("bad", (Task("a", "classification", 2),), Split(x, {"a": torch.tensor([0, 1, 2, 1])}), ok, ok, (3,))
    empty = Split(torch.zeros(0, 3), {"a": torch.zeros(0, dtype=torch.long)})
    with pytest.raises(ValueError, match="is empty"):
        MultiTaskData("bad", (Task("a", "classification", 2),), empty, ok, ok, (3,))
    with pytest.raises(ValueError, match="targets for"):
        MultiTaskData("bad", (Task("b", "classification", 2),), ok, ok, ok, (3,))
    with pytest.raises(ValueError, match="int64"):
        MultiTaskData("bad", (Task("a", "classification", 2),), Split(x, {"a": torch.zeros(4)}), ok, ok, (3,))
    with pytest.raises(ValueError, match="expected"):
        MultiTaskData("bad", (Task("a", "classification", 2),), ok, ok, ok, (5,))
    with pytest.raises(ValueError, match="kind"):
        Task("a", "ranking", 2)
