"""Canonical Huffman coding of small-alphabet integer streams (k-means indices, sparse-index gaps).

Deep Compression (Han et al. 2016, https://arxiv.org/abs/1510.00149) Huffman-codes the cluster
indices and the relative positions of a pruned, shared network. The code here is the textbook
construction: code lengths from a min-heap over symbol counts, then canonical codes (codes of equal
length are consecutive integers in symbol order), so a decoder needs only the code length of every
symbol (one byte each) to rebuild the code.

    lengths = code_lengths(np.bincount(symbols, minlength=k))   # (k,) uint8, 0 = unused symbol
    data = encode(symbols, lengths)                              # bytes, MSB first
    symbols == decode(data, lengths, len(symbols))
"""
from __future__ import annotations

import heapq

import numpy as np


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code length (bits) of every symbol from its count; unused symbols get 0.

    A single used symbol gets length 1 (a code needs at least one bit per symbol).
    """
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(len(counts), dtype=np.int64)
    used = np.flatnonzero(counts)
    if len(used) == 0:
        return lengths.astype(np.uint8)
    if len(used) == 1:
        lengths[used[0]] = 1
        return lengths.astype(np.uint8)
    # heap of (count, tie-break, node); parent[] links every node to the internal node above it
    parent = [-1] * (2 * len(used) - 1)
    heap = [(int(counts[s]), i, i) for i, s in enumerate(used)]
    heapq.heapify(heap)
    node = len(used)
    while len(heap) > 1:
        c1, _, a = heapq.heappop(heap)
        c2, _, b = heapq.heappop(heap)
        parent[a] = parent[b] = node
        heapq.heappush(heap, (c1 + c2, node, node))
        node += 1
    depth = [0] * len(parent)
    for i in range(len(parent) - 2, -1, -1):      # parents have larger ids: walk from the root down
        depth[i] = depth[parent[i]] + 1
    lengths[used] = depth[:len(used)]
    if lengths.max() > 32:
        raise ValueError(f"Huffman code longer than 32 bits ({lengths.max()}); the stream is too skewed to code")
    return lengths.astype(np.uint8)


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical code (as an integer, read MSB first) of every symbol with length > 0."""
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = np.zeros(len(lengths), dtype=np.int64)
    used = np.flatnonzero(lengths)
    order = used[np.lexsort((used, lengths[used]))]       # by length, then symbol
    code, prev = 0, int(lengths[order[0]]) if len(order) else 0
    for i, s in enumerate(order.tolist()):
        length = int(lengths[s])
        if i > 0:
            code = (code + 1) << (length - prev)
        codes[s] = code
        prev = length
    return codes


def encode(symbols: np.ndarray, lengths: np.ndarray) -> bytes:
    """The bit stream of ``symbols`` (ints in [0, k)) under the code given by ``lengths``, padded to bytes."""
    symbols = np.asarray(symbols, dtype=np.int64)
    if len(symbols) == 0:
        return b""
    lengths = np.asarray(lengths, dtype=np.int64)
    if (lengths[symbols] == 0).any():
        raise ValueError("a symbol in the stream has no code (its count was 0 when the code was built)")
    codes = canonical_codes(lengths)
    lens, vals = lengths[symbols], codes[symbols]
    start = np.cumsum(lens) - lens
    bits = np.zeros(int(lens.sum()), dtype=np.uint8)
    for j in range(int(lens.max())):
        has = lens > j
        bits[start[has] + j] = (vals[has] >> (lens[has] - 1 - j)) & 1
    return np.packbits(bits).tobytes()


def decode(data: bytes, lengths: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`encode`: the first ``count`` symbols of the bit stream."""
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = canonical_codes(lengths)
    table = {(int(lengths[s]), int(codes[s])): s for s in np.flatnonzero(lengths)}
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tolist()
    out = np.empty(count, dtype=np.int64)
    code = length = n = 0
    for b in bits:
        if n == count:
            break
        code, length = (code << 1) | b, length + 1
        s = table.get((length, code))
        if s is not None:
            out[n] = s
            n += 1
            code = length = 0
    if n != count:
        raise ValueError(f"the Huffman stream holds {n} symbols, expected {count}")
    return out


def coded_bits(counts: np.ndarray) -> int:
    """Bits of the Huffman-coded stream whose symbol counts are ``counts`` (without the code table)."""
    counts = np.asarray(counts, dtype=np.int64)
    return int((code_lengths(counts).astype(np.int64) * counts).sum())
