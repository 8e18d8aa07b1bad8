"""Which lung a finding lies in and which third of that lung (``core.lung_zone``), from the lung masks.

The masks are the analysis's own (``lung_mask.lungs`` on the ~5 mm slabs of the model grid), so
this costs one slab plane per finding. The side is the lung nearest to the finding's centre on
its slab. A large tumour indents the aerated lung, so its centre lies far from it; a finding
counts as at a lung when its centre is within half its long axis plus ``MAX_GAP_MM`` of it. One
further away (a mediastinal mass) gets no side here, and the display falls back to the body
midline.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.lung_zone import zone_of

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.inference.lung_mask import LungMasks
    from meddiag_desktop.inference.resample import Grid

MAX_GAP_MM = 10.0  # between a finding's edge (half its long axis from its centre) and its lung
_CODES = {"right": 1, "left": 2}


@dataclass(frozen=True, eq=False)
class LungZones:
    """Both lungs as one label array on the mask slabs (0 none, 1 right, 2 left) of a model grid."""

    sides: NDArray[np.uint8]
    grid: Grid
    factor: int  # model-grid slices per slab

    @classmethod
    def of(cls, lungs: LungMasks, grid: Grid, factor: int) -> LungZones:
        sides = np.zeros(lungs.left.shape, dtype=np.uint8)
        sides[lungs.right] = _CODES["right"]
        sides[lungs.left] = _CODES["left"]
        return cls(sides, grid, factor)

    def extent_mm(self, side: str) -> tuple[float, float] | None:
        """(superior, inferior) LPS z of the lung's outer slice edges, or None when it is empty."""
        slabs = np.flatnonzero((self.sides == _CODES[side]).any(axis=(1, 2)))
        if slabs.size == 0:
            return None
        first = int(slabs[0]) * self.factor
        last = min((int(slabs[-1]) + 1) * self.factor, self.grid.shape[0]) - 1
        z0, dz = self.grid.origin_lps[2], self.grid.spacing[0]  # the model grid's z runs superior
        return z0 + (last + 0.5) * dz, z0 + (first - 0.5) * dz

    def side_at(self, lps: tuple[float, float, float], radius_mm: float = 0.0) -> str:
        """The lung nearest to ``lps`` on its slab ("" when none is within ``radius_mm + MAX_GAP_MM``)."""
        origin, (dz, dy, dx) = np.asarray(self.grid.origin_lps), self.grid.spacing
        x, y, z = (np.asarray(lps) - origin) / np.array([dx, dy, dz])
        slab = int(np.clip(round(z) // self.factor, 0, self.sides.shape[0] - 1))
        plane = self.sides[slab]
        best, nearest = (radius_mm + MAX_GAP_MM) ** 2, ""
        for side, code in _CODES.items():
            rows, cols = np.nonzero(plane == code)
            if rows.size:
                gap = float(np.min(((rows - y) * dy) ** 2 + ((cols - x) * dx) ** 2))
                if gap <= best:
                    best, nearest = gap, side
        return nearest

    def place(self, finding: Finding) -> Finding:
        """``finding`` with its lung side and zone (both empty when no lung is near it)."""
        side = self.side_at(finding.centroid_lps, finding.long_axis_mm / 2.0)
        extent = self.extent_mm(side) if side else None
        zone = zone_of(finding.centroid_lps[2], *extent) if extent else ""
        return dataclasses.replace(finding, lung_side=side, lung_zone=zone)
