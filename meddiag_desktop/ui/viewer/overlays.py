"""Fixed-on-screen overlays of a slice view: corner text, orientation letters, scale bar.

They are children of the ``ViewBox`` itself (not of its data group), so they stay put while
the image is zoomed and panned, and they are part of every screenshot.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsLineItem

TEXT_COLOR = QColor(235, 235, 200)
LETTER_COLOR = QColor(255, 210, 80)
MARGIN = 6.0
_NICE_MM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500)


SCALE_BAR_CLEARANCE = 50.0  # clears the scale bar and the bottom orientation letter


def _text(anchor: tuple[float, float], color: QColor, size: int = 9, bold: bool = False) -> pg.TextItem:
    item = pg.TextItem("", color=color, anchor=anchor)
    font = QFont()
    font.setPointSize(size)
    font.setBold(bold)
    item.setFont(font)
    item.setZValue(1000)
    return item


class CornerText:
    """Four text blocks in the view's corners."""

    def __init__(self, box: pg.ViewBox) -> None:
        self._box = box
        self.items = {
            "tl": _text((0, 0), TEXT_COLOR),
            "tr": _text((1, 0), TEXT_COLOR),
            "bl": _text((0, 1), TEXT_COLOR),
            "br": _text((1, 1), TEXT_COLOR),
        }
        for item in self.items.values():
            item.setParentItem(box)
        box.sigResized.connect(self._on_box_resized)

    def set_text(self, corner: str, text: str) -> None:
        self.items[corner].setText(text)

    def text(self, corner: str) -> str:
        return str(self.items[corner].toPlainText())

    def _on_box_resized(self) -> None:
        rect = self._box.boundingRect()
        self.items["tl"].setPos(rect.left() + MARGIN, rect.top() + MARGIN)
        self.items["tr"].setPos(rect.right() - MARGIN, rect.top() + MARGIN)
        # Bottom corners sit above the scale bar and bottom letter so narrow views never overlap them.
        self.items["bl"].setPos(rect.left() + MARGIN, rect.bottom() - MARGIN - SCALE_BAR_CLEARANCE)
        self.items["br"].setPos(rect.right() - MARGIN, rect.bottom() - MARGIN - SCALE_BAR_CLEARANCE)


class OrientationLetters:
    """L/R/A/P/S/I letters at the middle of each edge."""

    def __init__(self, box: pg.ViewBox) -> None:
        self._box = box
        self.items = {
            "left": _text((0, 0.5), LETTER_COLOR, 12, True),
            "right": _text((1, 0.5), LETTER_COLOR, 12, True),
            "top": _text((0.5, 0), LETTER_COLOR, 12, True),
            "bottom": _text((0.5, 1), LETTER_COLOR, 12, True),
        }
        for item in self.items.values():
            item.setParentItem(box)
        box.sigResized.connect(self._on_box_resized)

    def set_letters(self, left: str, right: str, top: str, bottom: str) -> None:
        for key, value in zip(("left", "right", "top", "bottom"), (left, right, top, bottom), strict=True):
            self.items[key].setText(value)

    def letters(self) -> tuple[str, str, str, str]:
        return tuple(str(self.items[k].toPlainText()) for k in ("left", "right", "top", "bottom"))  # type: ignore[return-value]

    def _on_box_resized(self) -> None:
        rect = self._box.boundingRect()
        self.items["left"].setPos(rect.left() + MARGIN, rect.center().y())
        self.items["right"].setPos(rect.right() - MARGIN, rect.center().y())
        self.items["top"].setPos(rect.center().x(), rect.top() + MARGIN)
        self.items["bottom"].setPos(rect.center().x(), rect.bottom() - MARGIN - 26)


class ScaleBar:
    """A horizontal bar of a round number of millimetres (view coordinates are mm)."""

    def __init__(self, box: pg.ViewBox) -> None:
        self._box = box
        self._line = QGraphicsLineItem()
        pen = QPen(TEXT_COLOR)
        pen.setWidth(3)
        self._line.setPen(pen)
        self._line.setParentItem(box)
        self._line.setZValue(1000)
        self._label = _text((0.5, 1), TEXT_COLOR)
        self._label.setParentItem(box)
        self.length_mm = 0.0
        box.sigResized.connect(self.update)
        box.sigRangeChanged.connect(self.update)

    def update(self) -> None:
        mm_per_px = self._box.viewPixelSize()[0]
        if not math.isfinite(mm_per_px) or mm_per_px <= 0:
            return
        target_mm = 100.0 * mm_per_px
        self.length_mm = float(max((n for n in _NICE_MM if n <= target_mm), default=_NICE_MM[0]))
        length_px = self.length_mm / mm_per_px
        rect = self._box.boundingRect()
        y = rect.bottom() - 14.0
        x0 = rect.center().x() - length_px / 2.0
        self._line.setLine(x0, y, x0 + length_px, y)
        self._label.setPos(QPointF(rect.center().x(), y - 2.0))
        self._label.setText(f"{self.length_mm:g} mm")

    def text(self) -> str:
        return str(self._label.toPlainText())
