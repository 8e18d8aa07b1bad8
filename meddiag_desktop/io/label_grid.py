"""Placing label data on a series' voxel grid: slice lookup, nearest-neighbour sampling, components.

Shared by the DICOM SEG, label-volume and box readers. Positions are patient LPS millimetres
(PS3.3 C.7.6.2.1.1); a label voxel belongs to the target voxel whose centre it covers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.io._sitk import sitk

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume

OFF_PLANE_TOLERANCE = 0.25  # of a slice step: a plane further from every slice is not on this grid


def slice_origins(volume: Volume) -> NDArray[np.float64]:
    """LPS position of each slice's first voxel ``(z, 0, 0)``, exact when spacing is uneven."""
    if volume.slice_positions is not None:
        return np.asarray(volume.slice_positions, dtype=np.float64)
    z = np.arange(volume.shape[0], dtype=np.float64)
    origins: NDArray[np.float64] = volume.affine[:3, 3] + z[:, None] * volume.affine[:3, 0]
    return origins


def slice_normal(volume: Volume) -> NDArray[np.float64]:
    """Unit normal of the image plane, pointing the way the slice index grows."""
    normal = np.cross(volume.affine[:3, 2], volume.affine[:3, 1])
    normal /= np.linalg.norm(normal)
    return normal if float(np.dot(normal, volume.affine[:3, 0])) >= 0 else -normal


def nearest_slice(volume: Volume, point: NDArray[np.float64]) -> int | None:
    """The slice whose plane holds ``point`` (within a quarter slice step), else ``None``."""
    normal = slice_normal(volume)
    distances = (slice_origins(volume) - np.asarray(point, dtype=np.float64)) @ normal
    z = int(np.argmin(np.abs(distances)))
    step = abs(float(np.dot(volume.affine[:3, 0], normal))) or 1.0
    return z if abs(float(distances[z])) <= OFF_PLANE_TOLERANCE * step else None


def slice_pixel_centres(volume: Volume, z: int) -> NDArray[np.float64]:
    """LPS centres of slice ``z``'s pixels, shape ``(rows, cols, 3)``."""
    rows, cols = volume.shape[1:]
    r = np.arange(rows, dtype=np.float64)[:, None, None] * volume.affine[:3, 1]
    c = np.arange(cols, dtype=np.float64)[None, :, None] * volume.affine[:3, 2]
    centres: NDArray[np.float64] = slice_origins(volume)[z] + r + c
    return centres


def sample_plane(
    volume: Volume,
    z: int,
    frame: NDArray[np.generic],
    origin: NDArray[np.float64],
    row_step: NDArray[np.float64],
    col_step: NDArray[np.float64],
) -> NDArray[np.generic]:
    """A 2D source frame sampled (nearest neighbour) at slice ``z``'s pixel centres.

    ``origin`` is the LPS centre of the frame's first pixel, ``row_step`` / ``col_step`` the LPS
    vectors to the next row / column. Target pixels outside the frame get 0.
    """
    basis = np.stack([row_step, col_step], axis=1)  # 3 x 2
    rc = (slice_pixel_centres(volume, z) - origin) @ np.linalg.pinv(basis).T
    idx = np.rint(rc).astype(np.int64)
    inside = (idx[..., 0] >= 0) & (idx[..., 0] < frame.shape[0]) & (idx[..., 1] >= 0) & (idx[..., 1] < frame.shape[1])
    out = np.zeros(volume.shape[1:], dtype=frame.dtype)
    out[inside] = frame[idx[..., 0][inside], idx[..., 1][inside]]
    return out


def sample_volume(
    volume: Volume, source: NDArray[np.generic], source_affine: NDArray[np.float64]
) -> tuple[NDArray[np.generic], int]:
    """A 3D source array ``(k, j, i)`` with its index->LPS affine, sampled on ``volume``'s grid.

    Nearest neighbour at each target voxel centre; returns the sampled array (0 outside the
    source) and how many target voxels fell inside the source's extent.
    """
    inverse = np.linalg.inv(source_affine[:3, :3])
    out = np.zeros(volume.shape, dtype=source.dtype)
    covered = 0
    for z in range(volume.shape[0]):
        idx = np.rint((slice_pixel_centres(volume, z) - source_affine[:3, 3]) @ inverse.T).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.asarray(source.shape)), axis=-1)
        covered += int(inside.sum())
        k, j, i = idx[..., 0][inside], idx[..., 1][inside], idx[..., 2][inside]
        out[z][inside] = source[k, j, i]
    return out, covered


def components(mask: NDArray[np.bool_]) -> list[NDArray[np.bool_]]:
    """26-connected components of a 3D mask, largest first."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    labelled = sitk.RelabelComponent(sitk.ConnectedComponent(image, True), sortByObjectSize=True)
    labels = np.asarray(sitk.GetArrayFromImage(labelled), dtype=np.int32)
    return [labels == k for k in range(1, int(labels.max()) + 1)]
