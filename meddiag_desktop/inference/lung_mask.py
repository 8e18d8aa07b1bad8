"""Classical body and lung masks for CT, used to veto findings far from the lungs.

The masks are deliberately generous: a mass that abuts the mediastinum or the chest wall
indents the aerated lung, so it lies outside a plain "air below -400 HU" mask. We therefore
build, slice by slice, the convex hull of every lung component and dilate it by a margin;
juxta-pleural, hilar and mediastinal-attached masses fall inside that region, while the
patient table, bowel gas walls, neck and axilla tissue do not.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.inference._sitk import sitk

if TYPE_CHECKING:
    from numpy.typing import NDArray

    BoolArray = NDArray[np.bool_]

logger = logging.getLogger(__name__)

BODY_HU = -500.0
LUNG_HU = -400.0


def _to_image(mask: NDArray[np.bool_], spacing: tuple[float, float, float]) -> Any:
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing((float(spacing[2]), float(spacing[1]), float(spacing[0])))
    return image


def _to_array(image: sitk.Image) -> NDArray[np.bool_]:
    return np.asarray(sitk.GetArrayFromImage(image) > 0)


def _radius_vox(spacing: tuple[float, float, float], mm: float, in_plane_only: bool) -> list[int]:
    """ITK-order (x, y, z) kernel radius in voxels for a physical radius in mm."""
    rz = 0 if in_plane_only else round(mm / spacing[0])
    return [max(1, round(mm / spacing[2])), max(1, round(mm / spacing[1])), rz]


def _labelled(mask: NDArray[np.bool_], spacing: tuple[float, float, float]) -> Any:
    components = sitk.ConnectedComponent(_to_image(mask, spacing), True)
    return sitk.RelabelComponent(components, sortByObjectSize=True)


def fill_holes_per_slice(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Fill enclosed holes in each axial slice."""
    out = np.empty_like(mask)
    for z in range(mask.shape[0]):
        image = sitk.GetImageFromArray(mask[z].astype(np.uint8))
        out[z] = sitk.GetArrayFromImage(sitk.BinaryFillhole(image)) > 0
    return out


def body_mask(hu: NDArray[np.floating], spacing: tuple[float, float, float]) -> BoolArray:
    """The patient's body: the largest component above -500 HU, holes filled per slice.

    The component is chosen after a 1.5 mm opening (which detaches a table touching the
    back), then grown back by the opening radius within the dense voxels, so thin chest
    walls that the opening broke are restored.
    """
    dense = np.asarray(hu > BODY_HU)
    if not dense.any():
        return dense
    radius = _radius_vox(spacing, 1.5, in_plane_only=True)
    opened = _to_array(sitk.BinaryMorphologicalOpening(_to_image(dense, spacing), radius))
    if not opened.any():
        opened = dense
    core = sitk.GetArrayFromImage(_labelled(opened, spacing)) == 1
    grown = _to_array(sitk.BinaryDilate(_to_image(core, spacing), [r + 1 for r in radius[:2]] + [0]))
    return fill_holes_per_slice(grown & dense)


def lung_mask(
    hu: NDArray[np.floating],
    spacing: tuple[float, float, float],
    body: NDArray[np.bool_] | None = None,
    min_volume_ml: float = 15.0,
) -> BoolArray:
    """Aerated lung (vessels and enclosed nodules filled) inside the body.

    Components smaller than ``min_volume_ml`` or than 10 % of the largest are dropped:
    that removes bowel and stomach gas while keeping both lungs and the airways.
    """
    inside = body if body is not None else body_mask(hu, spacing)
    air = inside & np.asarray(hu < LUNG_HU)
    if not air.any():
        return air
    labels = sitk.GetArrayFromImage(_labelled(air, spacing))
    counts = np.bincount(labels.ravel())[1:]
    voxel_ml = float(np.prod(spacing)) / 1000.0
    floor = max(min_volume_ml / voxel_ml, 0.1 * float(counts[0]))
    keep = np.flatnonzero(counts >= floor) + 1
    lungs = np.isin(labels, keep)
    closed = sitk.BinaryMorphologicalClosing(_to_image(lungs, spacing), _radius_vox(spacing, 2.0, in_plane_only=True))
    return fill_holes_per_slice(_to_array(closed))


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
    """Rasterise a CCW convex polygon (row, col vertices) onto a 2D grid."""
    out = np.zeros(shape, dtype=bool)
    if len(hull) < 3:
        for r, c in hull.astype(np.int64):
            out[r, c] = True
        return out
    r0, c0 = np.floor(hull.min(axis=0)).astype(int)
    r1, c1 = np.ceil(hull.max(axis=0)).astype(int) + 1
    rr, cc = np.mgrid[r0:r1, c0:c1]
    inside = np.ones(rr.shape, dtype=bool)
    nxt = np.roll(hull, -1, axis=0)
    for (ar, ac), (br, bc) in zip(hull, nxt, strict=True):
        inside &= (br - ar) * (cc - ac) - (bc - ac) * (rr - ar) >= -1e-9
    out[r0:r1, c0:c1] = inside
    return out


def _outline(points: NDArray[np.int64]) -> NDArray[np.int64]:
    """Leftmost and rightmost pixel of every row: enough to define the convex hull."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    p = points[order]
    first = np.r_[True, p[1:, 0] != p[:-1, 0]]
    last = np.r_[p[1:, 0] != p[:-1, 0], True]
    return np.concatenate([p[first], p[last]])


def _slice_hulls(lung_slice: NDArray[np.bool_], min_pixels: int) -> BoolArray:
    out = np.zeros_like(lung_slice)
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(lung_slice.astype(np.uint8))))
    for label in range(1, int(labels.max()) + 1):
        points = np.argwhere(labels == label)
        if len(points) >= min_pixels:
            out |= _fill_convex(lung_slice.shape, convex_hull_2d(_outline(points)))
    return out


def lung_region(lung: NDArray[np.bool_], spacing: tuple[float, float, float], margin_mm: float = 5.0) -> BoolArray:
    """Per-slice convex hull of each lung component, dilated in-plane by ``margin_mm``.

    Covers masses that indent the lung from the chest wall, hilum or mediastinum.
    """
    min_pixels = max(4, round(25.0 / (spacing[1] * spacing[2])))
    hulls = np.stack([_slice_hulls(lung[z], min_pixels) for z in range(lung.shape[0])])
    if margin_mm <= 0 or not hulls.any():
        return hulls
    dilated = sitk.BinaryDilate(_to_image(hulls, spacing), _radius_vox(spacing, margin_mm, in_plane_only=True))
    return _to_array(dilated)
