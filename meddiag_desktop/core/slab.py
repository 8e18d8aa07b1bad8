"""Thick slab display: the maximum (MIP) or mean of the slices around the current plane.

Radiologists find nodules on 5-20 mm maximum-intensity projections: a vessel stays a line
through the slab while a nodule stays a blob. The slab is centred on the current plane and
covers ``2 * half + 1`` slices, about ``thickness_mm`` of tissue; it is cut off at the ends of
the volume. Display only: read-outs and statistics always read the voxels of the plane itself.
"""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

MIN_MM, MAX_MM, DEFAULT_MM = 5.0, 20.0, 10.0


class SlabMode(enum.Enum):
    OFF = "off"
    MIP = "MIP"
    MEAN = "mean"


def slab_half_count(thickness_mm: float, spacing_mm: float) -> int:
    """Slices on each side of the plane so that the slab is about ``thickness_mm`` thick."""
    if thickness_mm <= 0 or spacing_mm <= 0:
        return 0
    return max(0, math.floor((thickness_mm / spacing_mm - 1.0) / 2.0 + 0.5))


def slab_bounds(index: int, half: int, count: int) -> tuple[int, int]:
    """The ``[start, stop)`` slices of the slab around ``index``, cut off at the volume's ends."""
    return max(0, index - half), min(count, index + half + 1)


def slab_project(array: NDArray[np.generic], axis: int, index: int, half: int, mode: SlabMode) -> NDArray[np.float32]:
    """The slab's projection along ``axis`` (that axis removed; the others keep their order).

    Parameters
    ----------
    array
        The volume, any real dtype.
    axis
        The array axis the slab runs along (the view's slice axis).
    index, half
        The slab is slices ``index - half`` to ``index + half`` (cut off at the ends).
    mode
        ``SlabMode.MIP`` (maximum) or ``SlabMode.MEAN``; ``OFF`` gives the plane itself.
    """
    start, stop = slab_bounds(index, 0 if mode is SlabMode.OFF else half, array.shape[axis])
    key: list[slice] = [slice(None)] * array.ndim
    key[axis] = slice(start, stop)
    slab: NDArray[Any] = array[tuple(key)]
    if mode is SlabMode.MEAN:
        return np.asarray(np.mean(slab, axis=axis, dtype=np.float32), dtype=np.float32)
    return np.asarray(np.max(slab, axis=axis), dtype=np.float32)


def slab_label(mode: SlabMode, thickness_mm: float) -> str:
    """Corner text for a slab: "MIP 10 mm", "Mean 10 mm", or "" when off."""
    if mode is SlabMode.OFF:
        return ""
    name = "MIP" if mode is SlabMode.MIP else "Mean"
    return f"{name} {thickness_mm:g} mm"
