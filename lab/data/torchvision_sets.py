"""torchvision MNIST / FashionMNIST read from a local folder (``data/`` by default).

Nothing is downloaded unless the caller passes ``download=True`` (users who are
online). When the files are missing, a ValueError names the folder and the flag.
Images are (N, 1, 28, 28) in [0, 1]; the train set is cut into train/val.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..validation import check_bool, check_float, check_optional_int, check_seed, show
from .base import MultiTaskData, Split, Task
from .digits import digit_derived_targets

_FOOTWEAR = torch.tensor([0, 0, 0, 0, 0, 1, 0, 1, 0, 1])  # sandal, sneaker, ankle boot
_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}   # torchvision.datasets class names


def _targets(name: str, labels: torch.Tensor) -> tuple[tuple[Task, ...], dict[str, torch.Tensor]]:
    if name == "mnist":
        tasks = (Task("digit", "classification", 10), Task("parity", "classification", 2),
                 Task("ge5", "classification", 2), Task("loops", "classification", 3))
        return tasks, digit_derived_targets(labels)
    tasks = (Task("item", "classification", 10), Task("footwear", "classification", 2))
    return tasks, {"item": labels, "footwear": _FOOTWEAR[labels]}


def load_torchvision_set(name: str = "mnist", root: str | Path = "data", download: bool = False,
                         limit: int | None = None, val_fraction: float = 0.1, seed: int = 0) -> MultiTaskData:
    """MNIST (tasks digit, parity, ge5, loops) or FashionMNIST (item, footwear) from ``root``."""
    if name not in _SETS:
        raise ValueError(f"unknown torchvision set {name!r}; choose from {list(_SETS)}")
    if not isinstance(root, (str, Path)) or not str(root):
        raise ValueError(f"root must be a folder path, got {show(root)}")
    download = check_bool("download", download)
    limit = check_optional_int("limit", limit, min=50, max=60_000)
    val_fraction = check_float("val_fraction", val_fraction, min=0.0, max=0.9, min_open=True)
    seed = check_seed(seed)
    from torchvision import datasets   # ~1 s to import: only when a set is loaded
    dataset = getattr(datasets, _SETS[name])
    try:
        train_raw = dataset(str(root), train=True, download=download)
        test_raw = dataset(str(root), train=False, download=download)
    except RuntimeError as err:
        raise ValueError(f"{name} files not found under {Path(root).resolve()}: put the torchvision "
                         f"'{_SETS[name]}/raw' files there, or pass download=True when online "
                         f"({err})") from None
    x = train_raw.data.unsqueeze(1).float() / 255.0
    x_test = test_raw.data.unsqueeze(1).float() / 255.0
    labels, labels_test = train_raw.targets.long(), test_raw.targets.long()
    gen = torch.Generator().manual_seed(seed)
    if limit is not None:
        keep = torch.randperm(len(x), generator=gen)[:limit]
        x, labels = x[keep], labels[keep]
        keep_test = torch.randperm(len(x_test), generator=gen)[:max(limit // 5, 10)]
        x_test, labels_test = x_test[keep_test], labels_test[keep_test]
    tasks, y = _targets(name, labels)
    _, y_test = _targets(name, labels_test)
    perm = torch.randperm(len(x), generator=gen)
    n_val = max(1, int(round(val_fraction * len(x))))
    full = Split(x, y)
    return MultiTaskData(name, tasks, full.subset(perm[n_val:]), full.subset(perm[:n_val]),
                         Split(x_test, y_test), input_shape=(1, 28, 28), info={"root": str(root), "seed": seed})
