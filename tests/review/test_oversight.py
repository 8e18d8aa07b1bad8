"""Sign-off identity and summary, amendments with a new AI run, history, read-first mode, schema 3."""

from __future__ import annotations

import os
import pwd
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from meddiag_desktop import config
from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.history import HistoryKind
from meddiag_desktop.review.model import Decision, RejectReason, ReviewStatus, SignOffSummary
from meddiag_desktop.review.reading import Outcome, finding_dice
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import SCHEMA_VERSION, STORE_UPGRADED, ReviewStore
from tests.review.helpers import ai_run, finding

ACTOR = audit.Actor("radiologist1", "Dr. Test")


@pytest.fixture
def service(tmp_path: Path) -> ReviewService:
    store = ReviewStore(tmp_path / "review.sqlite")
    svc = ReviewService(store, ACTOR)
    svc.record_run(ai_run())
    yield svc  # type: ignore[misc]
    store.close()


def _signed(service: ReviewService) -> int:
    state = service.open_review("run-1")
    state = service.accept(state, "F1")
    state = service.reject(state, "F2", RejectReason.ARTEFACT, "motion")
    state = service.accept(state, "F3")
    state = service.add(state, finding("R1", offset=20, origin="radiologist"))
    return service.sign_off(state, 0.3).review_id


# -- identity -------------------------------------------------------------------------------------


def test_signer_is_the_os_account_not_logname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "someone_else")
    monkeypatch.setenv("USER", "someone_else")
    expected = pwd.getpwuid(os.getuid()).pw_name
    assert config.os_account() == expected
    assert audit.Actor.current("Dr. A") == audit.Actor(expected, "Dr. A")
    assert config.Settings().os_user == expected


def test_windows_account_falls_back_to_getlogin(monkeypatch: pytest.MonkeyPatch) -> None:
    # Here ctypes has no windll (not Windows): GetUserNameW is unavailable, os.getlogin() answers.
    monkeypatch.setattr(os, "getlogin", lambda: "winuser")
    assert config.os_account("win32") == "winuser"

    def no_login() -> str:
        raise OSError("no controlling terminal")

    monkeypatch.setattr(os, "getlogin", no_login)
    monkeypatch.setenv("USERNAME", "claimed")
    assert config.os_account("win32") == "claimed (unverified)"


def test_sign_off_keeps_account_and_display_name_side_by_side(service: ReviewService) -> None:
    review_id = _signed(service)
    state = service.restore(review_id)
    assert state.signoff is not None
    assert (state.signoff.os_user, state.signoff.display_name) == ("radiologist1", "Dr. Test")
    assert service.reviews()[0].signed_by == "Dr. Test (radiologist1)"
    assert service.versions(review_id)[0].signed_by == "Dr. Test (radiologist1)"


def test_sign_off_summary_counts_every_decision(service: ReviewService) -> None:
    state = service.open_review("run-1")
    state = service.reject(state, "F2", RejectReason.ARTEFACT, "motion")
    mask = state.finding("F3").finding.mask.copy()
    mask[0, 0, 0] = True
    state = service.edit(state, replace(state.finding("F3").finding, mask=mask))
    state = service.add(state, finding("R1", offset=20, origin="radiologist"))
    summary = SignOffSummary.of(state)
    assert (summary.accepted, summary.rejected, summary.edited, summary.added, summary.undecided) == (0, 1, 1, 1, 1)
    assert summary.mask_edits == 1 and summary.reasons == (("artefact", 1),)
    assert "Undecided: 1" in summary.lines() and "Rejected: 1 (1 artefact)" in summary.lines()


# -- amendment with a new run, history -----------------------------------------------------------


def test_new_run_on_signed_review_opens_an_amendment(service: ReviewService) -> None:
    review_id = _signed(service)
    signed = service.restore(review_id)
    service.record_run(ai_run("run-2", count=2))
    with pytest.raises(ReviewStateError, match="not a stored run"):
        service.amend(signed, "new run", run_id="missing")
    state = service.amend(signed, "re-run after new prior", run_id="run-2")
    assert (state.version, state.run_id, state.status) == (2, "run-2", ReviewStatus.OPEN)
    # The new run's findings are undecided; the lesion the radiologist drew carries forward.
    assert {f.id: f.decision for f in state.findings} == {
        "F1": Decision.PENDING, "F2": Decision.PENDING, "R1": Decision.ADDED,
    }  # fmt: skip
    # The signed version stays reachable, exactly as signed, and read-only.
    old = service.restore(review_id, 1)
    assert old.historical and old.status is ReviewStatus.SIGNED and old.run_id == "run-1"
    assert old.finding("F2").decision is Decision.REJECTED and len(old.findings) == 4
    with pytest.raises(ReviewStateError, match="read-only"):
        service.accept(old, "F1")
    with pytest.raises(ReviewStateError, match="versions 1 to 2"):
        service.restore(review_id, 3)
    # Opening the new run again finds the same review, not a new empty one.
    assert service.open_review("run-2").review_id == review_id
    assert service.runs_by_version(review_id) == {"run-1": (1, 1), "run-2": (2, 2)}
    assert service.store.verify_audit().ok


