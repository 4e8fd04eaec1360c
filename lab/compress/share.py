"""Weight sharing by k-means (Deep Compression, Han et al. ICLR 2016, https://arxiv.org/abs/1510.00149).

The non-zero weights of every layer are clustered into ``clusters`` groups with scikit-learn's
KMeans (1-D, linear initialisation between the layer's min and max as in the paper); every weight
is replaced by its cluster's centroid, so a layer holds exactly k distinct non-zero values and
stores a log2(k)-bit index per weight plus a k-entry codebook. Pruned zeros stay zero.

Centroid fine-tuning: the weight is re-parametrised as W = codebook[index] · mask
(``torch.nn.utils.parametrize``), so autograd gives each centroid the sum of its weights'
gradients — the paper's update — and only the codebook trains. The packed format then
Huffman-codes the indices (:mod:`lab.formats.packed`).

    model, report = share_weights(model, KMeansConfig(clusters=16), data=data)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..cost import MeasureConfig, Report, measure, weight_layers
from ..data.base import MultiTaskData
from ..validation import _is_int, check_int, check_seed, normalise_fields, show
from .fit import FitConfig, check_finetune, fit
from .prune import coupling_parameter_ids


MAX_CLUSTERS = 1 << 16      # the packed format's largest codebook


@dataclass(frozen=True)
class KMeansConfig:
    """``clusters`` (k >= 2) shared values per layer; ``finetune``: centroid training (None: off)."""

    clusters: int = 16
    init: Literal["linear", "k-means++"] = "linear"
    finetune: FitConfig | None = field(default_factory=lambda: FitConfig(epochs=3, lr=1e-4))
    seed: int = 0
    max_fit_samples: int = 20_000      # larger layers: centroids fit on a seeded sample, every weight assigned

    def __post_init__(self) -> None:
        if not _is_int(self.clusters) or not 2 <= self.clusters <= MAX_CLUSTERS:
            raise ValueError(f"clusters must be an integer >= 2 (at most {MAX_CLUSTERS}), got {show(self.clusters)}")
        normalise_fields(self, {
            "clusters": int(self.clusters),
            "seed": check_seed(self.seed),
            "max_fit_samples": check_int("max_fit_samples", self.max_fit_samples, min=100, max=10_000_000)})
        if self.init not in ("linear", "k-means++"):
            raise ValueError(f"init must be 'linear' or 'k-means++', got {show(self.init)}")
        check_finetune(self.finetune)


class SharedWeight(nn.Module):
    """Parametrization W = codebook[index] · mask; ``codebook`` (k,) is the trainable part."""

    def __init__(self, codebook: Tensor, index: Tensor, mask: Tensor):
        super().__init__()
        self.codebook = nn.Parameter(codebook)
        self.register_buffer("index", index)
        self.register_buffer("mask", mask)

    def forward(self, original: Tensor) -> Tensor:
        return self.codebook[self.index] * self.mask


def kmeans_codebook(weight: Tensor, clusters: int, init: str = "linear", seed: int = 0,
                    max_fit_samples: int = 20_000) -> tuple[Tensor, Tensor, Tensor]:
    """(codebook (k,), index (same shape as weight, int64), mask of non-zeros) for one tensor."""
    from sklearn.cluster import KMeans

    w = weight.detach().cpu().double()
    mask = w != 0
    values = w[mask].numpy().reshape(-1, 1)
    if clusters > len(values):
        raise ValueError(f"clusters={clusters} is more than the {len(values)} non-zero weights of this layer")
    if init == "linear":
        start = np.linspace(values.min(), values.max(), clusters).reshape(-1, 1)
        km = KMeans(clusters, init=start, n_init=1, random_state=seed)
    else:
        km = KMeans(clusters, init="k-means++", n_init=1, random_state=seed)
    fit_on = values
    if len(values) > max_fit_samples:
        fit_on = values[np.random.default_rng(seed).choice(len(values), max_fit_samples, replace=False)]
    km.fit(fit_on)
    labels = km.predict(values)
    codebook = torch.tensor(km.cluster_centers_.reshape(-1), dtype=weight.dtype)
    index = torch.zeros(w.shape, dtype=torch.long)
    index[mask] = torch.from_numpy(labels.astype(np.int64))
    return codebook, index, mask.to(weight.dtype)


def shareable_layers(model: nn.Module) -> dict[str, nn.Module]:
    coupling = coupling_parameter_ids(model)
    return {n: m for n, m in weight_layers(model).items() if id(m.weight) not in coupling}


def share_weights_inplace(model: nn.Module, config: KMeansConfig, data: MultiTaskData | None = None) -> dict[str, Tensor]:
    """Cluster every layer, fine-tune the centroids if configured, bake; returns the codebooks."""
    layers = shareable_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv weights, so k-means sharing does not apply")
    for name, layer in layers.items():
        nonzero = int(torch.count_nonzero(layer.weight))
        if config.clusters > nonzero:
            raise ValueError(f"clusters={config.clusters} is more than the {nonzero} non-zero weights of "
                             f"layer {name!r}; use fewer clusters")
    for i, layer in enumerate(layers.values()):
        codebook, index, mask = kmeans_codebook(layer.weight, config.clusters, config.init, config.seed + i,
                                                config.max_fit_samples)
        parametrize.register_parametrization(layer, "weight", SharedWeight(codebook, index, mask))
    try:
        finetune_codebooks(model, [layer.parametrizations.weight[0].codebook for layer in layers.values()], data,
                           config.finetune)
    finally:
        books = {}
        for name, layer in layers.items():
            books[name] = layer.parametrizations.weight[0].codebook.detach().clone()
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    return books


def finetune_codebooks(model: nn.Module, codebooks: list[Tensor], data: MultiTaskData | None,
                       finetune: FitConfig | None) -> None:
    """Fine-tune only the shared values (``codebooks``, each (k,)) of a model whose layers are parametrized
    by ``SharedWeight``; every parameter's ``requires_grad`` is restored after. Nothing without epochs."""
    if finetune is None or finetune.epochs <= 0:
        return
    if data is None:
        raise ValueError("centroid fine-tuning needs data (or set finetune=None)")
    flags = {p: p.requires_grad for p in model.parameters()}
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for c in codebooks:
            c.requires_grad_(True)
        fit(model, data, finetune, params=codebooks)
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)


def share_weights(model: nn.Module, config: KMeansConfig, *, data: MultiTaskData | None = None,
                  measure_config: MeasureConfig = MeasureConfig()) -> tuple[nn.Module, Report]:
    """A copy of ``model`` with k shared values per layer, and its Report."""
    shared = copy.deepcopy(model)
    share_weights_inplace(shared, config, data)
    return shared, measure(shared, data, f"kmeans:{config.clusters}", measure_config)
