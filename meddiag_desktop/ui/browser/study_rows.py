"""Rows of the study list: one top-level row per study, its series and result objects below it.

Each row carries, besides its texts, a lower-case search text and a sort key per column, so the
filter and sort proxy (``study_filter``) never parses display text.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem

from meddiag_desktop.core.display_text import (
    NOT_STATED,
    date_sort_key,
    format_date,
    format_date_time,
    format_person_name,
)
from meddiag_desktop.core.records import RESULT_KINDS, ObjectKind
from meddiag_desktop.ui.viewer.corner_info import HIDDEN

if TYPE_CHECKING:
    from meddiag_desktop.core.records import InstanceRecord, PatientRecord, SeriesRecord
    from meddiag_desktop.ui.browser.snapshot import StudyEntry

UID_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
RESULT_ROLE = Qt.ItemDataRole.UserRole + 3  # SOP Instance UID of a result object's row
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 4  # lower-case text the search box matches
SORT_ROLE = Qt.ItemDataRole.UserRole + 5  # per cell: what the column sorts by
FOLDER_ROLE = Qt.ItemDataRole.UserRole + 6  # study row: has files in the folder just opened
RESULT_COLOUR = QColor(30, 110, 170)
OTHER_FOLDER_COLOUR = QColor(120, 120, 120)
NO_NAME = "(name not stated)"


class Column(enum.IntEnum):
    """Logical columns; the first five keep their historical positions (tests and callers index them)."""

    NAME = 0
    DATE = 1
    MODALITY = 2
    IMAGES = 3
    WARNINGS = 4
    PATIENT_ID = 5
    DESCRIPTION = 6


HEADERS = {
    Column.NAME: "Patient / series",
    Column.DATE: "Date",
    Column.MODALITY: "Modality",
    Column.IMAGES: "Images",
    Column.WARNINGS: "Warnings",
    Column.PATIENT_ID: "ID",
    Column.DESCRIPTION: "Study",
}
VISUAL_ORDER = (Column.NAME, Column.PATIENT_ID, Column.DATE, Column.MODALITY, Column.DESCRIPTION, Column.IMAGES,
                Column.WARNINGS)  # fmt: skip


def empty_row() -> list[QStandardItem]:
    items = [QStandardItem("") for _ in Column]
    for column, item in zip(Column, items, strict=True):
        item.setEditable(False)
        item.setData(0 if column is Column.IMAGES else "", SORT_ROLE)
    return items


def set_cell(row: list[QStandardItem], column: Column, text: str, key: str | int | None = None) -> None:
    row[column].setText(text)
    row[column].setData(text.lower() if key is None else key, SORT_ROLE)


def patient_label(patient: PatientRecord, privacy: bool) -> str:
    if privacy:
        return f"{HIDDEN} (patient {patient.key})"
    name = format_person_name(patient.name)
    return NO_NAME if name == NOT_STATED else name


def fill_study_row(row: list[QStandardItem], entry: StudyEntry, patient: PatientRecord, privacy: bool) -> None:
    """(Re)write a study row: identity, date, modalities, image count and the search text."""
    study = entry.study
    set_cell(row, Column.NAME, patient_label(patient, privacy))
    set_cell(row, Column.PATIENT_ID, "" if privacy else patient.patient_id)
    set_cell(row, Column.DATE, format_date(study.date), date_sort_key(study.date, study.time))
    row[Column.DATE].setToolTip(format_date_time(study.date, study.time))
    modalities = ", ".join(sorted({s.modality for s in entry.series if s.modality}))
    set_cell(row, Column.MODALITY, modalities)
    set_cell(row, Column.DESCRIPTION, study.description or "(no description)")
    images = sum(s.frame_count for s in entry.series if s.kind is ObjectKind.IMAGE)
    set_cell(row, Column.IMAGES, str(images), images)
    identity = "" if privacy else f"{patient.name} {format_person_name(patient.name)} {patient.patient_id}"
    words = (identity, study.date, format_date(study.date), modalities, study.description, study.accession_number)
    row[Column.NAME].setData(" ".join(words).lower(), SEARCH_ROLE)


def mark_folder(row: list[QStandardItem], in_folder: bool) -> None:
    """Studies indexed from other folders are greyed: they are listed only under "All indexed studies"."""
    row[Column.NAME].setData(in_folder, FOLDER_ROLE)
    for item in row:
        item.setForeground(QBrush() if in_folder else QBrush(OTHER_FOLDER_COLOUR))
    row[Column.NAME].setToolTip("" if in_folder else "Indexed earlier, from another folder")


def series_row(series: SeriesRecord) -> list[QStandardItem]:
    row = empty_row()
    number = f"#{series.number} " if series.number is not None else ""
    label = f"{number}{series.description or '(no description)'}"
    if series.kind is not ObjectKind.IMAGE:
        label += f"  ({series.kind.value.upper()})"
    set_cell(row, Column.NAME, label, f"{series.number if series.number is not None else 10**9:010d} {label.lower()}")
    set_cell(row, Column.MODALITY, series.modality)
    set_cell(row, Column.IMAGES, str(series.frame_count), series.frame_count)
    row[Column.NAME].setData(series.series_instance_uid, UID_ROLE)
    row[Column.NAME].setData(series.kind.value, KIND_ROLE)
    row[Column.NAME].setData(f"{label} {series.modality}".lower(), SEARCH_ROLE)
    return row


def result_row(record: InstanceRecord) -> list[QStandardItem]:
    """A placeholder row until the object's header has been read (``StudyBrowser.apply_result``)."""
    row = empty_row()
    kind = record.kind.value.upper()
    set_cell(row, Column.NAME, f"{kind}: reading…", f"{10**9 + 1:010d} {kind.lower()}")
    set_cell(row, Column.MODALITY, kind)
    row[Column.NAME].setToolTip(record.path)
    row[Column.NAME].setData(record.sop_instance_uid, RESULT_ROLE)
    row[Column.NAME].setData(record.kind.value, KIND_ROLE)
    row[Column.NAME].setData(kind.lower(), SEARCH_ROLE)
    for item in row:
        item.setForeground(QBrush(RESULT_COLOUR))
    return row


def is_listed_series(series: SeriesRecord) -> bool:
    """Result objects are listed one row per object (``result_row``), not as a series."""
    return series.kind not in RESULT_KINDS