def test_history_lists_versions_runs_decisions_with_who_and_when(service: ReviewService) -> None:
    review_id = _signed(service)
    service.record_run(ai_run("run-2", count=1))
    state = service.amend(service.restore(review_id), "second look", run_id="run-2")
    service.accept(state, "F1")
    items = service.history(review_id)
    kinds = [i.kind for i in items]
    assert kinds.count(HistoryKind.VERSION) == 2 and kinds.count(HistoryKind.RUN) == 2
    assert kinds.count(HistoryKind.DECISION) == 5 and kinds.count(HistoryKind.SIGNOFF) == 1
    signoff = next(i for i in items if i.kind is HistoryKind.SIGNOFF)
    assert signoff.who == "Dr. Test (radiologist1)" and signoff.signed_version == 1
    rejected = next(i for i in items if "rejected" in i.what)
    assert rejected.what == "F2 rejected (artefact: motion)" and rejected.who == "radiologist1"
    assert all(i.time_utc for i in items)
    assert [i.time_utc for i in items] == sorted(i.time_utc for i in items)
    assert any("amendment opened: second look" in i.what for i in items)


# -- read first -----------------------------------------------------------------------------------


def test_read_first_hides_ai_until_revealed_and_records_independent_finds(service: ReviewService) -> None:
    state = service.open_review("run-1", read_first=True)
    assert state.read_first and state.ai_hidden
    with pytest.raises(ReviewStateError, match="hidden"):
        service.accept(state, "F1")
    # The radiologist marks two lesions: one where the AI found F1, one the AI missed.
    state = service.add(state, finding("R1", offset=0, origin="radiologist"))
    state = service.add(state, finding("R2", offset=30, origin="radiologist"))
    with pytest.raises(ReviewStateError, match="Reveal"):
        service.sign_off(state, 0.0)
    state = service.reveal_ai(state)
    assert not state.ai_hidden and state.revealed_utc
    with pytest.raises(ReviewStateError, match="already shown"):
        service.reveal_ai(state)
    rows = dict(
        (fid, (outcome, matched))
        for fid, outcome, matched in service.store.db.execute(
            "SELECT finding_id, outcome, matched_id FROM reading_outcomes WHERE review_id = ?", (state.review_id,)
        )
    )
    assert rows == {
        "R1": ("independent", "F1"), "R2": ("ai_missed", ""),
        "F1": ("both", "R1"), "F2": ("ai_only", ""), "F3": ("ai_only", ""),
    }  # fmt: skip
    assert service.reading_outcomes(state.review_id, 1, 1) == {
        Outcome.INDEPENDENT: 1, Outcome.AI_MISSED: 1, Outcome.BOTH: 1, Outcome.AI_ONLY: 2,
    }  # fmt: skip
    state = service.accept(state, "F1")  # decisions are possible once revealed
    events = [r[0] for r in service.store.db.execute("SELECT event FROM audit ORDER BY seq")]
    assert "ai_revealed" in events
    assert service.store.verify_audit().ok


def test_reveal_and_outcomes_are_sealed(service: ReviewService, tmp_path: Path) -> None:
    state = service.open_review("run-1", read_first=True)
    state = service.add(state, finding("R1", offset=30, origin="radiologist"))
    service.reveal_ai(state)
    service.store.close()
    db = sqlite3.connect(tmp_path / "review.sqlite")
    db.execute("DROP TRIGGER reading_outcomes_no_update")
    db.execute("UPDATE reading_outcomes SET outcome = 'independent' WHERE finding_id = 'R1'")
    db.commit()
    db.close()
    with ReviewStore(tmp_path / "review.sqlite") as store:
        report = store.verify_audit()
    assert not report.ok
    assert "the AI reveal (and reading outcomes) of review 1 version 1" in report.reason
    assert "edited outside the app" in report.reason


def test_finding_dice() -> None:
    a = finding("A", offset=0)
    assert finding_dice(a, finding("B", offset=0)) == 1.0
    assert finding_dice(a, finding("C", offset=20)) == 0.0
    shifted = replace(finding("D", offset=0), bbox=(3, 10, 10, 6, 13, 13))  # one slice lower
    assert finding_dice(a, shifted) == pytest.approx(2 * 4 / 16)


# -- schema -------------------------------------------------------------------------------------


def test_schema_2_store_is_upgraded_without_losing_anything(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    with ReviewStore(path) as store:
        service = ReviewService(store, ACTOR)
        service.record_run(ai_run())
        review_id = _signed(service)
        before = store.db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    db = sqlite3.connect(path)  # what a schema-2 store looked like: no new tables, version 2
    for table in ("version_runs", "readings", "reveals", "reading_outcomes"):
        db.execute(f"DROP TABLE {table}")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    db.commit()
    db.close()
    with ReviewStore(path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == SCHEMA_VERSION
        after = store.db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        assert after[: len(before)] == before and after[-1][4] == STORE_UPGRADED
        assert store.verify_audit().ok
        restored = ReviewService(store, ACTOR).restore(review_id)
        assert restored.signoff is not None and restored.signoff.os_user == "radiologist1"
