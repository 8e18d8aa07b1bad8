"""The "Reference results" dock: existing SEG / RT structure sets as a checklist, SR measurements as a table.

Read-only: nothing here changes a result. Ticking an object or one of its items asks for its
outlines (``items_toggled``); clicking a measurement row asks to go to its region
(``measurement_chosen``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meddiag_desktop.core.labels import LabelRole

if TYPE_CHECKING:
    from meddiag_desktop.core.results import ResultItem, ResultSummary, SrGroup, SrMeasurement, SrReport

SOP_ROLE = Qt.ItemDataRole.UserRole + 1
NUMBER_ROLE = Qt.ItemDataRole.UserRole + 2
MEASUREMENT_COLUMNS = ("SR measurement (click: go to its region)", "Value")
VALUE_WIDTH = 170  # long coded values are elided; the tooltip has them in full
GROUP_BACKGROUND = QColor(226, 234, 246)
NOTHING = "No SEG, SR or RT structure set in the scanned folders refers to the open series."
HEADER = "Existing results on this series: read-only references, not AI findings."
DIMMED = QColor(140, 140, 140)


def swatch(rgb: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


def default_ticks(summary: ResultSummary) -> frozenset[int]:
    """Lesions and organs, or every drawable item when the object has none of those."""
    drawable = [i for i in summary.items if i.drawable]
    chosen = [i.number for i in drawable if i.role is not LabelRole.OTHER]
    return frozenset(chosen or [i.number for i in drawable])


def object_text(summary: ResultSummary) -> str:
    return f"{summary.kind.value} · {summary.title} ({summary.count_text})"


class Checklist(QTreeWidget):
    """A tree whose Space key ticks the current entry (not the window's Space shortcut, cine)."""

    def event(self, event: QEvent) -> bool:
        is_key = event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
        if is_key and event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Select):  # type: ignore[attr-defined]
            event.accept()
            return True
        return super().event(event)


