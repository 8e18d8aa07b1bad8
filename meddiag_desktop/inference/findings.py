"""Probability map -> thresholded connected components -> measured Finding records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.recist import RecistAxes
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


BIN_MM = 0.5  # perpendicular chords are measured across strips this wide along the long axis


@dataclass(frozen=True, eq=False)
class _Chords:
    """One slice's longest diameter and longest perpendicular chord, ends in in-plane mm."""

    long_mm: float
    short_mm: float
    long_ends: NDArray[np.float64]  # (2, 2)
    short_ends: NDArray[np.float64]  # (2, 2)


def _row_ends(rc: NDArray[np.int64]) -> NDArray[np.int64]:
    """The first and last pixel of each row of ``np.argwhere`` output: their hull is the slice's hull."""
    if len(rc) < 3:
        return rc
    breaks = np.flatnonzero(np.diff(rc[:, 0]))
    ends: NDArray[np.int64] = rc[np.unique(np.concatenate(([0], breaks, breaks + 1, [len(rc) - 1])))]
    return ends


def _slice_chords(points_mm: NDArray[np.float64], extremes_mm: NDArray[np.float64]) -> _Chords:
    """Longest diameter (hull of ``extremes_mm``) and the longest chord of ``points_mm`` across it."""
    hull = convex_hull_2d(extremes_mm)
    if len(hull) < 2:
        point = np.repeat(points_mm[:1], 2, axis=0)
        return _Chords(0.0, 0.0, point, point.copy())
    d = hull[:, None, :] - hull[None, :, :]
    dist = np.sqrt((d**2).sum(-1))
    i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
    u = (hull[j] - hull[i]) / max(float(dist[i, j]), 1e-9)
    v = np.array([-u[1], u[0]])
    along, across = points_mm @ u, points_mm @ v
    bins = np.round(along / BIN_MM).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    along, across = along[order], across[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(bins[order])) + 1))
    widths = np.maximum.reduceat(across, starts) - np.minimum.reduceat(across, starts)
    k = int(np.argmax(widths))
    strip = slice(starts[k], starts[k + 1] if k + 1 < len(starts) else len(across))
    lo, hi = int(np.argmin(across[strip])), int(np.argmax(across[strip]))
    at = (along[strip][lo] + along[strip][hi]) / 2.0
    short_ends = np.array([at * u + across[strip][lo] * v, at * u + across[strip][hi] * v])
    return _Chords(float(dist[i, j]), float(widths[k]), hull[[i, j]], short_ends)


def _widened(ends: NDArray[np.float64], half: float, direction: NDArray[np.float64]) -> NDArray[np.float64]:
    """``ends`` (the second one further along ``direction``) pushed ``half`` mm apart each."""
    return np.array([ends[0] - half * direction, ends[1] + half * direction])


def recist(mask: NDArray[np.bool_], offset: tuple[int, int, int], affine: NDArray[np.float64]) -> RecistAxes | None:
    """RECIST 1.1 long axis and perpendicular short axis, as lines, on the slice where the long axis
    is longest (the last such slice on a tie); ``None`` for an empty mask.

    ``mask`` is a crop of the volume starting at index ``offset``; ``affine`` is the volume's.
    Lengths are pixel-centre distances plus one pixel, so a single pixel measures one pixel wide;
    the lines end on the end pixels' outer edges, so they are as long as the lengths say.
    """
    step = affine[:3, 1:3]
    pixel = float(np.mean(np.linalg.norm(step, axis=0)))
    basis = np.linalg.qr(step)[0]  # orthonormal in-plane LPS directions
    best: tuple[int, _Chords] | None = None
    for z in range(mask.shape[0]):
        rc = np.argwhere(mask[z])
        if len(rc) == 0:
            continue
        rc += np.asarray(offset[1:])
        chords = _slice_chords((rc @ step.T) @ basis, (_row_ends(rc) @ step.T) @ basis)
        if best is None or chords.long_mm >= best[1].long_mm:
            best = (z, chords)
    if best is None:
        return None
    z, chords = best
    span = chords.long_ends[1] - chords.long_ends[0]
    u = span / chords.long_mm if chords.long_mm > 0 else np.array([1.0, 0.0])
    to_index = np.linalg.inv(basis.T @ step).T  # in-plane mm -> in-slice (row, col) index
    long_ends = _widened(chords.long_ends, pixel / 2, u) @ to_index
    short_ends = _widened(chords.short_ends, pixel / 2, np.array([-u[1], u[0]])) @ to_index
    slice_index = z + offset[0]
    return RecistAxes(
        slice_index,
        _line(slice_index, long_ends),
        _line(slice_index, short_ends),
        chords.long_mm + pixel,
        chords.short_mm + pixel,
    )


def _line(z: int, ends: NDArray[np.float64]) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    return (float(z), float(ends[0, 0]), float(ends[0, 1])), (float(z), float(ends[1, 0]), float(ends[1, 1]))


def recist_axes(
    mask: NDArray[np.bool_], offset: tuple[int, int, int], affine: NDArray[np.float64]
) -> tuple[float, float]:
    """Longest axial diameter and its perpendicular (mm) over all slices (RECIST 1.1); see :func:`recist`."""
    axes = recist(mask, offset, affine)
    if axes is None:
        pixel = float(np.mean(np.linalg.norm(affine[:3, 1:3], axis=0)))
        return pixel, pixel
    return axes.long_mm, axes.short_mm


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
