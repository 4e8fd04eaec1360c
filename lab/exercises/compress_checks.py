"""Write-a-function checks of notebook 04: a magnitude mask, symmetric b-bit quantization, k-means codebook
assignment and Huffman code lengths, each against the lab's own implementation on fixed tensors."""
from __future__ import annotations

import numpy as np
import torch

from ..compress.fakequant import fake_quantize_tensor
from ..compress.prune import magnitude_mask
from ..formats.huffman import code_lengths
from . import figures
from .checker import FunctionCheck, Mistake
from .result import LearnerError, as_tensor

# Fixed weights: an uneven range (max 0.9 > |min| 0.6), large negatives and small positives, no ties.
_W = torch.tensor([[0.90, -0.60, 0.05, -0.02, 0.33],
                   [-0.47, 0.12, -0.81, 0.27, 0.01],
                   [0.64, -0.09, 0.18, -0.35, 0.52],
                   [-0.23, 0.71, -0.14, 0.44, -0.56]])


def _shaped(value, expected: torch.Tensor | None) -> torch.Tensor:
    shape = tuple(_W.shape) if expected is None else tuple(expected.shape)
    return as_tensor(value, shape)


# --- magnitude mask --------------------------------------------------------------------------------
def _mask_smallest_kept(w, s):
    return ~magnitude_mask(w, s)


def _mask_signed(w, s):
    k = int(round(s * w.numel()))
    keep = torch.ones(w.numel(), dtype=torch.bool)
    keep[torch.topk(w.reshape(-1), k, largest=False).indices] = False
    return keep.reshape(w.shape)


def _mask_keep_fraction(w, s):
    return magnitude_mask(w, 1.0 - s)


MAGNITUDE_MASK = FunctionCheck(
    exercise="04.1", what="magnitude mask",
    cases=[(_W, 0.5), (_W, 0.75), (_W.reshape(-1)[:7], 0.3)],
    reference=magnitude_mask,
    normalise=lambda out, exp: as_tensor(out, tuple(exp.shape) if exp is not None else
                                         tuple(torch.as_tensor(out).shape), "the mask"),
    mistakes=[
        Mistake("kept the smallest", _mask_smallest_kept,
                "your mask keeps the small weights and drops the large ones: True must mean 'keep', and the "
                "weights that carry the most are the large ones"),
        Mistake("signed values", _mask_signed,
                "you ranked the weights by their signed value, so large negative weights were dropped: "
                "rank by magnitude (size regardless of sign)"),
        Mistake("sparsity read as keep fraction", _mask_keep_fraction,
                "you kept the fraction `sparsity` of the weights; sparsity is the fraction set to zero"),
    ],
    generic_hint="return a bool tensor shaped like w, True = keep; exactly round(sparsity * w.numel()) entries "
                 "False, those with the smallest magnitude",
    figure=lambda case, got, exp: figures.before_after(case[0], case[0] * got, case[0] * exp,
                                                       f"magnitude mask at sparsity {case[1]}"),
    describe=lambda case: f"sparsity {case[1]} on a {tuple(case[0].shape)} tensor",
)


# --- symmetric linear quantization -----------------------------------------------------------------
def _q_reference(w, bits):
    return fake_quantize_tensor(w, bits, granularity="tensor", scheme="symmetric")


def _q_unsigned_range(w, bits):            # qmax = 2^b - 1: one bit too many for a signed grid
    qmax = 2 ** bits - 1
    scale = w.abs().max() / qmax
    return torch.round(w / scale).clamp(-qmax, qmax) * scale


def _q_off_by_one_level(w, bits):          # scale by 2^(b-1): the largest weight is clipped
    qmax = 2 ** (bits - 1)
    scale = w.abs().max() / qmax
    return torch.round(w / scale).clamp(-qmax, qmax - 1) * scale


def _q_affine(w, bits):
    return fake_quantize_tensor(w, bits, granularity="tensor", scheme="affine")


def _q_truncate(w, bits):
    return fake_quantize_tensor(w, bits, granularity="tensor", scheme="symmetric", rounding="truncate")


