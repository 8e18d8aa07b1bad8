"""Classical body and lung masks for CT: left and right lungs as clinicians contour them.

The lungs follow the radiotherapy convention of the clinical "Lung L" / "Lung R" contours
(AAPM TG-263): aerated lung with the vessels and bronchi inside it, without the trachea and
the main bronchi, without a solid tumour that indents the lung. Validated against the real
contours of NSCLC-Radiomics (Dice per lung, see ``bench/bench_lung_mask.py``).

``lung_region`` is deliberately generous: a mass that abuts the mediastinum or the chest wall
indents the aerated lung, so it lies outside the lungs. The region is, slice by slice, the
convex hull of every lung component dilated by a margin; juxta-pleural, hilar and
mediastinal-attached masses fall inside it, while the patient table, bowel gas walls, neck
and axilla tissue do not.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from meddiag_desktop.inference import morphology as morph
from meddiag_desktop.inference._sitk import sitk
from meddiag_desktop.inference.airways import airway_mask
from meddiag_desktop.inference.morphology import fill_holes_per_slice, label_3d

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.inference.morphology import BoolArray, Spacing

__all__ = [
    "BODY_HU",
    "LUNG_HU",
    "LungMasks",
    "body_mask",
    "convex_hull_2d",
    "fill_holes_per_slice",
    "lung_mask",
    "lung_region",
    "lungs",
]

logger = logging.getLogger(__name__)

BODY_HU = -500.0
LUNG_HU = -300.0  # clinical lung contours follow the -300 HU isoline (inner ring -400, outer -130)
AIRWAY_HU = -500.0  # airway lumen: stricter, so bronchi part from the lung they touch
AIRWAY_WALL_MM = 2.0  # the airway wall's partial-volume rim, removed with the lumen
GAS_HU = -950.0  # mean HU of a component of pure gas (bowel, stomach, sinuses); lungs are denser
MIN_SECOND_LUNG = 0.05  # a second lung smaller than this fraction of the first is not one
SPLIT_RADII_MM = (1.0, 2.0, 3.0, 4.5, 6.0, 8.0)  # erosions tried to part lungs that touch
CLOSING_MM = 3.0


class LungMasks(NamedTuple):
    """The patient's left and right lung (left = towards LPS +x), disjoint boolean masks."""

    left: BoolArray
    right: BoolArray


def body_mask(hu: NDArray[np.floating], spacing: Spacing) -> BoolArray:
    """The patient's body: the largest component above -500 HU, holes filled per slice.

    The component is chosen after a 1.5 mm opening (which detaches a table touching the
    back), then grown back by 3 mm within the dense voxels, so thin chest walls that the
    opening broke are restored.
    """
    dense = np.asarray(hu > BODY_HU)
    if not dense.any():
        return dense
    opened = morph.open_(dense, spacing, 1.5)
    labels, _ = label_3d(opened if opened.any() else dense)
    grown = morph.dilate(labels == 1, spacing, 3.0)
    return fill_holes_per_slice(grown & dense)


def _mean_hu(labels: NDArray[np.int32], hu: NDArray[np.floating], n: int) -> NDArray[np.float64]:
    """Mean HU of components ``1..n`` (index 0 unused)."""
    inside = (labels > 0) & (labels <= n)
    lab = labels[inside]
    total = np.bincount(lab, np.asarray(hu[inside], dtype=np.float64), n + 1)
    return total / np.maximum(np.bincount(lab, minlength=n + 1), 1)


def _touches(labels: NDArray[np.int32], label: int, kept: NDArray[np.bool_], spacing: Spacing, mm: float) -> bool:
    """Whether component ``label`` lies within ``mm`` (in-plane, or on the next slice) of a kept one."""
    zs, ys, xs = np.nonzero(labels == label)
    ry, rx = morph.radius_px(spacing, mm)
    box = (
        slice(max(0, zs.min() - 1), zs.max() + 2),
        slice(max(0, ys.min() - ry), ys.max() + ry + 1),
        slice(max(0, xs.min() - rx), xs.max() + rx + 1),
    )
    crop = labels[box]
    near = morph.dilate(crop == label, spacing, mm)
    near[1:] |= near[:-1].copy()
    near[:-1] |= near[1:].copy()
    return bool(kept[crop[near]].any())


