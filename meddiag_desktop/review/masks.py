"""Compact, exact storage of boolean masks: bit-packed then zlib-compressed."""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

_HEADER = struct.Struct("<III")


def encode_mask(mask: NDArray[np.bool_]) -> bytes:
    """Shape header + zlib(packbits(mask)). Lossless; ~100x smaller than raw for lesions."""
    if mask.ndim != 3:
        raise ValueError("masks are 3D (z, y, x)")
    header = _HEADER.pack(*mask.shape)
    return header + zlib.compress(np.packbits(mask.astype(bool), axis=None).tobytes(), 6)


def decode_mask(blob: bytes) -> NDArray[np.bool_]:
    shape = _HEADER.unpack_from(blob, 0)
    bits = np.frombuffer(zlib.decompress(blob[_HEADER.size :]), dtype=np.uint8)
    count = int(np.prod(shape))
    return np.unpackbits(bits, count=count).astype(bool).reshape(shape)
