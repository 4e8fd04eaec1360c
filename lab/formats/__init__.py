"""On-disk formats that only encode tensors and bytes (no models, no training): the lowest layer.

* :mod:`lab.formats.packed` - ``lab.packed/1``, the packed state-dict format whose real size is the
  lab's storage cost S(θ) (sparse positions, codebooks, per-row grids);
* :mod:`lab.formats.huffman` - canonical Huffman coding of small-alphabet integer streams, used by it.
"""
from .packed import FORMAT, PackStats, read_packed, write_packed

__all__ = ["FORMAT", "PackStats", "read_packed", "write_packed"]