class ResultsPanel(QWidget):
    """Checklist of reference outlines above the table of SR measurements."""

    items_toggled = Signal(str, object)  # SOP Instance UID, frozenset of ticked item numbers
    measurement_chosen = Signal(str, int)  # SR SOP Instance UID, group index

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel(NOTHING, self)
        self.header.setWordWrap(True)
        self.checklist = Checklist(self)
        self.checklist.setHeaderLabels(["Reference outlines (tick to show)"])
        self.measurements = QTableWidget(0, len(MEASUREMENT_COLUMNS), self)
        self._build_table()
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.checklist)
        splitter.addWidget(self.measurements)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.header)
        layout.addWidget(splitter, 1)
        self._objects: dict[str, QTreeWidgetItem] = {}
        self._titles: dict[str, str] = {}
        self._default_ticks: dict[str, frozenset[int]] = {}
        self._rows: list[tuple[str, int]] = []
        self._changed: set[str] = set()
        self._filling = False
        self._emit_timer = QTimer(self, singleShot=True, interval=0)
        self._emit_timer.timeout.connect(self._on_emit_timer_timeout)
        self.checklist.itemChanged.connect(self._on_checklist_item_changed)
        self.measurements.cellClicked.connect(self._on_measurements_cell_clicked)
        self.measurements.cellActivated.connect(self._on_measurements_cell_clicked)

    def _build_table(self) -> None:
        table = self.measurements
        table.setHorizontalHeaderLabels(MEASUREMENT_COLUMNS)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(22)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        table.setColumnWidth(1, VALUE_WIDTH)
        table.setVisible(False)

    # -- filling -------------------------------------------------------------------------------

    def clear(self) -> None:
        self._filling = True
        self.checklist.clear()
        self._objects.clear()
        self._titles.clear()
        self._filling = False
        self.measurements.setRowCount(0)
        self.measurements.setVisible(False)
        self._rows = []
        self.header.setText(NOTHING)

    def show_objects(self, summaries: list[ResultSummary]) -> None:
        """One checkable entry per SEG / RT structure set, its items below it (all unticked)."""
        self.clear()
        self._filling = True
        for summary in summaries:
            self._titles[summary.sop_instance_uid] = object_text(summary)
            self._default_ticks[summary.sop_instance_uid] = default_ticks(summary)
            top = self._object_item(summary)
            for item in summary.items:
                top.addChild(self._child_item(summary, item))
            self._objects[summary.sop_instance_uid] = top
            top.setExpanded(not summary.problem)
        self._filling = False
        if summaries:
            self.header.setText(HEADER)

    def _object_item(self, summary: ResultSummary) -> QTreeWidgetItem:
        top = QTreeWidgetItem(self.checklist, [object_text(summary)])
        top.setData(0, SOP_ROLE, summary.sop_instance_uid)
        top.setToolTip(0, f"{summary.file_name}: {summary.problem or 'read-only reference'}")
        if summary.problem:
            top.setText(0, f"{object_text(summary)} — cannot be shown")
            top.setForeground(0, QBrush(DIMMED))
            top.setFlags(top.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
            return top
        flags = Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate
        top.setFlags(top.flags() | flags)
        top.setCheckState(0, Qt.CheckState.Unchecked)
        return top

    def _child_item(self, summary: ResultSummary, item: ResultItem) -> QTreeWidgetItem:
        child = QTreeWidgetItem([item.name])
        child.setIcon(0, swatch(item.colour))
        child.setData(0, SOP_ROLE, summary.sop_instance_uid)
        child.setData(0, NUMBER_ROLE, item.number)
        if summary.problem or not item.drawable:
            child.setFlags(child.flags() & ~(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable))
            child.setToolTip(0, item.note or summary.problem)
            return child
        child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        child.setCheckState(0, Qt.CheckState.Unchecked)
        return child

    def show_reports(self, reports: list[SrReport]) -> None:
        """Per measurement group a heading row (tracking ID, finding, site, region), then one row
        per measurement or qualitative evaluation."""
        self.measurements.clearSpans()
        rows: list[tuple[str, int, SrGroup, SrMeasurement | None]] = []
        for report in reports:
            for i, group in enumerate(report.groups):
                rows += [(report.sop_instance_uid, i, group, None)] + [
                    (report.sop_instance_uid, i, group, m) for m in group.measurements
                ]
        self.measurements.setRowCount(len(rows))
        self._rows = [(sop, i) for sop, i, _, _ in rows]
        titles = {r.sop_instance_uid: r.title for r in reports}
        for row, (sop, _, group, measurement) in enumerate(rows):
            tip = f"{titles[sop]}: tracking UID {group.tracking_uid}"
            if measurement is None:
                self._group_row(row, group, tip)
            else:
                self._measurement_row(row, measurement, tip)
        self.measurements.setVisible(bool(rows))
        if rows:
            self.header.setText(HEADER)

    def _group_row(self, row: int, group: SrGroup, tip: str) -> None:
        words = " · ".join(t for t in (group.tracking_id, group.finding, group.site) if t) or "(no tracking ID)"
        region = f"→ {group.region.text}" if group.region.text else "(no region to go to)"
        cell = QTableWidgetItem(f"{words}   {region}")
        font = cell.font()
        font.setBold(True)
        cell.setFont(font)
        cell.setBackground(QBrush(GROUP_BACKGROUND))
        cell.setToolTip(tip)
        self.measurements.setItem(row, 0, cell)
        self.measurements.setSpan(row, 0, 1, len(MEASUREMENT_COLUMNS))

    def _measurement_row(self, row: int, measurement: SrMeasurement, tip: str) -> None:
        for column, text in enumerate((f"    {measurement.name}", measurement.text)):
            cell = QTableWidgetItem(text)
            cell.setToolTip(f"{measurement.name}: {measurement.text}\n{tip}")
            self.measurements.setItem(row, column, cell)

    def set_object_state(self, sop_instance_uid: str, note: str) -> None:
        """A short note after the object's name: "loading…", "cannot be shown: …" or nothing."""
        top = self._objects.get(sop_instance_uid)
        if top is not None:
            title = self._titles.get(sop_instance_uid, top.text(0))
            top.setText(0, f"{title} — {note}" if note else title)

    # -- ticking -------------------------------------------------------------------------------

    def tick(self, sop_instance_uid: str, numbers: frozenset[int] | None = None) -> None:
        """Tick an object's items as a user would: ``numbers``, or when None its lesions and organs
        (planning margins, body outlines and markers stay unticked: tick them by hand)."""
        wanted = self._default_ticks.get(sop_instance_uid, frozenset()) if numbers is None else numbers
        for child in self._children(sop_instance_uid):
            if child.flags() & Qt.ItemFlag.ItemIsUserCheckable and child.data(0, NUMBER_ROLE) in wanted:
                child.setCheckState(0, Qt.CheckState.Checked)

    def ticked(self, sop_instance_uid: str) -> frozenset[int]:
        children = self._children(sop_instance_uid)
        return frozenset(int(c.data(0, NUMBER_ROLE)) for c in children if c.checkState(0) == Qt.CheckState.Checked)

    def _children(self, sop_instance_uid: str) -> list[QTreeWidgetItem]:
        top = self._objects.get(sop_instance_uid)
        children = [] if top is None else [top.child(i) for i in range(top.childCount())]
        return [c for c in children if c is not None]

    def object_item(self, sop_instance_uid: str) -> QTreeWidgetItem | None:
        return self._objects.get(sop_instance_uid)

    def _on_checklist_item_changed(self, item: QTreeWidgetItem, _column: int) -> None:
        if not self._filling:
            self._changed.add(str(item.data(0, SOP_ROLE)))
            self._emit_timer.start()  # a tick on an object changes all its children: report once

    def _on_emit_timer_timeout(self) -> None:
        changed, self._changed = self._changed, set()
        for sop in changed:
            self.items_toggled.emit(sop, self.ticked(sop))

    def _on_measurements_cell_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._rows):
            self.measurement_chosen.emit(*self._rows[row])
