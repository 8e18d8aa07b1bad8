"""Which array axis goes where on screen, from the volume's affine (no Qt).

Radiological display conventions (as in Slicer and Weasis): axial views show the patient's
right on the image left and anterior at the top; coronal views show the patient's right on
the left and superior at the top; sagittal views show anterior on the left and superior at
the top. LPS: +x = patient left, +y = posterior, +z = superior (PS3.3 C.7.6.2.1.1).
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume


class Plane(enum.Enum):
    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


# plane -> (normal LPS axis, (horizontal LPS axis, sign to the right), (vertical LPS axis, sign down))
_SCREEN: dict[Plane, tuple[int, tuple[int, int], tuple[int, int]]] = {
    Plane.AXIAL: (2, (0, 1), (1, 1)),
    Plane.CORONAL: (1, (0, 1), (2, -1)),
    Plane.SAGITTAL: (0, (1, 1), (2, -1)),
}
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


@dataclass(frozen=True)
class PlaneAxes:
    """How a plane is cut from the ``(z, y, x)`` array and laid out on screen."""

    plane: Plane
    slice_axis: int
    h_axis: int
    v_axis: int
    h_flip: bool
    v_flip: bool


def lps_axes_of(affine: NDArray[np.float64]) -> tuple[tuple[int, int], ...]:
    """For array axes (z, y, x): the LPS axis each runs along most and its sign."""
    direction = affine[:3, :3] / np.maximum(np.linalg.norm(affine[:3, :3], axis=0), 1e-12)
    best = max(
        itertools.permutations(range(3)),
        key=lambda perm: sum(abs(direction[perm[a], a]) for a in range(3)),
    )
    return tuple((best[a], 1 if direction[best[a], a] >= 0 else -1) for a in range(3))


def plane_axes(affine: NDArray[np.float64], plane: Plane) -> PlaneAxes:
    """The array axes and flips that show ``plane`` in radiological orientation."""
    mapping = lps_axes_of(affine)
    array_axis_of = {lps: (a, sign) for a, (lps, sign) in enumerate(mapping)}
    normal, (h_lps, h_sign), (v_lps, v_sign) = _SCREEN[plane]
    h_axis, h_dir = array_axis_of[h_lps]
    v_axis, v_dir = array_axis_of[v_lps]
    return PlaneAxes(
        plane=plane,
        slice_axis=array_axis_of[normal][0],
        h_axis=h_axis,
        v_axis=v_axis,
        h_flip=h_dir != h_sign,
        v_flip=v_dir != v_sign,
    )


def native_plane(affine: NDArray[np.float64]) -> Plane:
    """The plane the series was acquired in (its slice axis is array axis 0)."""
    lps_of_slice_axis = lps_axes_of(affine)[0][0]
    return {2: Plane.AXIAL, 1: Plane.CORONAL, 0: Plane.SAGITTAL}[lps_of_slice_axis]


def extract_slice(array: NDArray[np.generic], axes: PlaneAxes, index: int) -> NDArray[np.generic]:
    """The 2D ``(rows=v, cols=h)`` view of slice ``index`` (a numpy view, no copy)."""
    return orient_cut(_cut(array, axes.slice_axis, index), axes)


def orient_cut(cut: NDArray[np.generic], axes: PlaneAxes) -> NDArray[np.generic]:
    """Lay out a plane cut along ``axes.slice_axis`` (other axes in array order) as on screen."""
    remaining = [a for a in range(3) if a != axes.slice_axis]
    if remaining.index(axes.v_axis) != 0:
        cut = np.swapaxes(cut, 0, 1)
    return cut[:: -1 if axes.v_flip else 1, :: -1 if axes.h_flip else 1]


def box_in_plane(
    box: tuple[slice, slice, slice], shape: tuple[int, int, int], axes: PlaneAxes, index: int
) -> NDArray[np.bool_]:
    """Which pixels of slice ``index`` (laid out as ``extract_slice`` does) lie in ``box``."""
    inside = []
    for axis, n in enumerate(shape):
        flags = np.zeros(n, dtype=bool)
        flags[box[axis]] = True
        inside.append(flags)
    if not inside[axes.slice_axis][index]:
        return np.zeros((shape[axes.v_axis], shape[axes.h_axis]), dtype=bool)
    rows = inside[axes.v_axis][:: -1 if axes.v_flip else 1]
    cols = inside[axes.h_axis][:: -1 if axes.h_flip else 1]
    return np.asarray(rows[:, np.newaxis] & cols[np.newaxis, :])


def _cut(array: NDArray[np.generic], axis: int, index: int) -> NDArray[np.generic]:
    key: list[slice | int] = [slice(None)] * array.ndim
    key[axis] = index
    return array[tuple(key)]


def screen_letters(affine: NDArray[np.float64], axes: PlaneAxes) -> tuple[str, str, str, str]:
    """Orientation letters for the (left, right, top, bottom) edges of a view."""
    direction = affine[:3, :3] / np.maximum(np.linalg.norm(affine[:3, :3], axis=0), 1e-12)
    right = direction[:, axes.h_axis] * (-1.0 if axes.h_flip else 1.0)
    down = direction[:, axes.v_axis] * (-1.0 if axes.v_flip else 1.0)
    return (_letters(-right), _letters(right), _letters(-down), _letters(down))


def _letters(vector: NDArray[np.float64]) -> str:
    """Dominant LPS letters of ``vector`` (two letters when oblique, as Weasis shows)."""
    order = np.argsort(-np.abs(vector))
    letters = [_LETTERS[k][1 if vector[k] > 0 else 0] for k in order if abs(vector[k]) > 0.3]
    return "".join(letters[:2])


@dataclass(frozen=True)
class ViewGeometry:
    """Index <-> display-millimetre mapping of one plane of one volume."""

    axes: PlaneAxes
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the plane in voxels."""
        return (self.shape[self.axes.h_axis], self.shape[self.axes.v_axis])

    @property
    def size_mm(self) -> tuple[float, float]:
        width, height = self.size_px
        return (width * self.spacing[self.axes.h_axis], height * self.spacing[self.axes.v_axis])

    @property
    def slice_count(self) -> int:
        return self.shape[self.axes.slice_axis]

    def to_display(self, index: tuple[float, float, float]) -> tuple[float, float]:
        """Display mm (x right, y down) of a fractional ``(z, y, x)`` index."""
        return (
            self._axis_to_mm(index[self.axes.h_axis], self.axes.h_axis, self.axes.h_flip),
            self._axis_to_mm(index[self.axes.v_axis], self.axes.v_axis, self.axes.v_flip),
        )

    def to_index(self, x_mm: float, y_mm: float, slice_index: float) -> tuple[float, float, float]:
        """Fractional ``(z, y, x)`` index of a display point on slice ``slice_index``."""
        result = [0.0, 0.0, 0.0]
        result[self.axes.slice_axis] = slice_index
        result[self.axes.h_axis] = self._mm_to_axis(x_mm, self.axes.h_axis, self.axes.h_flip)
        result[self.axes.v_axis] = self._mm_to_axis(y_mm, self.axes.v_axis, self.axes.v_flip)
        return (result[0], result[1], result[2])

    def _axis_to_mm(self, value: float, axis: int, flip: bool) -> float:
        position = self.shape[axis] - 1 - value if flip else value
        return (position + 0.5) * self.spacing[axis]

    def _mm_to_axis(self, mm: float, axis: int, flip: bool) -> float:
        position = mm / self.spacing[axis] - 0.5
        return self.shape[axis] - 1 - position if flip else position


def view_geometry(volume: Volume, plane: Plane) -> ViewGeometry:
    """The display geometry of ``plane`` for ``volume``."""
    spacing = tuple(s if s > 0 else 1.0 for s in volume.spacing)
    return ViewGeometry(plane_axes(volume.affine, plane), volume.shape, (spacing[0], spacing[1], spacing[2]))


def lps_of_index(volume: Volume, index: tuple[float, float, float]) -> NDArray[np.float64]:
    """LPS mm of a fractional index, honouring exact per-slice positions when spacing is uneven."""
    if volume.slice_positions is None:
        return volume.index_to_lps(index)
    z = int(np.clip(round(index[0]), 0, volume.shape[0] - 1))
    in_plane = volume.affine[:3, 1] * index[1] + volume.affine[:3, 2] * index[2]
    return np.asarray(volume.slice_positions[z], dtype=np.float64) + in_plane
