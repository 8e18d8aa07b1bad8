"""Trachea and main bronchi on CT, found by following air blobs from slice to slice.

Clinical lung contours (radiotherapy "Lung L" / "Lung R", AAPM TG-263) leave out the trachea
and the main bronchi up to the hilum. On an axial slice these airways are small, roughly round
air blobs in the mediastinum, separate from the lungs; the lungs are large blobs. We find the
trachea as the longest run of small midline blobs that overlap from slice to slice, then follow
the blobs that overlap it towards the lungs (the carina and the main bronchi) until they merge
into a lung blob or reach ``max_bronchus_mm`` beyond the trachea. Works on any slice spacing at
which consecutive airway cross-sections still overlap (up to about 10 mm).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.inference.morphology import dilate, label_per_slice

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.inference.morphology import BoolArray, Spacing

logger = logging.getLogger(__name__)

MIN_AIRWAY_MM2 = 20.0  # a 5 mm bronchus
MAX_AIRWAY_MM2 = 1000.0  # a wide trachea (36 mm); lungs are far larger on every slice but the apex
MAX_ELONGATION = 6.0  # long / short axis of a blob's moment ellipse
MIDLINE_MM = 35.0  # the trachea's centre lies this close to the body's left-right centre
MIN_TRACHEA_MM = 25.0
REACH_MM = 2.0  # airway cross-sections on consecutive slices overlap once grown by this


@dataclass(frozen=True)
class _Blobs:
    """Per-slice air components: slice, area (mm²), centroid (mm) and moment-ellipse elongation."""

    labels: NDArray[np.int32]
    z: NDArray[np.int64]
    area: NDArray[np.float64]
    cy: NDArray[np.float64]
    cx: NDArray[np.float64]
    elongation: NDArray[np.float64]
    pixel_mm: tuple[float, float]


def _blobs(air: BoolArray, spacing: Spacing) -> _Blobs:
    """Label each slice's air and measure every blob (index 0 is the background)."""
    labels = label_per_slice(air)
    flat = np.flatnonzero(labels)
    lab = labels.ravel()[flat]
    ny, nx = air.shape[1:]
    z, rem = np.divmod(flat, ny * nx)
    y, x = np.divmod(rem, nx)
    n = int(labels.max()) + 1
    area = np.bincount(lab, minlength=n).astype(np.float64)
    safe = np.maximum(area, 1.0)
    ym, xm = y * spacing[1], x * spacing[2]
    cy, cx = np.bincount(lab, ym, n) / safe, np.bincount(lab, xm, n) / safe
    syy = np.bincount(lab, ym * ym, n) / safe - cy**2
    sxx = np.bincount(lab, xm * xm, n) / safe - cx**2
    sxy = np.bincount(lab, ym * xm, n) / safe - cy * cx
    root = np.sqrt(np.maximum(((syy - sxx) / 2) ** 2 + sxy**2, 0.0))
    major, minor = (syy + sxx) / 2 + root, np.maximum((syy + sxx) / 2 - root, 1e-6)
    zs = np.zeros(n, dtype=np.int64)
    zs[lab] = z
    return _Blobs(labels, zs, area * spacing[1] * spacing[2], cy, cx, np.sqrt(major / minor), (spacing[1], spacing[2]))


def _overlaps(labels: NDArray[np.int32], candidate: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Pairs ``(a, b)`` of candidate blobs on consecutive slices that share a pixel."""
    pairs = []
    for z in range(labels.shape[0] - 1):
        a, b = labels[z], labels[z + 1]
        both = candidate[a] & candidate[b]
        if both.any():
            pairs.append(np.unique(np.stack([a[both], b[both]], axis=1), axis=0))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)


def _groups(n: int, pairs: NDArray[np.int64]) -> NDArray[np.int64]:
    """Connected groups of a graph on ``n`` nodes given its edges (union-find)."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for a, b in pairs:
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)])


def _body_centre_mm(body: BoolArray, spacing: Spacing) -> NDArray[np.float64]:
    """Left-right centre (mm from column 0) of the body on each slice."""
    cols = body.sum(axis=1).astype(np.float64)  # (z, x) body pixels per column
    total = cols.sum(axis=1)
    centre = cols @ np.arange(body.shape[2]) / np.maximum(total, 1.0)
    return np.asarray(np.where(total > 0, centre, body.shape[2] / 2) * spacing[2])


