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
SERIES_ROLE = Qt.ItemDataRole.UserRole + 1  # the series a message is about; "" for none


class Level(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_COLORS = {Level.INFO: QColor(90, 90, 90), Level.WARNING: QColor(170, 110, 0), Level.ERROR: QColor(190, 30, 30)}
_PREFIX = {Level.INFO: "", Level.WARNING: "⚠ ", Level.ERROR: "✖ "}


class NotificationPanel(QListWidget):
    """A list of messages for the user; never shows a traceback.

    A message about one series (``series_uid``) is shown only while that series is (issue 11);
    the others (scans, settings, errors of no series) always are. Messages of a series not shown
    are kept, hidden, and come back with it; the same message of a series is listed once.
    """

    notified = Signal(str, str)  # level value, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.shown_series = ""

    def notify(self, level: Level, text: str, series_uid: str = "") -> None:
        if series_uid:
            self._drop(series_uid, _PREFIX[level] + text)
        item = QListWidgetItem(_PREFIX[level] + text)
        item.setForeground(QBrush(_COLORS[level]))
        item.setData(Qt.ItemDataRole.UserRole, level.value)
        item.setData(SERIES_ROLE, series_uid)
        self.insertItem(0, item)
        item.setHidden(bool(series_uid) and series_uid != self.shown_series)
        while self.count() > MAX_NOTES:
            self.takeItem(self.count() - 1)
        self.notified.emit(level.value, text)

    def report(self, exc: BaseException, series_uid: str = "") -> None:
        """Show an exception as one plain sentence."""
        if isinstance(exc, MeddiagError):
            self.notify(Level.ERROR, str(exc), series_uid)
        else:
            log.error("unexpected error: %s", type(exc).__name__)
            self.notify(Level.ERROR, f"Unexpected problem ({type(exc).__name__}): {exc}", series_uid)

    def show_series(self, series_uid: str) -> None:
        """Show the messages of ``series_uid`` and of no series; hide those of every other series."""
        self.shown_series = series_uid
        for row in range(self.count()):
            owner = self.item(row).data(SERIES_ROLE)
            self.item(row).setHidden(bool(owner) and owner != series_uid)

    def _drop(self, series_uid: str, text: str) -> None:
        for row in reversed(range(self.count())):
            item = self.item(row)
            if item.data(SERIES_ROLE) == series_uid and item.text() == text:
                self.takeItem(row)

    def messages(self) -> list[str]:
        """Every message kept, newest first, including the hidden ones of series not shown."""
        return [self.item(i).text() for i in range(self.count())]

    def shown_messages(self) -> list[str]:
        """The messages on screen, newest first."""
        return [self.item(i).text() for i in range(self.count()) if not self.item(i).isHidden()]


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
