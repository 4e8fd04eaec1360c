"""``lab.packed/1``: the documented on-disk format whose real size is the lab's storage cost S(θ).

A pruned, shared or quantized network still holds float32 tensors in memory, so ``torch.save`` of
its state dict is as big as the dense model. This format stores what the weights really need:

    file    = b"LABPACK1" | header length (uint32, little endian) | header | payload
              (header: zlib-compressed UTF-8 JSON)
    header  = {"format": "lab.packed/1", "tensors": [entry, ...]}
    entry   = {"name", "shape", "dtype", "pos": {...}, "val": {...}, "segments": [byte lengths]}

Floating-point tensors are stored as *positions* of the non-zero entries plus their *values*;
every tensor gets the smallest of these exact (lossless) encodings:

positions (``pos.kind``)
    ``dense``     every entry stored (zeros included), no position data
    ``bitmask``   one bit per entry, 1 = non-zero
    ``gaps``      distance to the previous non-zero in ``bits`` bits (relative indexing as in
                  Deep Compression); the largest symbol 2^bits - 1 means "skip that many, no value"
    ``gaps_huff`` the same gap symbols (8-bit alphabet), Huffman-coded
values (``val.kind``)
    ``fp32``      raw float32
    ``codebook``  k distinct values as a float32 codebook + one ceil(log2 k)-bit index per value
    ``codebook_huff`` the same indices Huffman-coded (code lengths stored, one byte per symbol)
    ``grid``      per row (first axis) an affine grid: float32 offset and step per row, one
                  ``bits``-bit integer per value (what per-channel b-bit quantization leaves)

Non-float tensors (int8 weights of a converted graph, int64 zero points, counters) are stored raw.
Bits are packed MSB first with ``numpy.packbits``. :func:`read_packed` decodes a file back to a
state dict, which the tests compare with the original (exact, or within float rounding for ``grid``).
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..atomic import atomic_write_bytes
from . import huffman

MAGIC = b"LABPACK1"
FORMAT = "lab.packed/1"
_MAX_CODEBOOK = 1 << 16


@dataclass
class PackStats:
    """What was written: total file bytes and per-tensor encodings and payload bytes."""

    path: Path
    bytes: int
    tensors: dict[str, dict] = field(default_factory=dict)


# --- bit packing ------------------------------------------------------------------------
def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Non-negative ints (< 2^bits) as a big-endian bit stream padded to whole bytes."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0 or bits == 0:
        return b""
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    return np.packbits(((values[:, None] >> shifts) & 1).astype(np.uint8).ravel()).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> np.ndarray:
    if count == 0 or bits == 0:
        return np.zeros(count, dtype=np.int64)
    raw = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits].reshape(count, bits)
    return raw.astype(np.int64) @ (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))


def _bits_for(k: int) -> int:
    return max(1, math.ceil(math.log2(k))) if k > 1 else 1


# --- positions -------------------------------------------------------------------------
def _gap_symbols(nz: np.ndarray, bits: int) -> np.ndarray:
    """Relative-index symbols: each non-zero's distance to the previous one (first: to -1)."""
    escape = (1 << bits) - 1
    gaps = np.diff(np.concatenate([[-1], nz])) - 1          # zeros skipped before each non-zero
    fillers = gaps // escape                                  # escape symbols needed before it
    out = np.repeat(np.full(len(gaps), escape), fillers)
    # interleave: fillers of entry i then its remainder
    symbols = np.empty(len(gaps) + int(fillers.sum()), dtype=np.int64)
    ends = np.cumsum(fillers + 1) - 1
    symbols[ends] = gaps - fillers * escape
    mask = np.ones(len(symbols), dtype=bool)
    mask[ends] = False
    symbols[mask] = out
    return symbols


def _from_gaps(symbols: np.ndarray, bits: int) -> np.ndarray:
    escape = (1 << bits) - 1
    positions, pos = [], -1
    for s in symbols.tolist():
        if s == escape:
            pos += escape
        else:
            pos += s + 1
            positions.append(pos)
    return np.asarray(positions, dtype=np.int64)


def _position_candidates(mask: np.ndarray) -> list[tuple[dict, list[bytes]]]:
    n, nz = mask.size, np.flatnonzero(mask)
    out: list[tuple[dict, list[bytes]]] = [({"kind": "dense"}, [])]
    if len(nz) == n:
        return out
    out.append(({"kind": "bitmask"}, [np.packbits(mask.astype(np.uint8)).tobytes()]))
    for bits in range(2, 9):
        sym = _gap_symbols(nz, bits)
        out.append(({"kind": "gaps", "bits": bits, "count": len(sym)}, [pack_bits(sym, bits)]))
    sym = _gap_symbols(nz, 8)
    if len(sym):
        lengths = huffman.code_lengths(np.bincount(sym, minlength=256))
        out.append(({"kind": "gaps_huff", "bits": 8, "count": len(sym)},
                    [lengths.tobytes(), huffman.encode(sym, lengths)]))
    return out


