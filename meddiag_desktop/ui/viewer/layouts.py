"""Viewport layouts (1×1, 1×2, 2×2, 1×3) and an arrangement: a layout plus one plane per viewport."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from meddiag_desktop.ui.viewer.orientation import Plane

MAX_VIEWPORTS = 4


class Layout(enum.Enum):
    """How many viewports, in which grid; the value is what the settings file stores."""

    SINGLE = "1x1"
    PAIR = "1x2"
    GRID = "2x2"
    MPR = "1x3"

    @property
    def grid(self) -> tuple[int, int]:
        """Rows and columns."""
        rows, cols = self.value.split("x")
        return int(rows), int(cols)

    @property
    def count(self) -> int:
        rows, cols = self.grid
        return rows * cols

    @property
    def label(self) -> str:
        return self.value.replace("x", "×")

    def cell(self, index: int) -> tuple[int, int]:
        """Grid row and column of viewport ``index`` (row by row)."""
        return divmod(index, self.grid[1])


_DEFAULT_PLANES = {
    Layout.SINGLE: (Plane.AXIAL,),
    Layout.PAIR: (Plane.AXIAL, Plane.CORONAL),
    Layout.GRID: (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL, Plane.AXIAL),
    Layout.MPR: (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL),
}


@dataclass(frozen=True)
class Arrangement:
    """A layout and the plane each of its viewports shows."""

    layout: Layout
    planes: tuple[Plane, ...]

    def __post_init__(self) -> None:
        if len(self.planes) != self.layout.count:
            raise ValueError(f"layout {self.layout.label} has {self.layout.count} viewports, not {len(self.planes)}")

    @classmethod
    def default(cls, layout: Layout, native: Plane = Plane.AXIAL) -> Arrangement:
        """The layout's usual planes; a single viewport shows the series' acquired (native) plane."""
        return cls(layout, (native,) if layout is Layout.SINGLE else _DEFAULT_PLANES[layout])

    def with_plane(self, index: int, plane: Plane) -> Arrangement:
        planes = list(self.planes)
        planes[index] = plane
        return Arrangement(self.layout, tuple(planes))

    def to_json(self) -> dict[str, Any]:
        return {"layout": self.layout.value, "planes": [p.value for p in self.planes]}

    @classmethod
    def from_json(cls, data: object) -> Arrangement:
        """Parse what ``to_json`` wrote; raises ``ValueError`` on anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("planes"), list):
            raise ValueError(f"not an arrangement: {data!r}")
        return cls(Layout(data.get("layout")), tuple(Plane(p) for p in data["planes"]))