def _lung_components(
    labels: NDArray[np.int32],
    counts: NDArray[np.int64],
    hu: NDArray[np.floating],
    spacing: Spacing,
    min_volume_ml: float,
) -> list[int]:
    """Labels of the lung components: the large non-gas ones, and smaller pieces next to them."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    n = int(np.count_nonzero(counts * voxel_ml >= min_volume_ml))
    if n == 0:
        return []
    mean_hu = _mean_hu(labels, hu, n)
    lung_like = [i for i in range(1, n + 1) if mean_hu[i] >= GAS_HU]
    if not lung_like:
        return []
    largest = counts[lung_like[0] - 1]
    kept = np.zeros(len(counts) + 1, dtype=bool)
    big = [i for i in lung_like if counts[i - 1] >= MIN_SECOND_LUNG * largest]
    kept[big] = True
    for i in lung_like:
        if not kept[i] and _touches(labels, i, kept, spacing, 4.0):
            kept[i] = True
    return [int(i) for i in np.flatnonzero(kept)]


def _grow_markers(component: BoolArray, markers: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Give every voxel of ``component`` the label of the marker it is geodesically nearest to."""
    seeds = np.where(component, markers, 3).astype(np.uint8)  # the outside floods from its own marker
    flat = sitk.GetImageFromArray((~component).view(np.uint8))
    grown = sitk.MorphologicalWatershedFromMarkers(flat, sitk.GetImageFromArray(seeds), markWatershedLine=False)
    return np.where(component, sitk.GetArrayFromImage(grown), 0).astype(np.uint8)


def _split_two(component: BoolArray, spacing: Spacing) -> NDArray[np.uint8] | None:
    """Part a component into two lungs that touch, at the narrowest junction (or ``None``).

    The component is eroded in-plane with growing radii until it falls into two large parts;
    each voxel then joins the part it is geodesically nearest to.
    """
    box = morph.bbox(component)
    if box is None:
        return None
    crop = component[box]
    total = int(crop.sum())
    for mm in SPLIT_RADII_MM:
        labels, counts = label_3d(morph.erode(crop, spacing, mm))
        if len(counts) >= 2 and counts[1] >= MIN_SECOND_LUNG * total:
            logger.debug("lungs parted by a %.1f mm erosion", mm)
            out = np.zeros(component.shape, dtype=np.uint8)
            out[box] = _grow_markers(crop, np.where(labels <= 2, labels, 0).astype(np.uint8))
            return out
    return None


def _lps_x(mask: BoolArray, affine: NDArray[np.float64]) -> float:
    """LPS x (mm, + = patient left) of a mask's centroid."""
    total = float(mask.sum())
    centre = [
        float(mask.sum(axis=ax) @ np.arange(n)) / total
        for ax, n in zip(((1, 2), (0, 2), (0, 1)), mask.shape, strict=True)
    ]
    return float(affine[0, :3] @ centre + affine[0, 3])


def _index_affine(spacing: Spacing) -> NDArray[np.float64]:
    """The affine of an axis-aligned LPS grid: columns towards patient left, as on the model grid."""
    a = np.eye(4)
    a[0, :3], a[1, :3], a[2, :3] = (0, 0, spacing[2]), (0, spacing[1], 0), (spacing[0], 0, 0)
    return a


def _left_fraction(mask: BoolArray, affine: NDArray[np.float64], midline_x: float) -> float:
    """Fraction of a mask's voxels on the patient's left of ``midline_x`` (LPS mm)."""
    idx = np.argwhere(mask[:, ::2, ::2]) * (1, 2, 2)
    return float(np.mean(idx @ affine[0, :3] + affine[0, 3] > midline_x)) if len(idx) else 0.0


def _midline_x(airways: BoolArray, body: BoolArray, lung: BoolArray, affine: NDArray[np.float64]) -> float:
    """LPS x of the mediastinum: the trachea's centre, else the body's on the lung slices."""
    if airways.any():
        return _lps_x(airways, affine)
    slices_with_lung: BoolArray = np.asarray(lung.any(axis=(1, 2)))
    on_lung_slices = body & slices_with_lung[:, None, None]
    return _lps_x(on_lung_slices if on_lung_slices.any() else body, affine)


def _pieces(
    labels: NDArray[np.int32], kept: list[int], spacing: Spacing, affine: NDArray[np.float64], midline_x: float
) -> list[BoolArray]:
    """The kept components, with a largest one that spans both sides parted into two lungs."""
    pieces = [labels == i for i in kept]
    left = _left_fraction(pieces[0], affine, midline_x)
    if min(left, 1.0 - left) >= 0.2:
        split = _split_two(pieces[0], spacing)
        if split is not None:
            pieces[0:1] = [split == 1, split == 2]
    return pieces