def _decode_positions(pos: dict, segments: list[bytes], n: int) -> np.ndarray | None:
    kind = pos["kind"]
    if kind == "dense":
        return None
    if kind == "bitmask":
        return np.flatnonzero(np.unpackbits(np.frombuffer(segments[0], dtype=np.uint8))[:n])
    if kind == "gaps":
        return _from_gaps(unpack_bits(segments[0], pos["bits"], pos["count"]), pos["bits"])
    if kind == "gaps_huff":
        lengths = np.frombuffer(segments[0], dtype=np.uint8)
        return _from_gaps(huffman.decode(segments[1], lengths, pos["count"]), pos["bits"])
    raise ValueError(f"unknown position encoding {kind!r} in a {FORMAT} file")


# --- values ----------------------------------------------------------------------------
def _grid(values_2d: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Per-row (offset, step, codes) when every row's values lie exactly on an affine grid."""
    offsets, steps, codes = [], [], []
    for row in values_2d:
        if len(row) == 0:
            offsets.append(0.0), steps.append(1.0), codes.append(np.zeros(0, dtype=np.int64))
            continue
        u = np.unique(row).astype(np.float64)
        lo, step = float(u[0]), 1.0
        if len(u) > 1:
            levels = round((u[-1] - u[0]) / np.diff(u).min())
            if levels >= _MAX_CODEBOOK:
                return None
            step = (u[-1] - u[0]) / levels                    # refine the step over the whole range
        q = np.rint((row.astype(np.float64) - lo) / step).astype(np.int64)
        recon = (np.float32(lo) + q.astype(np.float32) * np.float32(step)).astype(np.float32)
        tol = 2e-6 * max(float(np.abs(u).max()), 1e-12)
        if np.abs(recon - row).max() > tol or q.max() >= _MAX_CODEBOOK:
            return None
        offsets.append(lo), steps.append(step), codes.append(q)
    top = max((int(c.max()) for c in codes if len(c)), default=0)
    return (np.asarray(offsets, dtype=np.float32), np.asarray(steps, dtype=np.float32),
            np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64), _bits_for(top + 1))


def _value_candidates(values: np.ndarray, rows: list[np.ndarray] | None) -> list[tuple[dict, list[bytes]]]:
    out: list[tuple[dict, list[bytes]]] = [({"kind": "fp32"}, [values.astype("<f4").tobytes()])]
    if len(values) == 0:
        return out
    book, idx = np.unique(values, return_inverse=True)
    # a codebook can only win when k float32 entries plus log2(k)-bit indices undercut 32 bits a value
    if len(book) * 32 + len(values) * _bits_for(len(book)) < len(values) * 32 and len(book) <= _MAX_CODEBOOK:
        bits = _bits_for(len(book))
        out.append(({"kind": "codebook", "k": len(book), "bits": bits},
                    [book.astype("<f4").tobytes(), pack_bits(idx, bits)]))
        lengths = huffman.code_lengths(np.bincount(idx, minlength=len(book)))
        out.append(({"kind": "codebook_huff", "k": len(book)},
                    [book.astype("<f4").tobytes(), lengths.tobytes(), huffman.encode(idx, lengths)]))
    if rows is not None and len(rows) > 1:
        grid = _grid(rows)
        if grid is not None:
            offsets, steps, codes, bits = grid
            out.append(({"kind": "grid", "bits": bits, "rows": [len(r) for r in rows]},
                        [offsets.astype("<f4").tobytes(), steps.astype("<f4").tobytes(), pack_bits(codes, bits)]))
    return out


def _decode_values(val: dict, segments: list[bytes], count: int) -> np.ndarray:
    kind = val["kind"]
    if kind == "fp32":
        return np.frombuffer(segments[0], dtype="<f4").copy()
    if kind == "codebook":
        return np.frombuffer(segments[0], dtype="<f4")[unpack_bits(segments[1], val["bits"], count)]
    if kind == "codebook_huff":
        lengths = np.frombuffer(segments[1], dtype=np.uint8)
        return np.frombuffer(segments[0], dtype="<f4")[huffman.decode(segments[2], lengths, count)]
    if kind == "grid":
        offsets = np.frombuffer(segments[0], dtype="<f4")
        steps = np.frombuffer(segments[1], dtype="<f4")
        codes = unpack_bits(segments[2], val["bits"], count).astype(np.float32)
        row_of = np.repeat(np.arange(len(val["rows"])), val["rows"])
        return (offsets[row_of] + codes * steps[row_of]).astype(np.float32)
    raise ValueError(f"unknown value encoding {kind!r} in a {FORMAT} file")


