"""Probability map -> thresholded connected components -> measured Finding records."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.inference._sitk import sitk
from meddiag_desktop.inference.lung_mask import convex_hull_2d
from meddiag_desktop.inference.morphology import bbox

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume


def components(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], int]:
    """Label 26-connected components, largest first; returns (labels, count)."""
    labels, boxes = labelled_components(mask)
    return labels, len(boxes)


def labelled_components(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], list[tuple[slice, slice, slice]]]:
    """26-connected components, largest first: the label array and each label's bounding box.

    ITK labels only the box around the mask's voxels, and each of its images is dropped as soon
    as the next exists: on the model grid of a thin-slice scan a whole-grid label image is
    ~70 MB and the chain of them was the peak of an analysis. The returned array is
    ``np.zeros`` outside the box, whose pages the OS only backs once written.
    """
    labels = np.zeros(mask.shape, dtype=np.int32)
    box = bbox(mask)
    if box is None:
        return labels, []
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask[box], dtype=np.uint8))
    connected = sitk.ConnectedComponent(image, True)
    del image
    relabelled = sitk.RelabelComponent(connected, sortByObjectSize=True)
    del connected
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(relabelled)
    z, y, x = (s.start for s in box)
    boxes = []
    for label in range(1, stats.GetNumberOfLabels() + 1):
        x0, y0, z0, nx, ny, nz = stats.GetBoundingBox(label)
        boxes.append((slice(z + z0, z + z0 + nz), slice(y + y0, y + y0 + ny), slice(x + x0, x + x0 + nx)))
    labels[box] = sitk.GetArrayViewFromImage(relabelled)
    return labels, boxes


def component_boxes(labels: NDArray[np.int32], count: int) -> list[tuple[slice, slice, slice]]:
    """Bounding-box slices of labels 1..count (uses ITK's label statistics)."""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.GetImageFromArray(labels))
    out = []
    for label in range(1, count + 1):
        x0, y0, z0, nx, ny, nz = stats.GetBoundingBox(label)
        out.append((slice(z0, z0 + nz), slice(y0, y0 + ny), slice(x0, x0 + nx)))
    return out


def _slice_axes(points_mm: NDArray[np.float64]) -> tuple[float, float]:
    """Longest diameter and longest perpendicular chord of one slice's pixels (mm, centres)."""
    hull = convex_hull_2d(points_mm)
    if len(hull) < 2:
        return 0.0, 0.0
    d = hull[:, None, :] - hull[None, :, :]
    dist = np.sqrt((d**2).sum(-1))
    i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
    u = (hull[j] - hull[i]) / max(float(dist[i, j]), 1e-9)
    v = np.array([-u[1], u[0]])
    along, across = points_mm @ u, points_mm @ v
    bins = np.round(along / 0.5).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    b, a = bins[order], across[order]
    cuts = np.flatnonzero(np.diff(b)) + 1
    widths = [float(g.max() - g.min()) for g in np.split(a, cuts)]
    return float(dist[i, j]), max(widths)


def recist_axes(
    mask: NDArray[np.bool_], offset: tuple[int, int, int], affine: NDArray[np.float64]
) -> tuple[float, float]:
    """Longest axial diameter and its perpendicular (mm) over all slices (RECIST 1.1).

    Pixel-centre distances plus one pixel, so a single pixel measures one pixel wide.
    """
    step = affine[:3, 1:3]
    pixel = float(np.mean(np.linalg.norm(step, axis=0)))
    best = (0.0, 0.0)
    for z in range(mask.shape[0]):
        rc = np.argwhere(mask[z])
        if len(rc) == 0:
            continue
        pts = (rc + np.asarray(offset[1:])) @ step.T  # LPS offsets within the slice plane
        basis = np.linalg.qr(step)[0]
        long_, short = _slice_axes(pts @ basis)
        if long_ >= best[0]:
            best = (long_, short)
    return best[0] + pixel, best[1] + pixel


def measure(
    fid: str,
    crop: NDArray[np.bool_],
    box: tuple[slice, slice, slice],
    volume: Volume,
    prob: NDArray[np.float32],
) -> Finding:
    """Measure one component (``crop`` is its mask inside ``box``) as a Finding."""
    offset = (box[0].start, box[1].start, box[2].start)
    idx = np.argwhere(crop).astype(np.float64) + np.asarray(offset, dtype=np.float64)
    centroid = idx.mean(axis=0)
    hu = np.asarray(volume.array[box], dtype=np.float32)[crop]
    p = prob[box][crop]
    voxel_ml = abs(float(np.linalg.det(volume.affine[:3, :3]))) / 1000.0
    long_axis, short_axis = recist_axes(crop, offset, volume.affine)
    lps = volume.index_to_lps(centroid)
    return Finding(
        id=fid,
        centroid_index=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
        centroid_lps=(float(lps[0]), float(lps[1]), float(lps[2])),
        bbox=(box[0].start, box[1].start, box[2].start, box[0].stop, box[1].stop, box[2].stop),
        volume_ml=float(crop.sum()) * voxel_ml,
        long_axis_mm=long_axis,
        short_axis_mm=short_axis,
        mean_hu=float(hu.mean()),
        max_hu=float(hu.max()),
        mean_prob=float(p.mean()),
        max_prob=float(p.max()),
        mask=crop.copy(),
    )