def _trachea(blobs: _Blobs, small: NDArray[np.bool_], centre_mm: NDArray[np.float64], spacing: Spacing) -> set[int]:
    """The largest run of overlapping small midline blobs at least ``MIN_TRACHEA_MM`` long."""
    midline = small & (np.abs(blobs.cx - centre_mm[blobs.z]) <= MIDLINE_MM)
    midline[0] = False
    pairs = _overlaps(blobs.labels, midline)
    group = _groups(len(midline), pairs)
    best: set[int] = set()
    best_volume = 0.0
    for g in np.unique(group[midline]):
        members = np.flatnonzero(midline & (group == g))
        length = (int(np.ptp(blobs.z[members])) + 1) * spacing[0]
        volume = float(blobs.area[members].sum()) * spacing[0]
        if length >= MIN_TRACHEA_MM and volume > best_volume:
            best, best_volume = {int(m) for m in members}, volume
    return best


def _follow(blobs: _Blobs, small: NDArray[np.bool_], out: BoolArray, z: int, step: int, max_slices: int) -> None:
    """Extend ``out`` from its slice ``z`` along ``step``: blobs that overlap the airway there.

    Where the airway merges with a lung blob on one slice (a lobar bronchus opening into the
    lung in-plane), only the part of that blob inside the airway's footprint is taken, once.
    """
    spacing = (1.0, blobs.pixel_mm[0], blobs.pixel_mm[1])
    bridged = False
    for _ in range(max_slices):
        nxt = z + step
        if not 0 <= nxt < out.shape[0]:
            return
        reach = dilate(out[z][None], spacing, REACH_MM)[0]
        labels = blobs.labels[nxt]
        hits = np.unique(labels[reach])
        hits = hits[hits > 0]
        tube = hits[small[hits]]
        out[nxt] |= np.isin(labels, tube)
        big = hits[~small[hits] & (blobs.area[hits] > MAX_AIRWAY_MM2)]
        bridged = not len(tube) and len(big) > 0 and not bridged
        if bridged:
            out[nxt] |= np.isin(labels, big) & out[z]
        if not out[nxt].any():
            return
        z = nxt


def airway_mask(air: BoolArray, body: BoolArray, spacing: Spacing, max_bronchus_mm: float = 40.0) -> BoolArray:
    """Trachea and main bronchi (the large airways outside the lungs) as a boolean mask.

    Parameters
    ----------
    air
        Air inside the body (for example ``hu < -400``), ``(z, y, x)``.
    body
        The body mask, used for the left-right centre of each slice.
    spacing
        ``(z, y, x)`` voxel size in mm.
    max_bronchus_mm
        How far beyond the lower end of the trachea the bronchi are followed.

    Returns
    -------
    numpy.ndarray
        Empty when no trachea is found (a scan that does not reach the upper chest, or no chest).
    """
    blobs = _blobs(air, spacing)
    small = (blobs.area >= MIN_AIRWAY_MM2) & (blobs.area <= MAX_AIRWAY_MM2) & (blobs.elongation <= MAX_ELONGATION)
    small[0] = False
    trachea = _trachea(blobs, small, _body_centre_mm(body, spacing), spacing)
    if not trachea:
        logger.debug("no trachea found")
        return np.zeros(air.shape, dtype=bool)
    air_z = np.flatnonzero(air.any(axis=(1, 2)))
    lungs_z = float(np.average(air_z, weights=air[air_z].sum(axis=(1, 2))))
    trachea_z = float(np.mean(blobs.z[list(trachea)]))
    step = 1 if lungs_z > trachea_z else -1
    out = np.isin(blobs.labels, np.fromiter(trachea, dtype=np.int64))
    ends = np.flatnonzero(out.any(axis=(1, 2)))
    low, high = (ends[-1], ends[0]) if step > 0 else (ends[0], ends[-1])
    _follow(blobs, small, out, int(high), -step, air.shape[0])  # up the trachea to the larynx
    _follow(blobs, small, out, int(low), step, max(1, round(max_bronchus_mm / spacing[0])))
    return out