def _q_floor(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = w.abs().max() / qmax
    return torch.floor(w / scale).clamp(-qmax, qmax) * scale


def _q_per_channel(w, bits):
    return fake_quantize_tensor(w, bits, granularity="channel", scheme="symmetric")


def _q_integers(w, bits):                  # forgot to scale back
    qmax = 2 ** (bits - 1) - 1
    return torch.round(w / (w.abs().max() / qmax)).clamp(-qmax, qmax)


QUANTIZE = FunctionCheck(
    exercise="04.2", what="symmetric quantization to b bits",
    cases=[(_W, 4), (_W, 2), (_W, 8), (_W, 3)],
    reference=_q_reference,
    normalise=_shaped,
    mistakes=[
        Mistake("integers returned", _q_integers,
                "you returned the integer codes; the check wants the weights *after* rounding, back in the "
                "weights' units (multiply by the step size again)"),
        Mistake("unsigned range", _q_unsigned_range,
                "your grid has too many levels: with b bits and a sign, half of the codes are negative - you used "
                "the range of an unsigned b-bit number"),
        Mistake("off-by-one level", _q_off_by_one_level,
                "off by one level: the largest |weight| must land exactly on the top code, so divide the range by "
                "the largest code you can store, and keep the grid symmetric around zero"),
        Mistake("affine", _q_affine,
                "your grid follows min and max (asymmetric, with a zero point); the symmetric grid uses one "
                "step size from the largest |weight| and is mirrored around zero"),
        Mistake("truncation", _q_truncate,
                "you truncated towards zero; round to the *nearest* level"),
        Mistake("floor", _q_floor,
                "you rounded down (floor): negative and positive weights are then treated differently - round "
                "to the nearest level"),
        Mistake("per channel", _q_per_channel,
                "you used one step size per row (per channel); this exercise asks for one per tensor"),
    ],
    generic_hint="one step size for the whole tensor: the largest |weight| divided by the largest signed code "
                 "of b bits; round w / step to the nearest integer, keep it in range, multiply back",
    figure=lambda case, got, exp: figures.staircase(case[0], got, exp, f"{case[1]}-bit symmetric grid"),
    describe=lambda case: f"bits = {case[1]}",
)


# --- k-means codebook assignment -------------------------------------------------------------------
_CODEBOOK = torch.tensor([-0.7, -0.3, 0.0, 0.25, 0.6])


def _assign_reference(w, codebook):
    """The nearest centroid of every weight, as :func:`lab.compress.share.kmeans_codebook` assigns
    (sklearn's KMeans.predict with the codebook as cluster centres)."""
    from sklearn.cluster import KMeans

    km = KMeans(len(codebook), init=codebook.double().numpy().reshape(-1, 1), n_init=1, max_iter=1)
    km.fit(codebook.double().numpy().reshape(-1, 1))           # centres stay the codebook (one point each)
    km.cluster_centers_ = codebook.double().numpy().reshape(-1, 1)
    labels = km.predict(w.double().numpy().reshape(-1, 1))
    return torch.from_numpy(labels.astype(np.int64)).reshape(w.shape)


def _assign_farthest(w, codebook):
    return (w.unsqueeze(-1) - codebook).abs().argmax(-1)


def _assign_signed(w, codebook):
    return (w.unsqueeze(-1) - codebook).argmin(-1)


def _assign_rounded(w, codebook):          # an index from the weight's rank on a uniform grid
    lo, hi = codebook.min(), codebook.max()
    return torch.round((w - lo) / (hi - lo) * (len(codebook) - 1)).clamp(0, len(codebook) - 1).long()


def _assign_normalise(out, exp):
    if exp is None:
        return as_tensor(out, tuple(torch.as_tensor(out).shape), "the index")
    try:
        shape = tuple(torch.as_tensor(np.asarray(out)).shape)
    except (TypeError, ValueError):
        shape = None
    if shape is not None and shape[-1:] == (len(_CODEBOOK),) and shape != tuple(exp.shape):
        raise LearnerError(f"the index has shape {shape}: one entry per weight *and centroid* - pick one "
                           "centroid per weight (reduce over the codebook axis)")
    return as_tensor(out, tuple(exp.shape), "the index")


KMEANS_ASSIGN = FunctionCheck(
    exercise="04.3", what="k-means codebook assignment",
    cases=[(_W, _CODEBOOK), (_W[:, :3], _CODEBOOK[[0, 2, 4]])],
    reference=_assign_reference,
    normalise=_assign_normalise,
    mistakes=[
        Mistake("farthest", _assign_farthest,
                "you picked the centroid *farthest* from each weight; a weight is stored as its closest "
                "centroid"),
        Mistake("signed distance", _assign_signed,
                "you compared signed differences, so the largest centroid always wins: distance is a size - "
                "compare it without its sign"),
        Mistake("uniform grid", _assign_rounded,
                "you rounded on an evenly spaced grid between the smallest and largest centroid; k-means centroids "
                "are not evenly spaced - compare each weight with every centroid"),
    ],
    generic_hint="return an integer tensor shaped like w: for each weight, the index of the codebook entry "
                 "nearest to it",
    figure=lambda case, got, exp: figures.before_after(case[0], case[1][got.long()], case[1][exp.long()],
                                                       "weights and their shared values"),
    describe=lambda case: f"{len(case[1])} centroids",
)


# --- Huffman code lengths --------------------------------------------------------------------------
_COUNTS = [np.array([50, 20, 15, 8, 4, 2, 1]), np.array([10, 0, 10, 3, 0, 1]), np.array([1, 1, 1, 1])]


def _huffman_normalise(out, exp):
    n = len(exp) if exp is not None else len(np.asarray(out))
    t = as_tensor(out, (n,), "the code lengths")
    if (t < 0).any() or (t != t.round()).any():
        raise LearnerError("code lengths must be whole numbers of bits, >= 0")
    return t


def _huffman_same(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """Any optimal prefix code passes: same unused symbols, Kraft sum <= 1, and the lab's total bits
    (Huffman codes are not unique when counts tie, their total length is)."""
    counts = _current_counts(expected)
    if counts is None:
        return bool(torch.equal(got, expected))
    used = counts > 0
    if not torch.equal(got[~used], torch.zeros_like(got[~used])) or (got[used] < 1).any():
        return False
    kraft = float((2.0 ** -got[used]).sum())
    return kraft <= 1 + 1e-12 and float((got * counts).sum()) == float((expected * counts).sum())


def _current_counts(expected: torch.Tensor) -> torch.Tensor | None:
    for c in _COUNTS:
        if len(c) == len(expected) and torch.equal(torch.as_tensor(code_lengths(c), dtype=torch.float64), expected):
            return torch.as_tensor(c, dtype=torch.float64)
    return None


def _huff_fixed(counts):
    used = np.flatnonzero(counts)
    out = np.zeros(len(counts))
    out[used] = max(1, int(np.ceil(np.log2(len(used)))))
    return out


def _huff_shannon(counts):
    counts = np.asarray(counts, dtype=float)
    out = np.zeros(len(counts))
    used = counts > 0
    out[used] = np.ceil(-np.log2(counts[used] / counts.sum()))
    return out


def _huff_inverted(counts):
    ref = code_lengths(counts).astype(float)
    used = np.flatnonzero(counts)
    order = used[np.argsort(-np.asarray(counts)[used], kind="stable")]
    out = np.zeros(len(counts))
    out[order] = np.sort(ref[used])[::-1]
    return out


def _huff_unused_coded(counts):
    return code_lengths(np.maximum(np.asarray(counts), 1)).astype(float)


HUFFMAN = FunctionCheck(
    exercise="04.4", what="Huffman code lengths",
    cases=[(c,) for c in _COUNTS],
    reference=code_lengths,
    normalise=_huffman_normalise,
    same=_huffman_same,
    mistakes=[
        Mistake("inverted", _huff_inverted,
                "your frequent symbols got the long codes: the symbol seen most often must get the shortest "
                "code"),
        Mistake("unused symbols coded", _huff_unused_coded,
                "symbols that never occur (count 0) need no code: give them length 0 and build the tree from "
                "the others"),
        Mistake("fixed length", _huff_fixed,
                "every symbol got the same length: that is a fixed-length code; Huffman gives frequent symbols "
                "shorter codes"),
        Mistake("Shannon", _huff_shannon,
                "those are Shannon lengths (rounded-up -log2 p): a prefix code, but not the shortest one - build "
                "the tree by repeatedly merging the two rarest nodes"),
    ],
    generic_hint="repeatedly merge the two least frequent nodes into one; a symbol's code length is its depth in "
                 "the final tree (count-0 symbols: length 0)",
    figure=lambda case, got, exp: figures.bars([f"s{k} ({c})" for k, c in enumerate(case[0])], got, exp,
                                               "code length per symbol (count)", "bits"),
    describe=lambda case: f"counts {list(map(int, case[0]))}",
)
