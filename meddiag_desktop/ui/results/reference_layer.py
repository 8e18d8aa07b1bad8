"""Reference outlines of one existing result object (SEG or RT structure set) on one slice view.

Drawn so they cannot be taken for AI findings: dashed outlines only (the AI draws filled masks
with solid outlines), in the object's own colours, each named on the image with "(ref.)".
Masks are kept cropped (``OutlineMask``); each render cuts the shown plane out of the crops,
finds their edges and places them on a plane of the view's size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont

from meddiag_desktop.ui.viewer.orientation import extract_slice

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.results import OutlineMask
    from meddiag_desktop.ui.viewer.orientation import PlaneAxes
    from meddiag_desktop.ui.viewer.state import ViewerState

LAYER_PREFIX = "reference:"
DASH = 3  # voxels on, voxels off
Z_VALUE = 15.0  # above the AI masks (10), below the crosshair (500)
LABEL_SUFFIX = " (ref.)"
LABEL_TEXT = QColor(235, 235, 235)


def layer_name(sop_instance_uid: str) -> str:
    return LAYER_PREFIX + sop_instance_uid


def edges(cut: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Pixels of ``cut`` with a 4-neighbour outside it (a crop's border counts as outside)."""
    padded = np.pad(cut, 1)
    inner = padded[1:-1, 1:-1]
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return np.asarray(inner & ~interior)


def dashes(shape: tuple[int, int], origin: tuple[int, int]) -> NDArray[np.bool_]:
    """A checkerboard of ``DASH``-sized blocks (in plane coordinates) that cuts outlines into dashes."""
    rows = (np.arange(shape[0]) + origin[0])[:, None] // DASH
    cols = (np.arange(shape[1]) + origin[1])[None, :] // DASH
    return np.asarray((rows + cols) % 2 == 0)


def outline_lut(colours: list[tuple[int, int, int]]) -> NDArray[np.uint8]:
    lut = np.zeros((256, 4), dtype=np.uint8)
    for i, rgb in enumerate(colours[:255], start=1):
        lut[i] = (*rgb, 255)
    return lut


class ReferenceLayer:
    """One object's items as dashed, labelled outlines; ``set_shown`` picks which items are drawn."""

    def __init__(self, sop_instance_uid: str, masks: tuple[OutlineMask, ...]) -> None:
        self.name = layer_name(sop_instance_uid)
        self.masks = masks[:255]
        self.shown: frozenset[int] = frozenset()
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(Z_VALUE)
        self.item.setAutoDownsample(False)
        self.item.setLookupTable(outline_lut([m.item.colour for m in self.masks]))
        self.labels = [self._label(m) for m in self.masks]

    def _label(self, mask: OutlineMask) -> pg.TextItem:
        border = pg.mkPen(QColor(*mask.item.colour), width=1.5)
        label = pg.TextItem(mask.item.name + LABEL_SUFFIX, color=LABEL_TEXT, anchor=(0, 1),
                            fill=pg.mkBrush(0, 0, 0, 170), border=border)  # fmt: skip
        font = QFont()
        font.setPointSize(8)
        label.setFont(font)
        label.setParentItem(self.item)
        label.setVisible(False)
        return label

    def set_shown(self, numbers: frozenset[int]) -> None:
        self.shown = numbers

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        if state.volume is None:
            return
        remaining = [a for a in range(3) if a != axes.slice_axis]
        canvas = np.zeros(tuple(state.volume.shape[a] for a in remaining), dtype=np.uint8)
        for colour, mask in enumerate(self.masks, start=1):
            if mask.item.number in self.shown:
                _paint(canvas, mask, axes.slice_axis, remaining, index, colour)
        plane = np.ascontiguousarray(extract_slice(np.expand_dims(canvas, axes.slice_axis), axes, 0))
        self.item.setImage(plane, autoLevels=False, levels=(0, 255))
        self._place_labels(plane)

    def _place_labels(self, plane: NDArray[np.uint8]) -> None:
        for colour, label in enumerate(self.labels, start=1):
            shown = self.masks[colour - 1].item.number in self.shown
            found = np.argwhere(plane == colour) if shown else np.zeros((0, 2), dtype=np.int64)
            label.setVisible(len(found) > 0)
            if len(found):
                row, col = (int(v) for v in found[0])  # the outline's top-most pixel: the name sits just above
                label.setPos(float(col), float(row))


def _paint(
    canvas: NDArray[np.uint8], mask: OutlineMask, slice_axis: int, remaining: list[int], index: int, colour: int
) -> None:
    """Draw the dashed outline of ``mask``'s plane ``index`` into ``canvas`` (remaining-axes order)."""
    j = index - mask.offset[slice_axis]
    if mask.mask.size == 0 or not 0 <= j < mask.mask.shape[slice_axis]:
        return
    cut = np.take(mask.mask, j, axis=slice_axis)
    origin = (mask.offset[remaining[0]], mask.offset[remaining[1]])
    edge = edges(cut) & dashes(cut.shape, origin)
    region = canvas[origin[0] : origin[0] + cut.shape[0], origin[1] : origin[1] + cut.shape[1]]
    region[edge] = colour
