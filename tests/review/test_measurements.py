"""Measurements in the review store: stored per series, audited, restored, sealed against edits; schema 5."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.core.window_level import RegionStats
from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.measurements import (
    MeasurementAction,
    MeasurementRecord,
    record_change,
    series_measurements,
)
from meddiag_desktop.review.model import RejectReason
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import SCHEMA_VERSION, STORE_UPGRADED, ReviewStore
from tests.review.helpers import ai_run

if TYPE_CHECKING:
    from pathlib import Path

ACTOR = audit.Actor("radiologist1", "Dr Test")
LENGTH = MeasurementRecord(1, "length", "axial", 56, (10.0, 20.0), (30.0, 35.0), "HU")
ROI = MeasurementRecord(2, "ellipse", "coronal", 12, (5.0, 5.0), (25.0, 15.0), "HU",
                        RegionStats(35.25, 4.5, 20.0, 51.0, 140, 157.1))  # fmt: skip


def _store(tmp_path: Path) -> ReviewStore:
    return ReviewStore(tmp_path / "data" / "review.sqlite", tmp_path / "config")


def _measure(store: ReviewStore) -> None:
    service = ReviewService(store, ACTOR)
    record_change(service, "1.2.3", "9.8", MeasurementAction.ADDED, LENGTH)
    record_change(service, "1.2.3", "9.8", MeasurementAction.ADDED, ROI)
    record_change(service, "1.2.3", "9.8", MeasurementAction.EDITED, replace(LENGTH, p1=(40.0, 20.0)))
    record_change(service, "1.2.3", "9.8", MeasurementAction.DELETED, ROI)
    record_change(service, "4.5.6", "9.8", MeasurementAction.ADDED, ROI)


def test_the_newest_change_of_each_measurement_is_restored_and_every_change_audited(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        _measure(store)
        shown = series_measurements(store.db, "1.2.3")
        assert [(m.number, m.p1) for m in shown] == [(1, (40.0, 20.0))]  # edited, and the ellipse deleted
        assert shown[0].label() == "M1 length 30.0 mm, axial slice 57"
        other = series_measurements(store.db, "4.5.6")
        assert other == [ROI] and other[0].stats == ROI.stats  # statistics come back exactly
        assert other[0].label() == "M2 ellipse mean 35.2 HU, 157 mm², coronal slice 13"
        events = [row[0] for row in store.db.execute("SELECT event FROM audit WHERE event LIKE 'measurement%'")]
        assert events == ["measurement_added", "measurement_added", "measurement_edited", "measurement_deleted",
                          "measurement_added"]  # fmt: skip
        details = json.loads(store.db.execute("SELECT details FROM audit WHERE event = 'measurement_edited'")
                             .fetchone()[0])  # fmt: skip
        assert details == {"number": 1, "kind": "length", "plane": "axial", "slice": 57, "length_mm": 30.0}
        assert store.verify_audit().ok


def test_measurements_are_append_only_and_checked() -> None:
    with pytest.raises(ReviewStateError, match="not a measurement the viewer makes"):
        MeasurementRecord(1, "angle", "axial", 3, (0.0, 0.0), (1.0, 1.0))
    with pytest.raises(ReviewStateError, match="not a number"):
        MeasurementRecord(1, "length", "axial", 3, (float("nan"), 0.0), (1.0, 1.0))


def test_a_measurement_edited_behind_the_apps_back_is_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with _store(tmp_path) as store:
        _measure(store)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.db.execute("UPDATE measurements SET data = data")
    monkeypatch.setenv("MEDDIAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK")
    with closing(sqlite3.connect(tmp_path / "data" / "review.sqlite", isolation_level=None)) as db:
        db.execute("DROP TRIGGER measurements_no_update")
        data = json.loads(db.execute("SELECT data FROM measurements WHERE seq = 1").fetchone()[0])
        data["p1"] = [33.0, 35.0]  # the line made 3 mm longer
        db.execute("UPDATE measurements SET data = ? WHERE seq = 1", (json.dumps(data),))
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("BROKEN") and "measurement change 1" in out


def test_a_schema_4_store_gains_the_measurements_table_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "data" / "review.sqlite"
    with _store(tmp_path) as store:
        service = ReviewService(store, ACTOR)
        service.record_run(ai_run())
        state = service.accept(service.open_review("run-1"), "F1")
        service.reject(state, "F2", RejectReason.ARTEFACT)
        tables = ("audit", "ai_runs", "decisions", "reviews", "ood_overrides")
        before = {t: store.db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    with closing(sqlite3.connect(path)) as db:  # what a schema-4 store looked like
        db.execute("DROP TABLE measurements")
        db.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
        db.commit()
    with _store(tmp_path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == SCHEMA_VERSION
        for table, rows in before.items():
            assert store.db.execute(f"SELECT * FROM {table}").fetchall()[: len(rows)] == rows
        assert store.db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == len(before["audit"]) + 1
        last = store.db.execute("SELECT event, details FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        assert last[0] == STORE_UPGRADED and json.loads(last[1]) == {"from_schema": 4, "to_schema": int(SCHEMA_VERSION)}
        assert store.verify_audit().ok
        _measure(store)
        assert store.verify_audit().ok
