"""The review history dock (no logic): every version, run, decision and sign-off, with who and when."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.review.history import HistoryItem

COLUMNS = ("When (UTC)", "v", "Event", "What", "Who")


class HistoryPanel(QWidget):
    """Lists a review's history; a signed version can be opened read-only, then left again."""

    version_requested = Signal(int)  # a signed version to show read-only; 0 = the current version

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No review open.")
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.open_button = QPushButton("Open signed version (read-only)")
        self.current_button = QPushButton("Back to the current version")
        self._signed: set[int] = set()
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.table.cellDoubleClicked.connect(self._on_table_cell_double_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.current_button.clicked.connect(lambda: self.version_requested.emit(0))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        for button in (self.open_button, self.current_button):  # one above the other: a narrow panel
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        self.show_history([], 0, 0)

    def show_history(self, items: Sequence[HistoryItem], shown: int, latest: int) -> None:
        self._signed = {i.signed_version for i in items if i.signed_version}
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            cells = (item.time_utc[:19].replace("T", " "), str(item.version), item.kind.value, item.what, item.who)
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, item.version)
                self.table.setItem(row, column, cell)
        self.title.setText(_title(shown, latest, self._signed))
        self.current_button.setEnabled(0 < shown < latest)
        self._on_table_selection_changed()

    def selected_version(self) -> int:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return 0
        cell = self.table.item(rows[0].row(), 0)
        return int(cell.data(Qt.ItemDataRole.UserRole)) if cell is not None else 0

    def select_version(self, version: int) -> None:
        """Select the last row of ``version`` (its sign-off when signed)."""
        for row in reversed(range(self.table.rowCount())):
            cell = self.table.item(row, 0)
            if cell is not None and cell.data(Qt.ItemDataRole.UserRole) == version:
                self.table.selectRow(row)
                return

    def _on_table_selection_changed(self) -> None:
        self.open_button.setEnabled(self.selected_version() in self._signed)

    def _on_table_cell_double_clicked(self, _row: int, _column: int) -> None:
        self._on_open_clicked()

    def _on_open_clicked(self) -> None:
        version = self.selected_version()
        if version in self._signed:
            self.version_requested.emit(version)


def _title(shown: int, latest: int, signed: set[int]) -> str:
    if latest == 0:
        return "No review open."
    state = "signed, read-only" if shown in signed else "open"
    if shown < latest:
        return f"Showing version {shown} of {latest} ({state}, from the history)."
    return f"{latest} version(s); showing the current one, v{shown} ({state})."
