"""Fast binary morphology on ``(z, y, x)`` masks, in-plane (per axial slice).

SimpleITK's binary dilation costs about 1 s per 35 M voxels whatever the radius; shifting
boolean arrays costs a few ms per shift. The structuring element is an in-plane ellipse of
physical radius ``mm`` (a disk on square pixels), built as the union over rows ``dy`` of a
horizontal run of half-width ``w(dy)``. Whole-slice operations (hole filling, 2D
components) run as one SimpleITK call on the slices stacked into one tall 2D image, each
slice framed by a background border so nothing connects across slices.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.inference._sitk import sitk

if TYPE_CHECKING:
    from numpy.typing import NDArray

    BoolArray = NDArray[np.bool_]

Spacing = tuple[float, float, float]


def radius_px(spacing: Spacing, mm: float) -> tuple[int, int]:
    """In-plane ``(rows, columns)`` radius in pixels of a physical radius (0 when ``mm`` is 0)."""
    if mm <= 0:
        return 0, 0
    return max(1, round(mm / spacing[1])), max(1, round(mm / spacing[2]))


def _half_widths(ry: int, rx: int) -> list[int]:
    """Half-width of the ellipse's run at each row offset ``0..ry``."""
    if ry == 0:
        return [rx]
    return [math.floor((rx + 0.5) * math.sqrt(1.0 - (dy / (ry + 0.5)) ** 2) + 1e-9) for dy in range(ry + 1)]


def _shift_or(out: BoolArray, src: BoolArray, shift: int, axis: int) -> None:
    """``out |= src`` shifted by ``+shift`` and ``-shift`` along ``axis`` (1 = rows, 2 = columns)."""
    n = src.shape[axis]
    if shift <= 0 or shift >= n:
        return
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis], hi[axis] = slice(None, n - shift), slice(shift, None)
    out[tuple(hi)] |= src[tuple(lo)]
    out[tuple(lo)] |= src[tuple(hi)]


def _dilate_full(mask: BoolArray, ry: int, rx: int) -> BoolArray:
    widths = _half_widths(ry, rx)
    runs = [mask]
    for w in range(1, max(widths) + 1):  # runs[w]: mask dilated by a horizontal run of half-width w
        nxt = runs[-1].copy()
        _shift_or(nxt, mask, w, axis=2)
        runs.append(nxt)
    out = runs[widths[0]].copy()
    for dy in range(1, ry + 1):
        _shift_or(out, runs[widths[dy]], dy, axis=1)
    return out


def bbox(mask: BoolArray) -> tuple[slice, slice, slice] | None:
    zs, ys, xs = (np.flatnonzero(mask.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    if len(zs) == 0:
        return None
    return slice(zs[0], zs[-1] + 1), slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)


def dilate(mask: BoolArray, spacing: Spacing, mm: float) -> BoolArray:
    """In-plane dilation by an ellipse of radius ``mm``."""
    ry, rx = radius_px(spacing, mm)
    box = bbox(mask)
    if box is None or (ry == 0 and rx == 0):
        return mask.copy()
    z, y, x = box
    y2 = slice(max(0, y.start - ry), min(mask.shape[1], y.stop + ry))
    x2 = slice(max(0, x.start - rx), min(mask.shape[2], x.stop + rx))
    out = np.zeros_like(mask)
    out[z, y2, x2] = _dilate_full(mask[z, y2, x2], ry, rx)
    return out


def erode(mask: BoolArray, spacing: Spacing, mm: float) -> BoolArray:
    """In-plane erosion by an ellipse of radius ``mm``; outside the array counts as background."""
    ry, rx = radius_px(spacing, mm)
    box = bbox(mask)
    if box is None or (ry == 0 and rx == 0):
        return mask.copy()
    z, y, x = box
    crop = np.pad(mask[z, y, x], ((0, 0), (ry, ry), (rx, rx)))
    eroded = ~_dilate_full(~crop, ry, rx)
    out = np.zeros_like(mask)
    out[z, y, x] = eroded[:, ry : crop.shape[1] - ry, rx : crop.shape[2] - rx]
    return out


def close(mask: BoolArray, spacing: Spacing, mm: float) -> BoolArray:
    """In-plane closing (dilate, then erode); the array border does not erode the result."""
    ry, rx = radius_px(spacing, mm)
    box = bbox(mask)
    if box is None or (ry == 0 and rx == 0):
        return mask.copy()
    z, y, x = box
    crop = np.pad(mask[z, y, x], ((0, 0), (2 * ry, 2 * ry), (2 * rx, 2 * rx)))
    closed = ~_dilate_full(~_dilate_full(crop, ry, rx), ry, rx)
    out = mask.copy()
    out[z, y, x] |= closed[:, 2 * ry : crop.shape[1] - 2 * ry, 2 * rx : crop.shape[2] - 2 * rx]
    return out


def open_(mask: BoolArray, spacing: Spacing, mm: float) -> BoolArray:
    """In-plane opening (erode, then dilate)."""
    return dilate(erode(mask, spacing, mm), spacing, mm)


def _stacked(mask: BoolArray) -> NDArray[np.uint8]:
    nz, ny, nx = mask.shape
    framed = np.zeros((nz, ny + 2, nx + 2), dtype=np.uint8)
    framed[:, 1:-1, 1:-1] = mask
    return framed.reshape(nz * (ny + 2), nx + 2)


def _unstacked(flat: NDArray[np.generic], shape: tuple[int, int, int]) -> NDArray[np.generic]:
    nz, ny, nx = shape
    return flat.reshape(nz, ny + 2, nx + 2)[:, 1:-1, 1:-1]


def fill_holes_per_slice(mask: BoolArray) -> BoolArray:
    """Fill the enclosed holes of each axial slice (background 4-connected to the border)."""
    box = bbox(mask)
    out = mask.copy()
    if box is None:
        return out
    crop = mask[box]
    filled = sitk.GetArrayFromImage(sitk.BinaryFillhole(sitk.GetImageFromArray(_stacked(crop))))
    out[box] = _unstacked(np.asarray(filled), crop.shape).astype(bool)
    return out


def label_per_slice(mask: BoolArray) -> NDArray[np.int32]:
    """4-connected components of each axial slice, numbered 1..n across the whole volume."""
    if mask.size == 0 or not mask.any():
        return np.zeros(mask.shape, dtype=np.int32)
    labels = np.asarray(sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(_stacked(mask)))))
    return np.ascontiguousarray(_unstacked(labels.view(np.int32), mask.shape))


def label_3d(mask: BoolArray, fully_connected: bool = False) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """3D components sorted by size (1 = largest) and their voxel counts (index 0 = label 1)."""
    if mask.size == 0 or not mask.any():
        return np.zeros(mask.shape, dtype=np.int32), np.zeros(0, dtype=np.int64)
    image = sitk.ConnectedComponent(sitk.GetImageFromArray(np.ascontiguousarray(mask).view(np.uint8)), fully_connected)
    relabel = sitk.RelabelComponentImageFilter()
    relabel.SetSortByObjectSize(True)
    labels = np.asarray(sitk.GetArrayFromImage(relabel.Execute(image))).view(np.int32)  # counts < 2**31
    return labels, np.asarray(relabel.GetSizeOfObjectsInPixels(), dtype=np.int64)
