"""Measurements in display millimetres and their statistics (no Qt).

A measurement lives on one plane and slice of one series. Points are in the view's
display coordinates, which are millimetres (x right, y down), so lengths need no
conversion; region statistics sample the raw stored values (HU for CT).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.window_level import RegionStats, region_stats

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.ui.viewer.orientation import Plane


class MeasureKind(enum.Enum):
    LENGTH = "length"
    ELLIPSE = "ellipse"
    RECTANGLE = "rectangle"


@dataclass(frozen=True)
class Measurement:
    """A length or a region on one slice; ``p0``/``p1`` are line ends or box corners (mm)."""

    number: int
    kind: MeasureKind
    plane: Plane
    slice_index: int
    p0: tuple[float, float]
    p1: tuple[float, float]
    units: str = ""
    stats: RegionStats | None = None

    @property
    def length_mm(self) -> float:
        return math.dist(self.p0, self.p1)

    def moved(self, p0: tuple[float, float], p1: tuple[float, float]) -> Measurement:
        return replace(self, p0=p0, p1=p1)

    def summary(self) -> str:
        """One line for the measurements panel."""
        where = f"{self.plane.value} {self.slice_index + 1}"
        if self.kind is MeasureKind.LENGTH:
            return f"#{self.number} length {self.length_mm:.1f} mm ({where})"
        if self.stats is None or self.stats.count == 0:
            return f"#{self.number} {self.kind.value}: empty ({where})"
        unit = f" {self.units}" if self.units else ""
        s = self.stats
        return (
            f"#{self.number} {self.kind.value} mean {s.mean:.1f}{unit}, SD {s.sd:.1f}, "
            f"min {s.minimum:.0f}, max {s.maximum:.0f}, area {s.area_mm2:.1f} mm² ({where})"
        )


def region_mask(
    kind: MeasureKind,
    p0: tuple[float, float],
    p1: tuple[float, float],
    shape: tuple[int, int],
    spacing_hv: tuple[float, float],
) -> NDArray[np.bool_]:
    """Pixels of a ``(rows, cols)`` plane whose centres lie inside the ellipse or rectangle."""
    x0, x1 = sorted((p0[0], p1[0]))
    y0, y1 = sorted((p0[1], p1[1]))
    xs = (np.arange(shape[1]) + 0.5) * spacing_hv[0]
    ys = (np.arange(shape[0]) + 0.5) * spacing_hv[1]
    if kind is MeasureKind.RECTANGLE:
        return ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0) / 2, 1e-9), max((y1 - y0) / 2, 1e-9)
    return (((xs - cx) / rx)[None, :] ** 2 + ((ys - cy) / ry)[:, None] ** 2) <= 1.0


def with_stats(measurement: Measurement, plane: NDArray[np.generic], spacing_hv: tuple[float, float]) -> Measurement:
    """``measurement`` with statistics of ``plane`` (rows=v, cols=h) inside its region."""
    if measurement.kind is MeasureKind.LENGTH or plane.ndim != 2:
        return measurement
    shape = (int(plane.shape[0]), int(plane.shape[1]))
    mask = region_mask(measurement.kind, measurement.p0, measurement.p1, shape, spacing_hv)
    stats = region_stats(np.asarray(plane)[mask], spacing_hv[0] * spacing_hv[1])
    return replace(measurement, stats=stats)
