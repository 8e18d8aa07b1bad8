"""Other samplings of a scan, the way scanners make them: thicker slices, finer spacing, coarser pixels.

A 3 mm series averaged in groups of three is an honest 9 mm series (same photons, thicker
slab), unlike interpolation, which invents nothing but also removes no noise. Used to test the
lesion models on thick-slice versions of real scans, and to train them on such versions.
Reslicing at a finer spacing (an overlapping reconstruction) and averaging into coarser pixels
(a larger field of view) test that a model's findings do not depend on how the scan was sampled.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume


def slices_per_group(volume: Volume, target_mm: float) -> int:
    """How many consecutive slices make one slice of about ``target_mm``."""
    if target_mm <= 0:
        raise ValueError(f"target slice thickness must be positive, got {target_mm}")
    return max(1, round(target_mm / volume.spacing[0]))


def _grouped(shape_z: int, group: int) -> int:
    return shape_z // group


def average_slices(volume: Volume, target_mm: float) -> Volume:
    """A volume whose slices are the means of ``group`` consecutive source slices.

    Trailing slices that do not fill a group are dropped. The new slice centre is the centre of
    its group, so world positions are preserved. Uneven-spacing information is not carried over
    (averaging needs an even grid).
    """
    group = slices_per_group(volume, target_mm)
    if group == 1:
        return volume
    n = _grouped(volume.shape[0], group)
    if n == 0:
        raise ValueError(f"{volume.shape[0]} slices are too few to average in groups of {group}")
    src = np.asarray(volume.array[: n * group], dtype=np.float32)
    thick = src.reshape(n, group, *src.shape[1:]).mean(axis=1, dtype=np.float32)
    if np.issubdtype(volume.array.dtype, np.integer):
        thick = np.rint(thick).astype(volume.array.dtype)
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, 3] + volume.affine[:3, 0] * (group - 1) / 2.0
    affine[:3, 0] = volume.affine[:3, 0] * group
    uids = volume.source_sop_instance_uids
    centre_uids = tuple(uids[i * group + group // 2] for i in range(n)) if uids else ()
    return replace(volume, array=thick, affine=affine, source_sop_instance_uids=centre_uids, slice_positions=None)


def average_mask(mask: NDArray[np.bool_], group: int) -> NDArray[np.bool_]:
    """A label mask on the averaged grid: a thick voxel is inside when half its source voxels are."""
    if group == 1:
        return mask
    n = _grouped(mask.shape[0], group)
    grouped = mask[: n * group].reshape(n, group, *mask.shape[1:])
    return np.asarray(grouped.sum(axis=1) * 2 >= group)


# -- finer slice spacing and coarser pixels: the other sampling a hospital's scanners produce -------


def reslice_positions(n_slices: int, spacing_mm: float, target_mm: float) -> NDArray[np.float64]:
    """Source slice coordinates (fractional indices) of slices every ``target_mm`` from the first."""
    if not 0 < target_mm < spacing_mm:
        raise ValueError(f"reslicing needs a spacing finer than {spacing_mm:g} mm, got {target_mm:g} mm")
    count = int(np.floor((n_slices - 1) * spacing_mm / target_mm + 1e-6)) + 1
    return np.arange(count, dtype=np.float64) * (target_mm / spacing_mm)


def reslice_finer(volume: Volume, target_mm: float) -> Volume:
    """Slices every ``target_mm``, each interpolated linearly between its two acquired neighbours.

    This is how an overlapping reconstruction of the same slices looks (1 mm apart, 3 mm thick):
    finer spacing with no new detail. The first slice stays where it was.
    """
    positions = reslice_positions(volume.shape[0], volume.spacing[0], target_mm)
    lower = np.minimum(np.floor(positions).astype(np.intp), volume.shape[0] - 2)
    weight = (positions - lower).astype(np.float32)
    out = np.empty((len(positions), *volume.array.shape[1:]), dtype=volume.array.dtype)
    for k, (i, w) in enumerate(zip(lower, weight, strict=True)):
        value = volume.array[i].astype(np.float32) * (1 - w) + volume.array[i + 1].astype(np.float32) * w
        out[k] = np.rint(value) if np.issubdtype(out.dtype, np.integer) else value
    affine = volume.affine.copy()
    affine[:3, 0] = volume.affine[:3, 0] * (target_mm / volume.spacing[0])
    uids = volume.source_sop_instance_uids
    nearest = _nearest(positions)
    return replace(
        volume, array=out, affine=affine, slice_positions=None,
        source_sop_instance_uids=tuple(uids[i] for i in nearest) if uids else (),
    )  # fmt: skip


def reslice_mask(mask: NDArray[np.bool_], positions: NDArray[np.float64]) -> NDArray[np.bool_]:
    """A label mask on the resliced grid: each new slice takes its nearest acquired slice's outline."""
    return np.asarray(mask[_nearest(positions)])