# --- tensors ---------------------------------------------------------------------------
def _encode_float(t: Tensor) -> tuple[dict, dict, list[bytes]]:
    """Smallest (positions, values) pair: values are the same for every sparse position code,
    so values are tried with the dense layout and with the smallest sparse position code."""
    flat = t.detach().cpu().float().reshape(-1).numpy()
    mask = flat != 0
    cands = _position_candidates(mask)
    layouts = [cands[0]]
    if len(cands) > 1:
        layouts.append(min(cands[1:], key=lambda c: sum(map(len, c[1]))))
    best = None
    for pos, pos_segs in layouts:
        dense = pos["kind"] == "dense"
        keep = flat if dense else flat[mask]
        rows = None
        if t.dim() >= 2:
            full = flat.reshape(t.shape[0], -1)
            row_mask = mask.reshape(t.shape[0], -1)
            rows = [full[r] if dense else full[r][row_mask[r]] for r in range(t.shape[0])]
        for val, val_segs in _value_candidates(keep, rows):
            size = sum(map(len, pos_segs)) + sum(map(len, val_segs))
            if best is None or size < best[0]:
                best = (size, pos, val, pos_segs + val_segs)
    assert best is not None
    return best[1], best[2], best[3]


def pack_state_dict(state: dict[str, Tensor]) -> tuple[bytes, dict[str, dict]]:
    """The packed file contents and, per tensor, its chosen encodings and payload bytes."""
    entries, payload, info = [], [], {}
    for name, t in state.items():
        if not isinstance(t, Tensor):
            raise ValueError(f"{FORMAT} stores tensors only; {name!r} is a {type(t).__name__} "
                             "(e.g. packed parameters of a torch.ao quantized module)")
        if type(t) not in (Tensor, torch.nn.Parameter):
            raise ValueError(f"{FORMAT} stores plain tensors only; {name!r} is a {type(t).__name__}")
        if t.is_quantized:
            raise ValueError(f"{FORMAT} does not store torch quantized tensors ({name!r}, {t.dtype})")
        entry = {"name": name, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
        if t.is_floating_point():
            pos, val, segments = _encode_float(t)
            entry.update(pos=pos, val=val)
        else:
            segments = [t.detach().cpu().contiguous().numpy().tobytes()]
            entry.update(pos={"kind": "dense"}, val={"kind": "raw"})
        entry["segments"] = [len(s) for s in segments]
        entries.append(entry)
        payload.extend(segments)
        info[name] = {"pos": entry["pos"]["kind"], "val": entry["val"]["kind"], "bytes": sum(entry["segments"])}
    header = zlib.compress(json.dumps({"format": FORMAT, "tensors": entries}, separators=(",", ":")).encode(), 9)
    return MAGIC + struct.pack("<I", len(header)) + header + b"".join(payload), info


def write_packed(state: dict[str, Tensor], path: str | os.PathLike) -> PackStats:
    """Write ``state`` in ``lab.packed/1`` atomically; the stats' ``bytes`` is the file's size on disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob, info = pack_state_dict(state)
    atomic_write_bytes(path, blob)
    return PackStats(path, path.stat().st_size, info)


def read_packed(path: str | os.PathLike) -> dict[str, Tensor]:
    """Decode a ``lab.packed/1`` file back to a state dict (name -> tensor)."""
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not a {FORMAT} file")
    (hlen,) = struct.unpack("<I", data[8:12])
    header = json.loads(zlib.decompress(data[12:12 + hlen]))
    offset, state = 12 + hlen, {}
    for e in header["tensors"]:
        segments = []
        for length in e["segments"]:
            segments.append(data[offset:offset + length])
            offset += length
        shape, dtype = tuple(e["shape"]), getattr(torch, e["dtype"])
        n = math.prod(shape)
        if e["val"]["kind"] == "raw":
            arr = np.frombuffer(segments[0], dtype=torch.empty(0, dtype=dtype).numpy().dtype).copy()
            state[e["name"]] = torch.from_numpy(arr).reshape(shape)
            continue
        npos = len(e["pos"]) and {"dense": 0, "bitmask": 1, "gaps": 1, "gaps_huff": 2}[e["pos"]["kind"]]
        positions = _decode_positions(e["pos"], segments[:npos], n)
        count = n if positions is None else len(positions)
        values = _decode_values(e["val"], segments[npos:], count)
        flat = values if positions is None else np.zeros(n, dtype=np.float32)
        if positions is not None:
            flat[positions] = values
        state[e["name"]] = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32)).reshape(shape).to(dtype)
    return state
