"""Keeps the viewer's measurements in the review store: each change written (and audited), restored on reopen.

Writes go through the review controller's store writer (the GUI never waits); a series' stored
measurements are read once per session, when it is first shown, on the GUI's read connection.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review.measurements import (
    MeasurementAction,
    MeasurementRecord,
    highest_number,
    record_change,
    series_measurements,
)
from meddiag_desktop.ui.viewer.measure_model import MeasureKind, Measurement
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from collections.abc import Callable

    from meddiag_desktop.ui.controllers.review_controller import ReviewController
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.viewer.measure_store import MeasurementStore

log = logging.getLogger(__name__)


def to_record(measurement: Measurement) -> MeasurementRecord:
    m = measurement
    return MeasurementRecord(m.number, m.kind.value, m.plane.value, m.slice_index, m.p0, m.p1, m.units, m.stats)


def from_record(record: MeasurementRecord) -> Measurement:
    r = record
    return Measurement(r.number, MeasureKind(r.kind), Plane(r.plane), r.slice_index, r.p0, r.p1, r.units, r.stats)


class MeasurementController(QObject):
    """Connects a ``MeasurementStore`` (the viewer's) to the review store."""

    listed = Signal(object)  # list[str]: the shown series' measurements, one line each

    def __init__(self, store: MeasurementStore, review: ReviewController, study_uid: Callable[[], str],
                 notes: NotificationPanel, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._store, self._review, self._study_uid, self._notes = store, review, study_uid, notes
        self._restored: set[str] = set()  # series whose stored measurements are back in this session
        store.series_changed.connect(self._on_store_series_changed)
        store.recorded.connect(self._on_store_recorded)
        store.changed.connect(self._on_store_changed)

    def lines(self) -> list[str]:
        return [to_record(m).label() for m in self._store.current()]

    def _on_store_series_changed(self, series_uid: str) -> None:
        if series_uid and series_uid not in self._restored:
            self._restored.add(series_uid)
            records, highest = self._stored(series_uid)
            self._store.restore(series_uid, [from_record(r) for r in records], highest)

    def _stored(self, series_uid: str) -> tuple[list[MeasurementRecord], int]:
        try:
            db = self._review.read_db()
            return ([], 0) if db is None else (series_measurements(db, series_uid), highest_number(db, series_uid))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store from before measurements were kept: upgraded on first write
                return [], 0
            self._notes.report(ReviewStateError(f"The stored measurements of this series cannot be read ({exc})."))
        except ReviewStateError as exc:
            self._notes.report(exc)
        return [], 0

    def _on_store_recorded(self, series_uid: str, action: str, measurement: Measurement) -> None:
        try:
            record = to_record(measurement)
        except ReviewStateError as exc:
            self._notes.report(exc)
            return
        change, study_uid = MeasurementAction(action), self._study_uid()
        self._review.submit(lambda s: record_change(s, series_uid, study_uid, change, record))

    def _on_store_changed(self) -> None:
        self.listed.emit(self.lines())
