"""Dock panels that collapse to a thin strip at the window's edge and come back with one click.

A panel's title bar has a collapse button; collapsing hides every panel on that side of the
window (so the images get the room) and puts one button per panel (its name, written
vertically on a side strip) on a ~24 px strip at that edge. Clicking a name brings the side
back at its old size, with that panel in front. Panels cannot be closed, so none is ever out
of reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QStyle,
    QStyleOptionToolButton,
    QStylePainter,
    QToolBar,
    QToolButton,
    QWidget,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QAction, QPaintEvent
    from PySide6.QtWidgets import QMainWindow

STRIP_WIDTH = 24
_Area = Qt.DockWidgetArea
_TOOLBAR_AREA = {
    _Area.LeftDockWidgetArea: Qt.ToolBarArea.LeftToolBarArea,
    _Area.RightDockWidgetArea: Qt.ToolBarArea.RightToolBarArea,
    _Area.BottomDockWidgetArea: Qt.ToolBarArea.BottomToolBarArea,
    _Area.TopDockWidgetArea: Qt.ToolBarArea.TopToolBarArea,
}
_COLLAPSE_ARROW = {_Area.LeftDockWidgetArea: "⇤", _Area.RightDockWidgetArea: "⇥", _Area.BottomDockWidgetArea: "⤓"}


def _vertical(area: Qt.DockWidgetArea) -> bool:
    return area in (_Area.LeftDockWidgetArea, _Area.RightDockWidgetArea)


def scroll_vertically(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area that scrolls up and down only: a tall panel then fits a 720 px screen."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


class StripButton(QToolButton):
    """A collapsed panel's name on its strip; on a side strip the text runs bottom to top."""

    def __init__(self, text: str, vertical: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vertical = vertical
        self.setText(text)
        self.setToolTip(f"Show the {text.split(' ·')[0]} panel")
        self.setAutoRaise(True)

    def sizeHint(self) -> QSize:
        length = self.fontMetrics().horizontalAdvance(self.text()) + 16
        thickness = STRIP_WIDTH - 2
        return QSize(thickness, length) if self.vertical else QSize(length, thickness)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.vertical:
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        option = QStyleOptionToolButton()
        self.initStyleOption(option)
        option.text = ""
        painter.drawComplexControl(QStyle.ComplexControl.CC_ToolButton, option)
        painter.rotate(-90)  # text from bottom to top, read with the head tilted left
        painter.drawText(-self.height(), 0, self.height(), self.width(), Qt.AlignmentFlag.AlignCenter, self.text())


class PanelTitle(QWidget):
    """A dock's title bar: its name and a button that collapses it to the edge."""

    def __init__(self, dock: QDockWidget, arrow: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(dock.windowTitle(), self)
        self.button = QToolButton(self)
        self.button.setText(arrow)
        self.button.setAutoRaise(True)
        self.button.setToolTip(f"Collapse {dock.windowTitle()} to a strip at the edge (click the strip to restore)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)


@dataclass
class _Collapsed:
    area: Qt.DockWidgetArea
    size: int
    group: tuple[QDockWidget, ...]
    button: StripButton
    action: QAction
    unseen: int = 0


class PanelStrips(QObject):
    """Collapses docks of ``window`` to edge strips and restores them."""

    changed = Signal()

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._strips: dict[Qt.DockWidgetArea, QToolBar] = {}
        self._collapsed: dict[QDockWidget, _Collapsed] = {}
        self._titles: dict[QDockWidget, PanelTitle] = {}

    def manage(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        """Give ``dock`` (placed in ``area``) a title bar with a collapse button; it can no longer be closed."""
        title = PanelTitle(dock, _COLLAPSE_ARROW.get(area, "⇤"), dock)
        title.button.clicked.connect(lambda _checked=False: self.collapse(dock))
        dock.setTitleBarWidget(title)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self._titles[dock] = title

    def is_collapsed(self, dock: QDockWidget) -> bool:
        return dock in self._collapsed

    def strip_button(self, dock: QDockWidget) -> StripButton | None:
        entry = self._collapsed.get(dock)
        return entry.button if entry is not None else None

    def title_bar(self, dock: QDockWidget) -> PanelTitle:
        return self._titles[dock]

    def collapse(self, dock: QDockWidget) -> None:
        """Hide ``dock`` and every panel on its side of the window behind their names on that edge's strip."""
        if dock in self._collapsed:
            return
        area = self._window.dockWidgetArea(dock)
        group = tuple(d for d in self._titles if self._window.dockWidgetArea(d) == area and d not in self._collapsed)
        size = dock.width() if _vertical(area) else dock.height()
        strip = self._strip(area)
        for member in group:
            button = StripButton(member.windowTitle(), _vertical(area), strip)
            button.clicked.connect(lambda _checked=False, d=member: self.expand(d))
            self._collapsed[member] = _Collapsed(area, size, group, button, strip.addWidget(button))
        for member in group:
            member.hide()
        strip.show()
        self.changed.emit()

    def expand(self, dock: QDockWidget) -> None:
        """Bring back ``dock``'s group at its old size, ``dock`` in front."""
        entry = self._collapsed.get(dock)
        if entry is None:
            return
        strip = self._strips[entry.area]
        for member in entry.group:
            gone = self._collapsed.pop(member, None)
            if gone is not None:
                strip.removeAction(gone.action)
                gone.button.deleteLater()
            member.show()
        dock.raise_()
        orientation = Qt.Orientation.Horizontal if _vertical(entry.area) else Qt.Orientation.Vertical
        self._window.resizeDocks([dock], [entry.size], orientation)
        strip.setVisible(any(e.area == entry.area for e in self._collapsed.values()))
        self.changed.emit()

    def count_unseen(self, dock: QDockWidget) -> None:
        """Something new arrived in ``dock``: a collapsed panel's strip button says how many ("2 new")."""
        entry = self._collapsed.get(dock)
        if entry is not None:
            entry.unseen += 1
            entry.button.setText(f"{dock.windowTitle()} · {entry.unseen} new")
            entry.button.setStyleSheet("color: #b86e00; font-weight: bold;")
            entry.button.updateGeometry()

    def _strip(self, area: Qt.DockWidgetArea) -> QToolBar:
        strip = self._strips.get(area)
        if strip is None:
            strip = QToolBar("Collapsed panels", self._window)
            strip.setObjectName(f"strip-{int(area.value)}")
            strip.setMovable(False)
            strip.setFloatable(False)
            strip.toggleViewAction().setVisible(False)
            strip.setContentsMargins(0, 0, 0, 0)
            if _vertical(area):
                strip.setOrientation(Qt.Orientation.Vertical)
                strip.setFixedWidth(STRIP_WIDTH)
            else:
                strip.setFixedHeight(STRIP_WIDTH)
            self._window.addToolBar(_TOOLBAR_AREA[area], strip)
            self._strips[area] = strip
        return strip
