"""Measurements of every series opened in this session; each change is announced for the review store."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.ui.viewer.measure_model import Measurement
    from meddiag_desktop.ui.viewer.orientation import Plane

ADDED, EDITED, DELETED = "added", "edited", "deleted"


class MeasurementStore(QObject):
    """Per-series measurement lists; emits ``changed`` after every edit and ``recorded`` for each user change."""

    changed = Signal()
    series_changed = Signal(str)  # the series shown now
    recorded = Signal(str, str, object)  # series uid, ADDED / EDITED / DELETED, Measurement

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._by_series: dict[str, list[Measurement]] = {}
        self.series_uid = ""
        self._next_number = 1

    def set_series(self, series_uid: str) -> None:
        self.series_uid = series_uid
        self.series_changed.emit(series_uid)
        self.changed.emit()

    def restore(self, series_uid: str, measurements: Sequence[Measurement], highest: int = 0) -> None:
        """Put the stored measurements of ``series_uid`` back (not re-recorded); new numbers start above ``highest``."""
        drawn = self._by_series.get(series_uid, [])
        self._by_series[series_uid] = [*measurements, *drawn]
        self._next_number = max([self._next_number, highest + 1, *(m.number + 1 for m in measurements)])
        self.changed.emit()

    def current(self) -> list[Measurement]:
        return list(self._by_series.get(self.series_uid, []))

    def on_slice(self, plane: Plane, slice_index: int) -> list[Measurement]:
        return [m for m in self.current() if m.plane is plane and m.slice_index == slice_index]

    def next_number(self) -> int:
        number = self._next_number
        self._next_number += 1
        return number

    def add(self, measurement: Measurement) -> Measurement:
        self._by_series.setdefault(self.series_uid, []).append(measurement)
        self.recorded.emit(self.series_uid, ADDED, measurement)
        self.changed.emit()
        return measurement

    def update(self, measurement: Measurement) -> None:
        items = self._by_series.get(self.series_uid, [])
        self._by_series[self.series_uid] = [measurement if m.number == measurement.number else m for m in items]
        self.recorded.emit(self.series_uid, EDITED, measurement)
        self.changed.emit()

    def remove(self, number: int) -> None:
        items = self._by_series.get(self.series_uid, [])
        gone = [m for m in items if m.number == number]
        self._by_series[self.series_uid] = [m for m in items if m.number != number]
        for measurement in gone:
            self.recorded.emit(self.series_uid, DELETED, measurement)
        self.changed.emit()

    def renumbered(self, measurement: Measurement) -> Measurement:
        return replace(measurement, number=self.next_number())
