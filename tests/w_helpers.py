"""Small trained cross-stitch systems on synthetic structures with a known answer (cached per session)."""
from __future__ import annotations

import copy
from functools import lru_cache

import torch

from lab.coupling import SystemConfig, build_system
from lab.data.synthetic import load_synthetic
from lab.train import TrainConfig, train

# task3 reads module 2's latent only: module 3's own input is needed by no task (the known-redundant module)
REDUNDANT = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0]], dtype=torch.float32)


@lru_cache(maxsize=None)
def redundant_data(seed: int = 0, samples: int = 900):
    return load_synthetic(num_modules=4, W_true=REDUNDANT, num_samples=samples, seed=seed)


@lru_cache(maxsize=None)
def _trained(seed: int, per_channel: bool, epochs: int):
    data = redundant_data(seed)
    system = build_system(data, SystemConfig(widths=(16, 16), per_channel=per_channel, seed=seed))
    train(system, data, TrainConfig(epochs=epochs, lr=3e-3, seed=seed), progress=False)
    return system.eval()


def trained_system(seed: int = 0, per_channel: bool = False, epochs: int = 8):
    """A copy of a cross-stitch system trained briefly on the redundant-module structure."""
    return copy.deepcopy(_trained(seed, per_channel, epochs))
