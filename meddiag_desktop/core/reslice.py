"""Thick slices made from thin ones, the way a scanner reconstructs them: by averaging.

A 3 mm series averaged in groups of three is an honest 9 mm series (same photons, thicker
slab), unlike interpolation, which invents nothing but also removes no noise. Used to test the
lesion models on thick-slice versions of real scans, and to train them on such versions.
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
