"""Resampling between a volume's own voxel grid and a model's axis-aligned LPS grid.

The source grid is described only by the volume's 4x4 affine (index -> LPS), so oblique,
flipped and sheared (gantry-tilt) acquisitions are handled exactly: the volume is wrapped as
an ITK image in index space and an affine transform carries LPS points to source indices.
Mapping results back uses the inverse transform, so every output lands on the original grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.inference._sitk import sitk

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class Grid:
    """An axis-aligned LPS grid: voxel ``(z, y, x)`` centre is ``origin + index * spacing``.

    Axis order matches the arrays: z = superior, y = posterior, x = patient left.
    """

    origin_lps: tuple[float, float, float]  # (x, y, z) LPS of voxel (0, 0, 0)
    spacing: tuple[float, float, float]  # (z, y, x) mm
    shape: tuple[int, int, int]  # (z, y, x)

    @property
    def affine(self) -> NDArray[np.float64]:
        """The 4x4 index ``(z, y, x)`` -> LPS affine of this grid."""
        a = np.zeros((4, 4))
        a[2, 0], a[1, 1], a[0, 2] = self.spacing
        a[:3, 3] = self.origin_lps
        a[3, 3] = 1.0
        return a

    def crop(self, start: tuple[int, int, int], shape: tuple[int, int, int]) -> Grid:
        """The sub-grid starting at index ``start``."""
        o = np.asarray(self.origin_lps) + np.asarray(start)[::-1] * np.asarray(self.spacing)[::-1]
        return Grid((float(o[0]), float(o[1]), float(o[2])), self.spacing, shape)


def _xyz_matrix(affine: NDArray[np.float64]) -> NDArray[np.float64]:
    """3x3 matrix mapping ITK-order index ``(x, y, z)`` to LPS."""
    return np.asarray(affine[:3, [2, 1, 0]], dtype=np.float64)


def _index_image(array: NDArray[np.generic]) -> Any:
    return sitk.GetImageFromArray(np.ascontiguousarray(array))


def _grid_reference(grid: Grid) -> Any:
    ref = sitk.Image([int(grid.shape[2]), int(grid.shape[1]), int(grid.shape[0])], sitk.sitkUInt8)
    ref.SetOrigin(grid.origin_lps)
    ref.SetSpacing((grid.spacing[2], grid.spacing[1], grid.spacing[0]))
    return ref


def covering_grid(
    affine: NDArray[np.float64], shape: tuple[int, int, int], spacing: tuple[float, float, float]
) -> Grid:
    """The axis-aligned grid at ``spacing`` covering every voxel centre of a source volume."""
    corners = np.array(
        [[z, y, x] for z in (0, shape[0] - 1) for y in (0, shape[1] - 1) for x in (0, shape[2] - 1)], dtype=np.float64
    )
    lps = corners @ affine[:3, :3].T + affine[:3, 3]
    lo, hi = lps.min(axis=0), lps.max(axis=0)
    sp_xyz = np.asarray(spacing[::-1])
    n_xyz = np.floor((hi - lo) / sp_xyz + 1e-6).astype(int) + 1
    return Grid((float(lo[0]), float(lo[1]), float(lo[2])), spacing, (int(n_xyz[2]), int(n_xyz[1]), int(n_xyz[0])))


def to_grid(
    array: NDArray[np.generic],
    affine: NDArray[np.float64],
    grid: Grid,
    fill: float,
    linear: bool = True,
    slab: int = 16,
) -> NDArray[np.float32]:
    """Resample a source array (with its index->LPS affine) onto ``grid``.

    The grid is filled ``slab`` slices at a time from just the source slices each slab needs,
    so the float copy ITK works on stays a small part of the source volume.
    """
    out = np.empty(grid.shape, dtype=np.float32)
    for z0 in range(0, grid.shape[0], slab):
        part = grid.crop((z0, 0, 0), (min(slab, grid.shape[0] - z0), grid.shape[1], grid.shape[2]))
        out[z0 : z0 + part.shape[0]] = _to_grid_slab(array, affine, part, fill, linear)
    return out


def _source_range(affine: NDArray[np.float64], n: int, grid: Grid) -> tuple[int, int]:
    """Source slice indices ``[lo, hi)`` that can contribute to ``grid`` (one slice of margin)."""
    corners = np.array(
        [[z, y, x] for z in (0, grid.shape[0] - 1) for y in (0, grid.shape[1] - 1) for x in (0, grid.shape[2] - 1)],
        dtype=np.float64,
    )
    lps = corners @ grid.affine[:3, :3].T + grid.affine[:3, 3]
    z = (lps - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    lo = int(np.floor(z[:, 0].min())) - 1
    hi = int(np.ceil(z[:, 0].max())) + 2
    return max(0, lo), min(n, max(hi, 0))


def _to_grid_slab(
    array: NDArray[np.generic], affine: NDArray[np.float64], grid: Grid, fill: float, linear: bool
) -> NDArray[np.float32]:
    lo, hi = _source_range(affine, array.shape[0], grid)
    if hi <= lo:
        return np.full(grid.shape, fill, dtype=np.float32)
    sub = affine.copy()
    sub[:3, 3] = affine[:3, 3] + affine[:3, 0] * lo
    m = _xyz_matrix(sub)
    inv = np.linalg.inv(m)
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(inv.ravel().tolist())
    transform.SetTranslation((-inv @ sub[:3, 3]).tolist())
    interp = sitk.sitkLinear if linear else sitk.sitkNearestNeighbor
    src = _index_image(np.asarray(array[lo:hi], dtype=np.float32))
    out = sitk.Resample(src, _grid_reference(grid), transform, interp, float(fill), sitk.sitkFloat32)
    return np.asarray(sitk.GetArrayFromImage(out), dtype=np.float32)


def from_grid(
    values: NDArray[np.generic],
    grid: Grid,
    affine: NDArray[np.float64],
    shape: tuple[int, int, int],
    fill: float = 0.0,
    linear: bool = True,
) -> NDArray[np.float32]:
    """Resample values on ``grid`` back onto a source volume's own voxel grid."""
    src = sitk.GetImageFromArray(np.ascontiguousarray(values, dtype=np.float32))
    src.SetOrigin(grid.origin_lps)
    src.SetSpacing((grid.spacing[2], grid.spacing[1], grid.spacing[0]))
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(_xyz_matrix(affine).ravel().tolist())
    transform.SetTranslation(affine[:3, 3].tolist())
    ref = sitk.Image([int(shape[2]), int(shape[1]), int(shape[0])], sitk.sitkUInt8)
    interp = sitk.sitkLinear if linear else sitk.sitkNearestNeighbor
    out = sitk.Resample(src, ref, transform, interp, float(fill), sitk.sitkFloat32)
    return np.asarray(sitk.GetArrayFromImage(out), dtype=np.float32)


