"""The hash chain detects changed, deleted and truncated entries, and names the first bad one.

Entry 1 of every store is ``store_created``; the tests' own entries are 2 to 6.
"""

from __future__ import annotations

import csv
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from meddiag_desktop.review import audit
from meddiag_desktop.review.store import ReviewStore

ACTOR = audit.Actor("radiologist1", "Dr. Test")


def filled(tmp_path: Path, entries: int = 5) -> Path:
    path = tmp_path / "review.sqlite"
    with ReviewStore(path) as store, store.transaction() as db:
        for i in range(entries):
            event = audit.AuditEvent("finding_accepted", "1.2", "1.2.3", f"F{i}", details={"n": i})
            store.append_audit(db, ACTOR, event)
    return path


def raw(path: Path) -> sqlite3.Connection:
    """What an attacker with file access does: bypass the app and drop the guard triggers."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("DROP TRIGGER audit_no_delete")
    return db


def test_intact_chain_verifies(tmp_path: Path) -> None:
    with ReviewStore(filled(tmp_path)) as store:
        report = store.verify_audit()
    assert report.ok and report.entries == 6


def test_app_level_rewrite_is_refused(tmp_path: Path) -> None:
    with ReviewStore(filled(tmp_path)) as store, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("UPDATE audit SET event = 'x' WHERE seq = 2")


@pytest.mark.parametrize(
    ("tamper", "first_broken", "words"),
    [
        ("UPDATE audit SET details = '{\"n\":99}' WHERE seq = 4", 4, "changed"),
        ("UPDATE audit SET os_user = 'someone_else' WHERE seq = 3", 3, "changed"),
        ("DELETE FROM audit WHERE seq = 5", 5, "missing"),
        ("DELETE FROM audit WHERE seq = 6", 6, "ends at entry 5"),
    ],
)
def test_tampering_is_detected_and_located(tmp_path: Path, tamper: str, first_broken: int, words: str) -> None:
    path = filled(tmp_path)
    with closing(raw(path)) as db:
        db.execute(tamper)
    with ReviewStore(path) as store:
        report = store.verify_audit()
    assert not report.ok
    assert report.first_broken == first_broken
    assert words in report.reason


def test_rehashing_one_entry_fails_its_key_and_breaks_the_next_link(tmp_path: Path) -> None:
    path = filled(tmp_path)
    columns = ", ".join(audit.COLUMNS)
    with closing(raw(path)) as db:
        row = db.execute(f"SELECT {columns} FROM audit WHERE seq = 3").fetchone()
        values = dict(zip(audit.COLUMNS, row, strict=True))
        values["event"] = "finding_rejected"
        digest = audit.entry_hash(values, sealed=True)
        db.execute("UPDATE audit SET event = ?, hash = ? WHERE seq = 3", (values["event"], digest))
    with ReviewStore(path) as store:
        report = store.verify_audit()
    assert report.first_broken == 3
    assert any("entry 3 is not authenticated" in p for p in report.problems)
    assert any("entry 4 (finding_accepted, finding F2) does not follow entry 3" in p for p in report.problems)


def test_csv_export_has_every_entry(tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    with ReviewStore(filled(tmp_path)) as store:
        assert store.export_audit_csv(out) == 6
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0]["event"] == "store_created"
    assert rows[1]["os_user"] == "radiologist1" and len(rows[1]["hash"]) == 64 and len(rows[1]["mac"]) == 64
