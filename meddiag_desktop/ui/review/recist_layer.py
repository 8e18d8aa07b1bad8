"""The selected finding's RECIST axes drawn on its slice: two thin lines and their lengths.

The axes lie on one slice of the acquired plane (array axis 0, ``core.recist``), so they are
drawn only by a view cutting that axis, and only while it shows that slice. Lines and labels
are in view millimetres; each line has a dark casing and each label a dark backdrop, so both
stay legible over bright tissue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QLineF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsLineItem

from meddiag_desktop.ui.viewer.orientation import view_geometry
from meddiag_desktop.ui.viewer.overlays import outlined

if TYPE_CHECKING:
    from collections.abc import Callable

    from meddiag_desktop.core.recist import Index, Line, RecistAxes
    from meddiag_desktop.ui.viewer.orientation import PlaneAxes
    from meddiag_desktop.ui.viewer.state import ViewerState

RECIST_LAYER = "recist-axes"
RECIST_COLOUR = QColor(255, 236, 120)
CASING = QColor(0, 0, 0, 170)


class _Group(pg.ItemGroup):  # type: ignore[misc]
    """The layer's item: a parent for lines and labels that are already placed in view mm."""

    def setRect(self, *_args: Any) -> None:  # the view sizes image layers with this; lines need nothing
        return


def _line(parent: _Group, colour: QColor, width: float, z: float) -> QGraphicsLineItem:
    line = QGraphicsLineItem()
    line.setPen(pg.mkPen(colour, width=width))  # cosmetic: as thin at every zoom
    line.setParentItem(parent)
    line.setZValue(z)
    return line


class RecistLayer:
    """One finding's long and short axis on one view."""

    name = RECIST_LAYER

    def __init__(self, axes: RecistAxes) -> None:
        self.axes = axes
        self.item = _Group()
        self.item.setZValue(30.0)
        self._lines: dict[str, tuple[QGraphicsLineItem, QGraphicsLineItem]] = {}
        self.labels: dict[str, pg.TextItem] = {}
        for key, mm in (("long", axes.long_mm), ("short", axes.short_mm)):
            self._lines[key] = (_line(self.item, CASING, 3.5, 0.0), _line(self.item, RECIST_COLOUR, 1.5, 1.0))
            label = outlined(pg.TextItem(f"{key} {mm:.1f} mm", color=RECIST_COLOUR, anchor=(0.0, 0.5)))
            label.setParentItem(self.item)
            self.labels[key] = label
        self.shown_on = -1  # the slice the axes are drawn on in this view (-1: not drawn)

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        volume = state.volume
        drawn = volume is not None and axes.slice_axis == 0 and index == self.axes.slice_index
        self.shown_on = index if drawn else -1
        for child in self.item.childItems():
            child.setVisible(drawn)
        if volume is None or not drawn:
            return
        geometry = view_geometry(volume, axes.plane)
        for key, ends in (("long", self.axes.long_axis), ("short", self.axes.short_axis)):
            self._place(key, ends, geometry.to_display)

    def _place(self, key: str, ends: Line, to_display: Callable[[Index], tuple[float, float]]) -> None:
        (x0, y0), (x1, y1) = to_display(ends[0]), to_display(ends[1])
        for line in self._lines[key]:
            line.setLine(QLineF(x0, y0, x1, y1))
        right = (x0, y0) if x0 >= x1 else (x1, y1)  # the label goes beyond the end on screen right
        self.labels[key].setPos(right[0] + 1.0, right[1])