def centred_grid(
    center_lps: NDArray[np.float64], spacing: tuple[float, float, float], shape: tuple[int, int, int]
) -> Grid:
    """An axis-aligned grid of ``shape`` whose centre is ``center_lps``."""
    half = (np.asarray(shape[::-1], dtype=np.float64) - 1) / 2 * np.asarray(spacing[::-1])
    o = np.asarray(center_lps, dtype=np.float64) - half
    return Grid((float(o[0]), float(o[1]), float(o[2])), spacing, shape)


def block_factors(
    source_spacing: tuple[float, float, float], target_spacing: tuple[float, float, float]
) -> tuple[int, ...]:
    """Whole voxels per block, per axis, so block means stay no coarser than the target grid."""
    return tuple(max(1, int(t / s + 1e-6)) for s, t in zip(source_spacing, target_spacing, strict=True))


def antialias(
    array: NDArray[np.generic], affine: NDArray[np.float64], target_spacing: tuple[float, float, float]
) -> tuple[NDArray[np.generic], NDArray[np.float64]]:
    """Average blocks of voxels before resampling a fine grid onto a much coarser one.

    Linear interpolation from 1 mm slices onto a 2.5 mm grid samples single thin slices: the
    result is as noisy as a 1 mm slice and aliases small vessels. Averaging whole blocks
    first (as a scanner does when it reconstructs thick slices) gives the coarse grid the
    noise and partial volume of a real slice of about that thickness. The affine is updated
    so every block mean sits at its block's centre.
    """
    spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    factors = block_factors((spacing[0], spacing[1], spacing[2]), target_spacing)
    if factors == (1, 1, 1):
        return array, affine
    out: NDArray[np.generic] = array
    new_affine = affine.copy()
    for axis, k in enumerate(factors):
        if k > 1 and out.shape[axis] >= k:
            out = _block_mean(out, axis, k)
            new_affine[:3, 3] += affine[:3, axis] * (k - 1) / 2.0
            new_affine[:3, axis] = affine[:3, axis] * k
    return out, new_affine


def _block_mean(array: NDArray[np.generic], axis: int, k: int) -> NDArray[np.float32]:
    n = array.shape[axis] // k
    trimmed = array[(slice(None),) * axis + (slice(0, n * k),)]
    shape = (*trimmed.shape[:axis], n, k, *trimmed.shape[axis + 1 :])
    return np.asarray(trimmed.reshape(shape).mean(axis=axis + 1, dtype=np.float32), dtype=np.float32)
