"""A horizontal colour bar for the heat map: its colour table from low to high, with its label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QWidget

from meddiag_desktop.ui.viewer.colour_maps import heat_lut

if TYPE_CHECKING:
    from PySide6.QtGui import QPaintEvent

STOPS = 16


class ColourBar(QWidget):
    """Shows ``label`` and the colour scale ``low``..``high``; hidden when there is no heat map."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label, self.low, self.high = "", 0.0, 1.0
        self.setMinimumHeight(34)
        self._lut = heat_lut(255)

    def set_scale(self, label: str, low: float, high: float) -> None:
        self.label, self.low, self.high = label, low, high
        self.update()

    def text(self) -> str:
        return f"{self.label}: {self.low:.2g} … {self.high:.2g}"

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        bar = QRectF(4.0, 18.0, self.width() - 8.0, 12.0)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for i in range(STOPS + 1):
            r, g, b, _ = (int(v) for v in self._lut[1 + round(i * 254 / STOPS)])
            gradient.setColorAt(i / STOPS, QColor(r, g, b))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().windowText().color())
        top = QRectF(4.0, 0.0, self.width() - 8.0, 16.0)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{self.low:.2g}")
        painter.drawText(top, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, self.label)
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{self.high:.2g}")
        painter.end()