def _nearest(positions: NDArray[np.float64]) -> NDArray[np.intp]:
    """Nearest slice, halves rounded up (``rint`` would round 2.5 and 3.5 alike to even, uneven layers)."""
    return np.floor(positions + 0.5).astype(np.intp)


def area_weights(n_pixels: int, factor: float) -> NDArray[np.float32]:
    """``(n_out, n_pixels)`` weights: each coarse pixel is the mean of the fine area it covers."""
    if factor <= 1:
        raise ValueError(f"coarser pixels need a factor above 1, got {factor:g}")
    n_out = int(np.floor(n_pixels / factor + 1e-6))
    lo = np.arange(n_out)[:, None] * factor
    edges = np.arange(n_pixels)[None, :]
    overlap = np.clip(np.minimum(lo + factor, edges + 1) - np.maximum(lo, edges), 0.0, None)
    return np.asarray(overlap / factor, dtype=np.float32)


def coarser_pixels(volume: Volume, target_mm: float) -> Volume:
    """Square pixels of ``target_mm``, each the mean of the area it covers, as a larger field of view gives.

    A 500 mm field of view on a 512 matrix gives 0.98 mm pixels, a 700 mm one 1.37 mm; each coarse
    pixel averages the detector signal over its area, which these weights model.
    """
    _, dy, dx = volume.spacing
    if target_mm <= max(dy, dx):
        raise ValueError(f"pixels of {target_mm:g} mm are not coarser than {dy:.2f} x {dx:.2f} mm")
    wy, wx = area_weights(volume.shape[1], target_mm / dy), area_weights(volume.shape[2], target_mm / dx)
    out = np.empty((volume.shape[0], wy.shape[0], wx.shape[0]), dtype=volume.array.dtype)
    for z in range(volume.shape[0]):
        value = wy @ volume.array[z].astype(np.float32) @ wx.T
        out[z] = np.rint(value) if np.issubdtype(out.dtype, np.integer) else value
    affine = volume.affine.copy()
    for axis, factor in ((1, target_mm / dy), (2, target_mm / dx)):
        affine[:3, axis] = volume.affine[:3, axis] * factor
        affine[:3, 3] += volume.affine[:3, axis] * (factor - 1) / 2.0  # coarse centre: middle of its area
    return replace(volume, array=out, affine=affine)


def coarser_mask(mask: NDArray[np.bool_], volume: Volume, target_mm: float, *, any_part: bool) -> NDArray[np.bool_]:
    """A label mask on :func:`coarser_pixels`' grid of ``volume``: voxels at least half inside (or any part)."""
    _, dy, dx = volume.spacing
    wy, wx = area_weights(mask.shape[1], target_mm / dy), area_weights(mask.shape[2], target_mm / dx)
    out = np.zeros((mask.shape[0], wy.shape[0], wx.shape[0]), dtype=np.bool_)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        fraction = wy @ mask[z].astype(np.float32) @ wx.T
        out[z] = fraction > 1e-6 if any_part else fraction >= 0.5
    return out
