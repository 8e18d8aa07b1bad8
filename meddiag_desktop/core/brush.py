"""Brush and eraser maths for editing a finding's mask slice by slice (numpy only, no Qt).

A stroke paints discs of a radius in millimetres on one slice of a boolean ``(z, y, x)``
mask; anisotropic voxels give elliptic discs in voxels, round ones on screen. Each stroke
is one undo step: the touched slice is kept before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

Index3 = tuple[float, float, float]
MAX_UNDO = 50


def _plane_key(axis: int, index: int) -> tuple[slice | int, ...]:
    key: list[slice | int] = [slice(None)] * 3
    key[axis] = index
    return tuple(key)


def paint_disc(
    mask: NDArray[np.bool_], axis: int, index: int, centre: Index3, radius_mm: float,
    spacing: tuple[float, float, float], value: bool,
) -> None:  # fmt: skip
    """Set the voxels of slice ``index`` along ``axis`` within ``radius_mm`` of ``centre`` to ``value``."""
    a, b = (ax for ax in range(3) if ax != axis)
    plane = mask[_plane_key(axis, index)]
    lo_a, hi_a = _span(centre[a], radius_mm / spacing[a], mask.shape[a])
    lo_b, hi_b = _span(centre[b], radius_mm / spacing[b], mask.shape[b])
    if lo_a >= hi_a or lo_b >= hi_b:
        return
    da = (np.arange(lo_a, hi_a) - centre[a]) * spacing[a]
    db = (np.arange(lo_b, hi_b) - centre[b]) * spacing[b]
    disc = da[:, None] ** 2 + db[None, :] ** 2 <= max(radius_mm, 0.5 * min(spacing[a], spacing[b])) ** 2
    region = plane[lo_a:hi_a, lo_b:hi_b]
    region[disc] = value


def _span(centre: float, radius_vox: float, size: int) -> tuple[int, int]:
    return max(0, int(np.floor(centre - radius_vox))), min(size, int(np.ceil(centre + radius_vox)) + 1)


def paint_segment(
    mask: NDArray[np.bool_], axis: int, index: int, start: Index3, end: Index3, radius_mm: float,
    spacing: tuple[float, float, float], value: bool,
) -> None:  # fmt: skip
    """Paint discs along the segment ``start``..``end`` (a continuous stroke, no gaps)."""
    s, e, sp = np.asarray(start), np.asarray(end), np.asarray(spacing)
    length_mm = float(np.linalg.norm((e - s) * sp))
    steps = max(1, int(np.ceil(length_mm / max(radius_mm * 0.5, 0.25))))
    for t in np.linspace(0.0, 1.0, steps + 1):
        point = s + (e - s) * t
        paint_disc(mask, axis, index, (float(point[0]), float(point[1]), float(point[2])), radius_mm, spacing, value)


def bounding_box(mask: NDArray[np.bool_]) -> tuple[slice, slice, slice] | None:
    """The tight half-open box around the set voxels, or None when the mask is empty."""
    if not mask.any():
        return None
    bounds = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        bounds.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return (bounds[0], bounds[1], bounds[2])


@dataclass
class _Step:
    axis: int
    index: int
    before: NDArray[np.bool_]
    after: NDArray[np.bool_]


class MaskEditor:
    """A working copy of one mask with slice-wise strokes, undo and redo."""

    def __init__(self, mask: NDArray[np.bool_], spacing: tuple[float, float, float]) -> None:
        self.mask = mask.copy()
        self.spacing = spacing
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._open: _Step | None = None
        self._last: Index3 | None = None

    def stroke(self, axis: int, index: int, point: Index3, radius_mm: float, erase: bool, start: bool) -> None:
        """Continue (or, with ``start``, begin) a stroke at ``point`` on slice ``index`` of ``axis``."""
        if start or self._open is None or (self._open.axis, self._open.index) != (axis, index):
            self.end_stroke()
            plane = self.mask[_plane_key(axis, index)].copy()
            self._open, self._last = _Step(axis, index, plane, plane), point
        previous = self._last or point
        paint_segment(self.mask, axis, index, previous, point, radius_mm, self.spacing, not erase)
        self._last = point

    def end_stroke(self) -> None:
        step, self._open, self._last = self._open, None, None
        if step is None:
            return
        step.after = self.mask[_plane_key(step.axis, step.index)].copy()
        if not np.array_equal(step.before, step.after):
            self._undo = [*self._undo, step][-MAX_UNDO:]
            self._redo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        self.end_stroke()
        if not self._undo:
            return False
        step = self._undo.pop()
        self.mask[_plane_key(step.axis, step.index)] = step.before
        self._redo.append(step)
        return True

    def redo(self) -> bool:
        self.end_stroke()
        if not self._redo:
            return False
        step = self._redo.pop()
        self.mask[_plane_key(step.axis, step.index)] = step.after
        self._undo.append(step)
        return True