def _finish(mask: BoolArray, spacing: Spacing) -> BoolArray:
    """Vessels, bronchial walls and enclosed nodules filled: a 2 mm closing, holes filled per slice."""
    return fill_holes_per_slice(morph.close(mask, spacing, CLOSING_MM))


def lungs(
    hu: NDArray[np.floating],
    spacing: Spacing,
    body: BoolArray | None = None,
    *,
    affine: NDArray[np.float64] | None = None,
    min_volume_ml: float = 15.0,
) -> LungMasks:
    """Left and right lungs as clinical contours draw them (trachea and main bronchi excluded).

    Parameters
    ----------
    hu
        CT in Hounsfield units, ``(z, y, x)``.
    spacing
        ``(z, y, x)`` voxel size in mm.
    body
        The body mask if already computed (``body_mask``).
    affine
        The 4x4 index ``(z, y, x)`` -> LPS affine, used to tell left from right. Without it the
        columns are taken to run towards the patient's left, as on the model grid.
    min_volume_ml
        Air components smaller than this are never lung.

    Returns
    -------
    LungMasks
        ``(left, right)``; both empty when the volume holds no lung.
    """
    a = _index_affine(spacing) if affine is None else np.asarray(affine, dtype=np.float64)
    inside = body if body is not None else body_mask(hu, spacing)
    air = inside & np.asarray(hu < LUNG_HU)
    empty = np.zeros(hu.shape, dtype=bool)
    if not air.any():
        return LungMasks(empty, empty.copy())
    airways = airway_mask(inside & np.asarray(hu < AIRWAY_HU), inside, spacing)
    labels, counts = label_3d(air & ~morph.dilate(airways, spacing, AIRWAY_WALL_MM))
    kept = _lung_components(labels, counts, hu, spacing, min_volume_ml)
    if not kept:
        return LungMasks(empty, empty.copy())
    midline = _midline_x(airways, inside, labels == kept[0], a)
    sides: dict[bool, BoolArray] = {True: empty.copy(), False: empty.copy()}
    for piece in _pieces(labels, kept, spacing, a, midline):
        sides[_lps_x(piece, a) > midline] |= piece
    left, right = (_finish(sides[s], spacing) for s in (True, False))
    both = left & right
    left &= ~(both & sides[False])
    right &= ~(both & ~sides[False])
    return LungMasks(left, right)


def lung_mask(
    hu: NDArray[np.floating],
    spacing: Spacing,
    body: BoolArray | None = None,
    min_volume_ml: float = 15.0,
) -> BoolArray:
    """Both lungs (``lungs`` left | right): aerated lung with its vessels, without the trachea."""
    left, right = lungs(hu, spacing, body, min_volume_ml=min_volume_ml)
    return left | right


def convex_hull_2d(points: NDArray[np.generic]) -> NDArray[np.float64]:
    """Counter-clockwise convex hull of 2D points (Andrew's monotone chain)."""
    pts = sorted({(float(p[0]), float(p[1])) for p in points})
    if len(pts) < 3:
        return np.asarray(pts, dtype=np.float64).reshape(-1, 2)

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        chain: list[tuple[float, float]] = []
        for p in seq:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.asarray(half(pts) + half(pts[::-1]), dtype=np.float64)


def _fill_convex(shape: tuple[int, int], hull: NDArray[np.float64]) -> BoolArray:
    """Rasterise a convex polygon (``(row, col)`` vertices in order) onto a 2D grid, row by row."""
    out = np.zeros(shape, dtype=bool)
    if len(hull) == 0:
        return out
    r0, c0 = hull[:, 0], hull[:, 1]
    r1, c1 = np.roll(r0, -1), np.roll(c0, -1)
    rows, cols = [np.rint(r0)], [c0]  # the vertices themselves (points and flat edges)
    for a, b, ca, cb in zip(r0, r1, c0, c1, strict=True):
        if a != b:
            r = np.arange(np.ceil(min(a, b)), np.floor(max(a, b)) + 1)
            rows.append(r)
            cols.append(ca + (r - a) * (cb - ca) / (b - a))
    rr, cc = np.concatenate(rows).astype(np.int64), np.concatenate(cols)
    lo = np.full(shape[0], np.inf)
    hi = np.full(shape[0], -np.inf)
    np.minimum.at(lo, rr, cc)
    np.maximum.at(hi, rr, cc)
    span = np.flatnonzero(lo <= hi)
    x = np.arange(shape[1])
    out[span] = (x >= np.ceil(lo[span, None] - 1e-6)) & (x <= np.floor(hi[span, None] + 1e-6))
    return out


