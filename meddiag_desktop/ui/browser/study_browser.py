"""The study list: one row per study (patient, ID, date, modalities), its series and results below.

The folder just opened is listed first; the rest of the index is one click away (``set_show_all``).
A search box filters as the user types (``set_search``) and every column sorts. Double-click or
Enter on an image series opens it. Result objects (SEG, TID 1500 SR, RT structure sets) are listed
under their study, one row per object, with their type, title, item count and the series they were
made on; double-click or Enter on one opens that series with the object's outlines shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QTreeView, QWidget

from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.ui.browser.snapshot import series_label
from meddiag_desktop.ui.browser.study_filter import StudyFilter
from meddiag_desktop.ui.browser.study_rows import (
    HEADERS,
    KIND_ROLE,
    RESULT_ROLE,
    SEARCH_ROLE,
    UID_ROLE,
    VISUAL_ORDER,
    Column,
    empty_row,
    fill_study_row,
    is_listed_series,
    mark_folder,
    result_row,
    series_row,
    set_cell,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent, QStandardItem

    from meddiag_desktop.core.records import InstanceRecord, PatientRecord, SeriesRecord
    from meddiag_desktop.ui.browser.snapshot import BrowserSnapshot, ResultEntry, SeriesDetails, StudyEntry

COLUMNS = tuple(HEADERS[c] for c in Column)


class StudyBrowser(QTreeView):
    """Fills in incrementally as scan snapshots arrive; keeps expansion, selection and sort order."""

    series_activated = Signal(str)
    result_activated = Signal(str)  # SOP Instance UID of a SEG / SR / RT structure set
    snapshot_applied = Signal(object)  # BrowserSnapshot
    folder_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = QStandardItemModel(0, len(Column), self)
        self.model_.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = StudyFilter(self)
        self.proxy.setSourceModel(self.model_)
        self.setModel(self.proxy)
        self._arrange_columns()
        self.setIconSize(QSize(48, 48))
        self.setUniformRowHeights(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._studies: dict[str, list[QStandardItem]] = {}
        self._study_entries: dict[str, tuple[StudyEntry, PatientRecord]] = {}
        self._series: dict[str, list[QStandardItem]] = {}
        self._results: dict[str, list[QStandardItem]] = {}
        self._folder = ""
        self.privacy = False
        self.doubleClicked.connect(self._on_double_clicked)

    def _arrange_columns(self) -> None:
        header = self.header()
        for visual, column in enumerate(VISUAL_ORDER):
            header.moveSection(header.visualIndex(column), visual)
        self.setSortingEnabled(True)
        self.sortByColumn(Column.DATE, Qt.SortOrder.DescendingOrder)  # newest study first

    # -- filling ---------------------------------------------------------------------------

    def apply_snapshot(self, snapshot: BrowserSnapshot) -> None:
        if snapshot.folder != self._folder:
            self._folder = snapshot.folder
            self.folder_changed.emit(snapshot.folder)
        for entry in snapshot.patients:
            for study_entry in entry.studies:
                study_row = self._study_row(study_entry, entry.patient, snapshot.in_folder(study_entry))
                for series in study_entry.series:
                    if is_listed_series(series):
                        self._series_row(study_row[0], series)
                for record in study_entry.results:
                    self._result_row(study_row[0], record)
        self.proxy.invalidate()  # a study may match the search through a series that just arrived
        self._expand_folder_studies()
        self.fit_columns()
        self.snapshot_applied.emit(snapshot)

    def fit_columns(self) -> None:
        """Widen every column to its contents (call again once thumbnails have widened the first)."""
        for column in Column:
            self.resizeColumnToContents(column)

    def _study_row(self, entry: StudyEntry, patient: PatientRecord, in_folder: bool) -> list[QStandardItem]:
        uid = entry.study.study_instance_uid
        self._study_entries[uid] = (entry, patient)
        row = self._studies.get(uid)
        if row is None:
            row = empty_row()
            self.model_.appendRow(row)
            self._studies[uid] = row
        fill_study_row(row, entry, patient, self.privacy)
        mark_folder(row, in_folder)
        return row

    def _series_row(self, parent: QStandardItem, series: SeriesRecord) -> None:
        uid = series.series_instance_uid
        if uid in self._series:
            set_cell(self._series[uid], Column.IMAGES, str(series.frame_count), series.frame_count)
            return
        row = series_row(series)
        parent.appendRow(row)
        self._series[uid] = row

    def _result_row(self, parent: QStandardItem, record: InstanceRecord) -> None:
        if record.sop_instance_uid not in self._results:
            row = result_row(record)
            parent.appendRow(row)
            self._results[record.sop_instance_uid] = row

    def _expand_folder_studies(self) -> None:
        """The opened folder's studies show their series; while searching, every match does."""
        searching = bool(self.proxy.words)
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            self.setExpanded(index, searching or self.proxy.in_folder(index))

    def set_search(self, text: str) -> None:
        self.proxy.set_search(text)
        self._expand_folder_studies()

    def set_show_all(self, show_all: bool) -> None:
        self.proxy.set_show_all(show_all)
        self._expand_folder_studies()

    def apply_result(self, entry: ResultEntry) -> None:
        """Type, title, count, the series it refers to and, if it cannot be shown, why."""
        summary = entry.summary
        row = self._results.get(summary.sop_instance_uid)
        if row is None:
            return
        target = ", ".join(series_label(t) for t in entry.targets) or "a series not in the scanned folders"
        row[Column.NAME].setText(f"{summary.kind.value}: {summary.title} ({summary.count_text})\n    on {target}")
        row[Column.NAME].setToolTip(f"{summary.kind.noun} in {summary.file_name}, read-only")
        row[Column.IMAGES].setText(summary.count_text)
        row[Column.NAME].setData(f"{summary.kind.value} {summary.title}".lower(), SEARCH_ROLE)
        self.resizeColumnToContents(Column.NAME)
        if summary.problem:
            set_cell(row, Column.WARNINGS, "⚠ cannot be shown")
            for item in (row[Column.NAME], row[Column.WARNINGS]):
                item.setToolTip(f"{summary.file_name}: {summary.problem}")

    def result_index(self, sop_instance_uid: str) -> QModelIndex:
        row = self._results.get(sop_instance_uid)
        return self.proxy.mapFromSource(row[0].index()) if row else QModelIndex()

    def apply_details(self, details: SeriesDetails) -> None:
        """Add the warnings badge and thumbnail of one series."""
        row = self._series.get(details.series_uid)
        if row is None:
            return
        if details.warnings:
            set_cell(row, Column.WARNINGS, f"⚠ {len(details.warnings)}", len(details.warnings))
            row[Column.WARNINGS].setToolTip("\n".join(details.warnings))
            row[Column.NAME].setToolTip("\n".join(details.warnings))
        if details.stacks > 1:
            row[Column.IMAGES].setText(f"{row[Column.IMAGES].text()} ({details.stacks} stacks)")
        if details.thumbnail is not None:
            row[Column.NAME].setIcon(QIcon(QPixmap.fromImage(_to_qimage(details.thumbnail))))

    def set_privacy(self, privacy: bool) -> None:
        """Names and IDs are hidden, and no longer searched (a match would reveal them)."""
        self.privacy = privacy
        for uid, (entry, patient) in self._study_entries.items():
            fill_study_row(self._studies[uid], entry, patient, privacy)
        self.proxy.invalidate()

    # -- lookups and activation ------------------------------------------------------------

    def series_index(self, series_uid: str) -> QModelIndex:
        """The series' row as the view shows it (invalid when the search or scope hides it)."""
        row = self._series.get(series_uid)
        return self.proxy.mapFromSource(row[0].index()) if row else QModelIndex()

    def series_uids(self) -> list[str]:
        return list(self._series)

    def select_series(self, series_uid: str) -> None:
        index = self.series_index(series_uid)
        if index.isValid():
            self.setCurrentIndex(index)
            self.scrollTo(index)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        self._activate(index)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._activate(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def _activate(self, index: QModelIndex) -> None:
        first = index.siblingAtColumn(0)
        if first.data(RESULT_ROLE):
            self.result_activated.emit(str(first.data(RESULT_ROLE)))
            return
        uid = first.data(UID_ROLE)
        if uid and first.data(KIND_ROLE) == ObjectKind.IMAGE.value:
            self.series_activated.emit(str(uid))


def _to_qimage(array: np.ndarray[tuple[int, ...], np.dtype[np.uint8]]) -> QImage:
    data = np.ascontiguousarray(array)
    height, width = data.shape[:2]
    if data.ndim == 3:
        image = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    else:
        image = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8)
    return image.copy()
