"""Measurements are part of the record: kept with the series, audited, back after a restart (bundled demo CT)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import pytest
from review_helpers import open_demo_series
from ui_helpers import drag, to_widget

from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.viewer.measure_model import MeasureKind
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.slice_view import Tool

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings


def _window(qtbot: QtBot, settings: Settings) -> MainWindow:
    window = MainWindow(settings)
    window.resize(1600, 900)
    window.show()
    qtbot.waitExposed(window)
    return window


def _listed(window: MainWindow) -> list[str]:
    shown = window.review.panel.measurement_list
    return [shown.item(i).text() for i in range(shown.count())]


def test_a_measurement_is_back_after_closing_and_reopening_the_app(
    qtbot: QtBot, settings: Settings, demo_folder: Path
) -> None:
    window = _window(qtbot, settings)
    try:
        open_demo_series(qtbot, window, demo_folder)
        axial = window.viewer.views[Plane.AXIAL]
        window.viewer.set_tool(Tool.LENGTH)
        drag(axial, to_widget(axial, 120.0, 150.0), to_widget(axial, 160.0, 180.0))  # a 50 mm line, as a hand draws
        region = axial.measure.add(MeasureKind.ELLIPSE, (200.0, 200.0), (240.0, 230.0))
        assert region is not None
        store = window.viewer.store
        line = store.current()[0]
        assert line.kind is MeasureKind.LENGTH and line.length_mm == pytest.approx(50.0, abs=2.0)
        store.update(line.moved(line.p0, (line.p1[0] + 6.0, line.p1[1])))  # dragged longer (what the ROI does)
        store.remove(region.number)
        line = store.current()[0]
        expected = f"M1 length {line.length_mm:.1f} mm, axial slice {line.slice_index + 1}"
        assert _listed(window) == [expected]
        qtbot.waitUntil(lambda: window.review.review.saving == 0, timeout=20000)
    finally:
        window.close()

    again = _window(qtbot, settings)
    try:
        open_demo_series(qtbot, again, demo_folder)
        back = again.viewer.store.current()
        assert [(m.number, m.kind, m.plane, m.slice_index) for m in back] == [(1, line.kind, Plane.AXIAL,
                                                                               line.slice_index)]  # fmt: skip
        assert back[0].p0 == pytest.approx(line.p0) and back[0].p1 == pytest.approx(line.p1)
        assert _listed(again) == [expected]
        axial = again.viewer.views[Plane.AXIAL]
        new = axial.measure.add(MeasureKind.LENGTH, (10.0, 10.0), (20.0, 10.0))
        assert new is not None and new.number == 3  # numbers are not reused (2 was deleted)
        qtbot.waitUntil(lambda: again.review.review.saving == 0, timeout=20000)
    finally:
        again.close()

    with ReviewStore(settings.review_store_path, settings.config_dir) as record:
        assert record.verify_audit().ok
        events = record.db.execute("SELECT event, details FROM audit WHERE event LIKE 'measurement%' ORDER BY seq")
        seen = [(event, json.loads(details)["number"]) for event, details in events]
    assert seen == [("measurement_added", 1), ("measurement_added", 2), ("measurement_edited", 1),
                    ("measurement_deleted", 2), ("measurement_added", 3)]  # fmt: skip
    with sqlite3.connect(settings.review_store_path) as db:
        assert db.execute("SELECT COUNT(DISTINCT series_uid) FROM measurements").fetchone()[0] == 1
