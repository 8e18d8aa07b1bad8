"""Fixed-on-screen overlays of a slice view: corner text, orientation letters, scale bar, banner.

They are children of the ``ViewBox`` itself (not of its data group), so they stay put while
the image is zoomed and panned, and they are part of every screenshot.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsLineItem

if TYPE_CHECKING:
    from collections.abc import Callable

TEXT_COLOR = QColor(235, 235, 200)
LETTER_COLOR = QColor(255, 210, 80)
MARGIN = 6.0
_NICE_MM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500)


SCALE_BAR_CLEARANCE = 50.0  # clears the scale bar and the bottom orientation letter


TEXT_BACKDROP = QColor(0, 0, 0, 200)


def outlined(item: pg.TextItem) -> pg.TextItem:
    """``item`` on a translucent dark backdrop, so light text stays legible over bright tissue
    (bone, contrast, a MIP) as well as over air.

    Not a ``QGraphicsEffect``: PySide6 does not hand an effect's ownership to the item it is set
    on, so the effect and the item each deleted it at teardown (a reproducible segfault).
    """
    item.fill = pg.mkBrush(TEXT_BACKDROP)
    item.update()
    return item


def _text(anchor: tuple[float, float], color: QColor, size: int = 9, bold: bool = False) -> pg.TextItem:
    item = pg.TextItem("", color=color, anchor=anchor)
    font = QFont()
    font.setPointSize(size)
    font.setBold(bold)
    item.setFont(font)
    item.setZValue(1000)
    outlined(item)
    return item


class CornerText:
    """Four text blocks in the view's corners; in narrow views the right-hand blocks stack
    below (top) or above (bottom) the left-hand ones instead of overlapping them."""

    def __init__(self, box: pg.ViewBox) -> None:
        self._box = box
        self.layout_changed: list[Callable[[], None]] = []
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
        if self.items[corner].toPlainText() != text:
            self.items[corner].setText(text)
            self._on_box_resized()

    def text(self, corner: str) -> str:
        return str(self.items[corner].toPlainText())

    def _size(self, corner: str) -> tuple[float, float]:
        if not self.items[corner].toPlainText():
            return (0.0, 0.0)
        bounds = self.items[corner].boundingRect()
        return (float(bounds.width()), float(bounds.height()))

    def _collide(self, left: str, right: str, width: float) -> bool:
        return self._size(left)[0] + self._size(right)[0] + 3 * MARGIN > width

    def _on_box_resized(self) -> None:
        rect = self._box.boundingRect()
        top, bottom = rect.top() + MARGIN, rect.bottom() - MARGIN - SCALE_BAR_CLEARANCE
        stack_top = self._collide("tl", "tr", rect.width())
        stack_bottom = self._collide("bl", "br", rect.width())
        self.items["tl"].setPos(rect.left() + MARGIN, top)
        self.items["tr"].setPos(rect.right() - MARGIN, top + (self._size("tl")[1] if stack_top else 0.0))
        # Bottom corners sit above the scale bar and bottom letter so they never overlap them.
        self.items["bl"].setPos(rect.left() + MARGIN, bottom)
        self.items["br"].setPos(rect.right() - MARGIN, bottom - (self._size("bl")[1] if stack_bottom else 0.0))
        for listener in self.layout_changed:
            listener()

    def top_clearance(self, centre_x: float, half_width: float) -> float:
        """How far below the view's top edge the corner text reaches within ``centre_x ± half_width``."""
        reach = 0.0
        for corner in ("tl", "tr"):
            item = self.items[corner]
            width, height = self._size(corner)
            if not width:
                continue
            x0 = item.pos().x() - (width if corner == "tr" else 0.0)
            if x0 < centre_x + half_width and x0 + width > centre_x - half_width:
                reach = max(reach, item.pos().y() - self._box.boundingRect().top() + height)
        return reach


class OrientationLetters:
    """L/R/A/P/S/I letters at the middle of each edge (the top one below any corner text there)."""

    def __init__(self, box: pg.ViewBox, corners: CornerText | None = None) -> None:
        self._box = box
        self._corners = corners
        if corners is not None:
            corners.layout_changed.append(self._on_box_resized)
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
        clearance = self._corners.top_clearance(rect.center().x(), 12.0) if self._corners else 0.0
        self.items["top"].setPos(rect.center().x(), rect.top() + MARGIN + clearance)
        self.items["bottom"].setPos(rect.center().x(), rect.bottom() - MARGIN - 26)


def _line(color: QColor, width: int, parent: pg.ViewBox, z: float) -> QGraphicsLineItem:
    line = QGraphicsLineItem()
    pen = QPen(color)
    pen.setWidth(width)
    line.setPen(pen)
    line.setParentItem(parent)
    line.setZValue(z)
    return line


class ScaleBar:
    """A horizontal bar of a round number of millimetres (view coordinates are mm)."""

    def __init__(self, box: pg.ViewBox) -> None:
        self._box = box
        self._casing = _line(TEXT_BACKDROP, 5, box, 999)  # a dark edge: legible over bone and a MIP too
        self._line = _line(TEXT_COLOR, 3, box, 1000)
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
        self._casing.setLine(x0 - 1.0, y, x0 + length_px + 1.0, y)
        self._label.setPos(QPointF(rect.center().x(), y - 2.0))
        self._label.setText(f"{self.length_mm:g} mm")

    def text(self) -> str:
        return str(self._label.toPlainText())


BANNER_TEXT = QColor(255, 255, 255)
BANNER_FILL = QColor(170, 20, 20, 225)
BANNER_BORDER = QColor(255, 210, 80)


class Banner:
    """A red box across the upper part of the view saying why the image must not be trusted.

    Hidden while its text is empty. It is drawn above every layer, so no overlay hides it.
    """

    def __init__(self, box: pg.ViewBox) -> None:
        self._box = box
        self.item = pg.TextItem("", color=BANNER_TEXT, anchor=(0.5, 0.5), fill=BANNER_FILL, border=BANNER_BORDER)
        font = QFont()
        font.setPointSize(10)
        font.setBold(True)
        self.item.setFont(font)
        self.item.setZValue(1100)
        self.item.setParentItem(box)
        self.item.setVisible(False)
        box.sigResized.connect(self._on_box_resized)

    def set_text(self, text: str) -> None:
        if text != self.text():
            self.item.setText(text)
            self._on_box_resized()
        self.item.setVisible(bool(text))

    def text(self) -> str:
        return str(self.item.toPlainText())

    def _on_box_resized(self) -> None:
        rect = self._box.boundingRect()
        self.item.textItem.setTextWidth(max(rect.width() * 0.85, 120.0))
        self.item.setPos(rect.center().x(), rect.top() + rect.height() * 0.22)