def _row_ends(mask_slice: NDArray[np.bool_]) -> NDArray[np.int64]:
    """First and last pixel of every non-empty row of a 2D mask, as ``(row, col)`` points."""
    rows = np.flatnonzero(mask_slice.any(axis=1))
    sub = mask_slice[rows]
    first = sub.argmax(axis=1)
    last = sub.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
    return np.concatenate([np.stack([rows, first], axis=1), np.stack([rows, last], axis=1)])


def _hulls(mask: BoolArray) -> BoolArray:
    """Per axial slice, the convex hull of all of ``mask``'s pixels on that slice."""
    out = np.zeros_like(mask)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        out[z] = _fill_convex(mask.shape[1:], convex_hull_2d(_row_ends(mask[z])))
    return out


def _z_window(mask: BoolArray, slices: int) -> BoolArray:
    """Each slice ORed with its ``slices`` neighbours above and below."""
    out = mask.copy()
    for s in range(1, min(slices, mask.shape[0] - 1) + 1):
        out[s:] |= mask[:-s]
        out[:-s] |= mask[s:]
    return out


def _mean_columns(labels: NDArray[np.int32], n: int) -> NDArray[np.float64]:
    """Mean column index of components ``1..n`` (index 0 unused)."""
    inside = labels > 0
    lab = labels[inside]
    cols = np.nonzero(inside)[2].astype(np.float64)
    return np.bincount(lab, cols, n + 1) / np.maximum(np.bincount(lab, minlength=n + 1), 1)


def _two_lungs(lung: BoolArray, spacing: Spacing) -> list[BoolArray]:
    """A mask of both lungs parted into two lungs (the two largest parts, each smaller piece
    joining the one nearer in x), for per-lung hulls."""
    labels, counts = label_3d(lung)
    if len(counts) == 0:
        return []
    if len(counts) >= 2 and counts[1] >= MIN_SECOND_LUNG * counts[0]:
        parts = np.where(labels <= 2, labels, 0).astype(np.uint8)
    else:
        split = _split_two(labels == 1, spacing)
        if split is None:
            return [lung]
        parts = split
    centres = _mean_columns(parts.astype(np.int32), 2)
    rest, counts = label_3d(lung & (parts == 0))
    columns = _mean_columns(rest, len(counts))
    nearer_first = np.abs(columns - centres[1]) <= np.abs(columns - centres[2])
    nearer_first[0] = False
    first = (parts == 1) | nearer_first[rest]
    return [first, lung & ~first]


def lung_region(
    lung: BoolArray | LungMasks,
    spacing: Spacing,
    margin_mm: float = 5.0,
    z_window_mm: float = 6.0,
) -> BoolArray:
    """Where a lung lesion may lie: per lung and slice the convex hull, dilated by ``margin_mm``.

    Covers masses that indent a lung from the chest wall, hilum or mediastinum. Each lung's
    hull is taken over the slice and its neighbours within ``z_window_mm``, so a mass that
    replaces the lung out to the chest wall on its own slices is covered by the lung above
    and below it. The mediastinum between the two lungs is not part of either hull.

    Parameters
    ----------
    lung
        ``LungMasks`` from ``lungs``, or one mask of both lungs (then parted here).
    spacing
        ``(z, y, x)`` voxel size in mm.
    margin_mm
        In-plane dilation of the hulls.
    z_window_mm
        Half-height of the window of slices whose lung shapes each slice's hull.
    """
    sides = list(lung) if isinstance(lung, tuple) else _two_lungs(np.asarray(lung, dtype=bool), spacing)
    window = max(1, round(z_window_mm / spacing[0])) if z_window_mm > 0 else 0
    hull = np.zeros(sides[0].shape if sides else np.shape(lung), dtype=bool)
    for side in sides:
        if side.any():
            hull |= _hulls(_z_window(side, window))
    return morph.dilate(hull, spacing, margin_mm) if margin_mm > 0 else hull
