"""Undoing a decision before sign-off: a new undo row and audit entry, never a deleted row; schema 6."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.history import HistoryKind, review_history
from meddiag_desktop.review.model import Decision, RejectReason
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import SCHEMA_VERSION, STORE_UPGRADED, ReviewStore
from meddiag_desktop.review.undo import UNDO_EVENT
from tests.review.helpers import ai_run, finding

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ACTOR = audit.Actor("radiologist1", "Dr Test")
FACT_TABLES = ("decisions", "mask_edits", "audit")


def _store(tmp_path: Path) -> ReviewStore:
    return ReviewStore(tmp_path / "data" / "review.sqlite", tmp_path / "config")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ReviewService]:
    with _store(tmp_path) as store:
        service = ReviewService(store, ACTOR)
        service.record_run(ai_run())
        yield service


def _rows(service: ReviewService) -> dict[str, list[tuple[object, ...]]]:
    return {t: service.store.db.execute(f"SELECT * FROM {t} ORDER BY seq").fetchall() for t in FACT_TABLES}


def _last_entry(service: ReviewService) -> tuple[str, str, dict[str, object]]:
    event, fid, details = service.store.db.execute(
        "SELECT event, finding_id, details FROM audit ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return event, fid, json.loads(details)


def test_undo_goes_back_one_decision_at_a_time_and_keeps_every_row(service: ReviewService) -> None:
    state = service.open_review("run-1")
    state = service.reject(state, "F1", RejectReason.ARTEFACT, "motion")
    state = service.accept(state, "F1")  # changed her mind
    state = service.accept(state, "F2")
    before = _rows(service)

    state = service.undo_last(state)
    assert state.finding("F2").decision is Decision.PENDING
    assert state.finding("F1").decision is Decision.ACCEPTED
    assert _last_entry(service) == (UNDO_EVENT, "F2", {"undone": "accepted", "decision": 3, "now": "pending"})
    after = _rows(service)
    for table in FACT_TABLES:  # append-only: every earlier row is still there, unchanged
        assert after[table][: len(before[table])] == before[table]

    state = service.undo_last(state)  # F1 goes back to its previous state: rejected, with its reason and note
    f1 = state.finding("F1")
    assert (f1.decision, f1.reason, f1.note) == (Decision.REJECTED, RejectReason.ARTEFACT, "motion")
    state = service.undo_last(state)
    assert state.finding("F1").decision is Decision.PENDING
    with pytest.raises(ReviewStateError, match="Nothing to undo"):
        service.undo_last(state)
    restored = service.restore(state.review_id)  # the store restores what undo returned
    assert [(f.id, f.decision) for f in restored.findings] == [(f.id, f.decision) for f in state.findings]
    assert service.store.verify_audit().ok


def test_undo_an_edit_brings_the_previous_mask_back(service: ReviewService) -> None:
    state = service.open_review("run-1")
    original = state.finding("F1").finding
    bigger = replace(original, mask=np.ones_like(original.mask), volume_ml=0.5)
    state = service.edit(state, bigger)
    assert state.finding("F1").mask_version == 1
    state = service.undo_last(state)
    f1 = state.finding("F1")
    assert f1.decision is Decision.PENDING and f1.mask_version == 0
    assert np.array_equal(f1.finding.mask, original.mask) and f1.finding.volume_ml == original.volume_ml
    assert _last_entry(service)[2] == {"undone": "edited", "decision": 1, "mask_version": 1, "now": "pending"}
    again = service.edit(state, bigger)  # editing again works and verifies
    assert again.finding("F1").mask_version == 1 and service.store.verify_audit().ok


def test_undo_a_drawn_lesion_removes_it(service: ReviewService) -> None:
    state = service.open_review("run-1")
    state = service.add(state, finding("R1", origin="radiologist"))
    state = service.undo_last(state)
    assert "R1" not in {f.id for f in state.findings}
    assert _last_entry(service)[2]["now"] == "removed"
    history = review_history(service.store.db, state.review_id)
    assert [h.what for h in history if h.kind is HistoryKind.UNDO] == ["R1 added undone"]


def test_after_sign_off_undo_is_refused_and_says_why(service: ReviewService) -> None:
    state = service.open_review("run-1")
    for fid in ("F1", "F2", "F3"):
        state = service.accept(state, fid)
    signed = service.sign_off(state, 0.0)
    with pytest.raises(ReviewStateError, match=r"signed off .* read-only"):
        service.undo_last(signed)
    amended = service.amend(signed, "second look")
    with pytest.raises(ReviewStateError, match="Nothing to undo"):  # the signed version's decisions stay
        service.undo_last(amended)


def test_read_first_decisions_before_the_reveal_cannot_be_undone(service: ReviewService) -> None:
    state = service.open_review("run-1", read_first=True)
    state = service.add(state, finding("R1", origin="radiologist"))
    state = service.reveal_ai(state)
    state = service.accept(state, "F1")
    state = service.undo_last(state)
    with pytest.raises(ReviewStateError, match="before the AI was revealed"):
        service.undo_last(state)


def test_tampering_with_an_undo_row_is_detected(service: ReviewService, tmp_path: Path) -> None:
    state = service.accept(service.open_review("run-1"), "F1")
    state = service.accept(state, "F2")
    service.undo_last(state)
    assert service.store.verify_audit().ok
    with closing(sqlite3.connect(tmp_path / "data" / "review.sqlite", isolation_level=None)) as db:
        db.execute("DROP TRIGGER undos_no_update")
        db.execute("UPDATE undos SET decision_seq = 1 WHERE seq = 1")  # as if F1 had been undone instead
    report = service.store.verify_audit()
    assert not report.ok and "undo 1" in report.reason


def test_an_undo_row_deleted_behind_the_apps_back_is_detected(service: ReviewService, tmp_path: Path) -> None:
    service.undo_last(service.accept(service.open_review("run-1"), "F1"))
    with closing(sqlite3.connect(tmp_path / "data" / "review.sqlite", isolation_level=None)) as db:
        db.execute("DROP TRIGGER undos_no_delete")
        db.execute("DELETE FROM undos")
    report = service.store.verify_audit()
    assert not report.ok and "undo 1 (sealed by" in report.reason and "gone" in report.reason


def test_a_schema_5_store_gains_the_undo_table_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "data" / "review.sqlite"
    with _store(tmp_path) as store:
        service = ReviewService(store, ACTOR)
        service.record_run(ai_run())
        state = service.accept(service.open_review("run-1"), "F1")
        service.reject(state, "F2", RejectReason.ARTEFACT)
        tables = ("audit", "ai_runs", "decisions", "reviews", "measurements")
        before = {t: store.db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    with closing(sqlite3.connect(path)) as db:  # what a schema-5 store looked like
        db.execute("DROP TABLE undos")
        db.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
        db.commit()
    with _store(tmp_path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == SCHEMA_VERSION
        for table, rows in before.items():
            assert store.db.execute(f"SELECT * FROM {table}").fetchall()[: len(rows)] == rows
        last = store.db.execute("SELECT event, details FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        assert last[0] == STORE_UPGRADED and json.loads(last[1]) == {"from_schema": 5, "to_schema": int(SCHEMA_VERSION)}
        service = ReviewService(store, ACTOR)
        state = service.undo_last(service.restore(1))
        assert state.finding("F2").decision is Decision.PENDING
        assert store.verify_audit().ok
