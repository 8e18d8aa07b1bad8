"""Small dock panels: notifications (errors and warnings in plain words) and measurements."""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from meddiag_desktop.errors import MeddiagError

if TYPE_CHECKING:
    from meddiag_desktop.ui.viewer.measure_store import MeasurementStore

log = logging.getLogger(__name__)
MAX_NOTES = 200


class Level(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_COLORS = {Level.INFO: QColor(90, 90, 90), Level.WARNING: QColor(170, 110, 0), Level.ERROR: QColor(190, 30, 30)}
_PREFIX = {Level.INFO: "", Level.WARNING: "⚠ ", Level.ERROR: "✖ "}


class NotificationPanel(QListWidget):
    """A list of messages for the user; never shows a traceback."""

    notified = Signal(str, str)  # level value, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)

    def notify(self, level: Level, text: str) -> None:
        item = QListWidgetItem(_PREFIX[level] + text)
        item.setForeground(QBrush(_COLORS[level]))
        item.setData(Qt.ItemDataRole.UserRole, level.value)
        self.insertItem(0, item)
        while self.count() > MAX_NOTES:
            self.takeItem(self.count() - 1)
        self.notified.emit(level.value, text)

    def report(self, exc: BaseException) -> None:
        """Show an exception as one plain sentence."""
        if isinstance(exc, MeddiagError):
            self.notify(Level.ERROR, str(exc))
        else:
            log.error("unexpected error: %s", type(exc).__name__)
            self.notify(Level.ERROR, f"Unexpected problem ({type(exc).__name__}): {exc}")

    def messages(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]


class MeasurementsPanel(QWidget):
    """The open series' measurements; select one and press Delete (or the button) to remove it."""

    def __init__(self, store: MeasurementStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.delete_button = QPushButton("Delete", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addWidget(self.delete_button)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        shortcut = QShortcut(QKeySequence(Qt.Key.Key_Delete), self.list)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(self._on_delete_clicked)
        store.changed.connect(self._on_store_changed)

    def _on_store_changed(self) -> None:
        self.list.clear()
        for measurement in self._store.current():
            item = QListWidgetItem(measurement.summary())
            item.setData(Qt.ItemDataRole.UserRole, measurement.number)
            self.list.addItem(item)

    def _on_delete_clicked(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._store.remove(int(item.data(Qt.ItemDataRole.UserRole)))
