"""Patient → study → series tree. Double-click or Enter on an image series opens it.

Result objects (SEG, TID 1500 SR, RT structure sets) are listed under their study, one row per
object, with their type, title, item count and the series they were made on; double-click or
Enter on one opens that series with the object's outlines shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QTreeView, QWidget

from meddiag_desktop.core.records import RESULT_KINDS, ObjectKind
from meddiag_desktop.ui.browser.snapshot import series_label
from meddiag_desktop.ui.viewer.corner_info import HIDDEN

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent

    from meddiag_desktop.core.records import InstanceRecord, PatientRecord, SeriesRecord, StudyRecord
    from meddiag_desktop.ui.browser.snapshot import BrowserSnapshot, ResultEntry, SeriesDetails

UID_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
RESULT_ROLE = Qt.ItemDataRole.UserRole + 3  # SOP Instance UID of a result object's row
RESULT_COLOUR = QColor(30, 110, 170)
COLUMNS = ("Patient / study / series", "Date", "Modality", "Images", "Warnings")


def format_date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def _row(*texts: str) -> list[QStandardItem]:
    items = [QStandardItem(t) for t in texts]
    for item in items:
        item.setEditable(False)
    return items


class StudyBrowser(QTreeView):
    """Fills in incrementally as scan snapshots arrive; keeps expansion and selection."""

    series_activated = Signal(str)
    result_activated = Signal(str)  # SOP Instance UID of a SEG / SR / RT structure set

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = QStandardItemModel(0, len(COLUMNS), self)
        self.model_.setHorizontalHeaderLabels(list(COLUMNS))
        self.setModel(self.model_)
        self.setIconSize(QSize(48, 48))
        self.setUniformRowHeights(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._patients: dict[int, QStandardItem] = {}
        self._patient_records: dict[int, PatientRecord] = {}
        self._studies: dict[str, QStandardItem] = {}
        self._series: dict[str, list[QStandardItem]] = {}
        self._results: dict[str, list[QStandardItem]] = {}
        self.privacy = False
        self.doubleClicked.connect(self._on_double_clicked)

    # -- filling ---------------------------------------------------------------------------

    def apply_snapshot(self, snapshot: BrowserSnapshot) -> None:
        for entry in snapshot.patients:
            patient_item = self._patient_item(entry.patient)
            for study_entry in entry.studies:
                study_item = self._study_item(patient_item, study_entry.study)
                for series in study_entry.series:
                    if series.kind not in RESULT_KINDS:
                        self._series_row(study_item, series)
                for record in study_entry.results:
                    self._result_row(study_item, record)
        for column in range(len(COLUMNS)):
            self.resizeColumnToContents(column)

    def _patient_item(self, patient: PatientRecord) -> QStandardItem:
        self._patient_records[patient.key] = patient
        if patient.key not in self._patients:
            row = _row(self._patient_label(patient), "", "", "", "")
            self.model_.appendRow(row)
            self._patients[patient.key] = row[0]
            self.expand(row[0].index())
        return self._patients[patient.key]

    def _patient_label(self, patient: PatientRecord) -> str:
        if self.privacy:
            return f"{HIDDEN} (patient {patient.key})"
        name = patient.name.replace("^", " ").strip() or "(no name)"
        return f"{name}  [{patient.patient_id}]" if patient.patient_id else name

    def _study_item(self, parent: QStandardItem, study: StudyRecord) -> QStandardItem:
        if study.study_instance_uid not in self._studies:
            label = study.description or "(study without description)"
            row = _row(label, format_date(study.date), "", "", "")
            parent.appendRow(row)
            self._studies[study.study_instance_uid] = row[0]
            self.expand(row[0].index())
        return self._studies[study.study_instance_uid]

    def _series_row(self, parent: QStandardItem, series: SeriesRecord) -> None:
        uid = series.series_instance_uid
        count = str(series.frame_count)
        if uid in self._series:
            self._series[uid][3].setText(count)
            return
        number = f"#{series.number} " if series.number is not None else ""
        label = f"{number}{series.description or '(no description)'}"
        if series.kind is not ObjectKind.IMAGE:
            label += f"  ({series.kind.value.upper()})"
        row = _row(label, "", series.modality, count, "")
        row[0].setData(uid, UID_ROLE)
        row[0].setData(series.kind.value, KIND_ROLE)
        parent.appendRow(row)
        self._series[uid] = row

    def _result_row(self, parent: QStandardItem, record: InstanceRecord) -> None:
        """A placeholder row until the object's header has been read (``apply_result``)."""
        if record.sop_instance_uid in self._results:
            return
        kind = record.kind.value.upper()
        row = _row(f"{kind}: reading…", "", kind, "", "")
        row[0].setToolTip(record.path)
        row[0].setData(record.sop_instance_uid, RESULT_ROLE)
        row[0].setData(record.kind.value, KIND_ROLE)
        for item in row:
            item.setForeground(QBrush(RESULT_COLOUR))
        parent.appendRow(row)
        self._results[record.sop_instance_uid] = row

    def apply_result(self, entry: ResultEntry) -> None:
        """Type, title, count, the series it refers to and, if it cannot be shown, why."""
        summary = entry.summary
        row = self._results.get(summary.sop_instance_uid)
        if row is None:
            return
        target = ", ".join(series_label(t) for t in entry.targets) or "a series not in the scanned folders"
        row[0].setText(f"{summary.kind.value}: {summary.title} ({summary.count_text})\n    on {target}")
        row[0].setToolTip(f"{summary.kind.noun} in {summary.file_name}, read-only")
        row[3].setText(summary.count_text)
        self.resizeColumnToContents(0)
        if summary.problem:
            row[4].setText("⚠ cannot be shown")
            for item in (row[0], row[4]):
                item.setToolTip(f"{summary.file_name}: {summary.problem}")

    def result_index(self, sop_instance_uid: str) -> QModelIndex:
        row = self._results.get(sop_instance_uid)
        return row[0].index() if row else QModelIndex()

    def apply_details(self, details: SeriesDetails) -> None:
        """Add the warnings badge and thumbnail of one series."""
        row = self._series.get(details.series_uid)
        if row is None:
            return
        if details.warnings:
            row[4].setText(f"⚠ {len(details.warnings)}")
            row[4].setToolTip("\n".join(details.warnings))
            row[0].setToolTip("\n".join(details.warnings))
        if details.stacks > 1:
            row[3].setText(f"{row[3].text()} ({details.stacks} stacks)")
        if details.thumbnail is not None:
            row[0].setIcon(QIcon(QPixmap.fromImage(_to_qimage(details.thumbnail))))

    def set_privacy(self, privacy: bool) -> None:
        self.privacy = privacy
        for key, item in self._patients.items():
            item.setText(self._patient_label(self._patient_records[key]))

    # -- lookups and activation ------------------------------------------------------------

    def series_index(self, series_uid: str) -> QModelIndex:
        row = self._series.get(series_uid)
        return row[0].index() if row else QModelIndex()

    def series_uids(self) -> list[str]:
        return list(self._series)

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
