"""Linear interpolation of a displayed plane along its coarse axis (thick slices in a reformat).

A coronal or sagittal reformat of a 5 mm axial series has one image row per 5 mm but about
0.7 mm per column; drawn as is, every row is a 5 mm tall block. For display only, the plane is
resampled along that axis onto ``factor`` rows per source row by linear interpolation between
neighbouring slices (as Weasis and Slicer show reformats). Sub-row centres keep the source
geometry: sub-row ``j`` sits at source index ``(j + 0.5) / factor - 0.5`` (clamped at the
ends), so the picture covers exactly the same millimetres. Read-outs and statistics never use
the interpolated values; they read the voxels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

MAX_FACTOR = 8  # a 10 mm series at 0.6 mm pixels needs ~16; 8 is smooth enough and keeps it fast


def upsample_factor(coarse_mm: float, fine_mm: float, max_factor: int = MAX_FACTOR) -> int:
    """Sub-rows per source row so that rows are about as tall as columns are wide (1 = none)."""
    if coarse_mm <= 0 or fine_mm <= 0:
        return 1
    return int(max(1, min(max_factor, round(coarse_mm / fine_mm))))


@lru_cache(maxsize=32)
def _weights(n: int, factor: int) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Lower source index of each sub-row and its weight towards the next source row."""
    position = (np.arange(n * factor, dtype=np.float64) + 0.5) / factor - 0.5
    np.clip(position, 0.0, max(n - 1, 0), out=position)
    lower = np.minimum(np.floor(position).astype(np.intp), max(n - 2, 0))
    weight = (position - lower).astype(np.float32)
    lower.setflags(write=False)
    weight.setflags(write=False)
    return lower, weight


def upsample_rows(
    plane: NDArray[np.generic], factor: int, out: NDArray[np.float32] | None = None
) -> NDArray[np.float32]:
    """``plane`` (rows, cols) with ``factor`` linearly interpolated rows per row, as float32."""
    rows = plane.shape[0]
    if out is None or out.shape != (rows * factor, *plane.shape[1:]):
        out = np.empty((rows * factor, *plane.shape[1:]), dtype=np.float32)
    if rows < 2 or factor == 1:
        np.copyto(out, np.repeat(plane, factor, axis=0), casting="unsafe")
        return out
    source = np.asarray(plane, dtype=np.float32)
    lower, weight = _weights(rows, factor)
    step = source[1:] - source[:-1]  # (rows - 1, cols): one pass, reused by every sub-row
    np.take(source, lower, axis=0, out=out)
    out += step[lower] * weight.reshape(-1, *([1] * (plane.ndim - 1)))
    return out


def upsample_plane(plane: NDArray[np.generic], row_factor: int, col_factor: int) -> NDArray[np.generic]:
    """Interpolate along rows and/or columns; the plane itself when both factors are 1."""
    result: NDArray[np.generic] = plane
    if row_factor > 1:
        result = upsample_rows(result, row_factor)
    if col_factor > 1:
        result = upsample_rows(np.swapaxes(result, 0, 1), col_factor).swapaxes(0, 1)
    return result
