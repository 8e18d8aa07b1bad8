"""Attacks on the review record by someone who can edit the database file but has not the audit key.

Each is detected by ``audit verify`` and named in plain words. The key and the checkpoints go
to the test's own config folder (file backend, never the real user's keyring).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from meddiag_desktop.review import audit, facts
from meddiag_desktop.review.audit_key import AuditKey, load_key
from meddiag_desktop.review.model import RejectReason
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.review.verify import ChainReport
from tests.review.helpers import ai_run

ACTOR = audit.Actor("radiologist1", "Dr. Test")
REPO = Path(__file__).resolve().parents[2]
SELECT_ALL = f"SELECT {', '.join(audit.COLUMNS)} FROM audit ORDER BY seq"


class Workstation:
    """One account's data folder, config folder (key + checkpoints) and audit key."""

    def __init__(self, root: Path) -> None:
        self.config = root / "config"
        self.db = root / "data" / "review.sqlite"
        self.key = load_key(self.config, None)

    def store(self, checkpoint_every: int = 20) -> ReviewStore:
        return ReviewStore(self.db, self.config, key=self.key, checkpoint_every=checkpoint_every)

    def verify(self, model_dirs: tuple[Path, ...] = ()) -> ChainReport:
        with self.store() as store:
            return store.verify_audit(model_dirs)


@pytest.fixture
def ws(tmp_path: Path) -> Workstation:
    return Workstation(tmp_path)


def review(ws: Workstation, sign: bool = True, model_ref: str = "") -> None:
    """AI run, open, accept F1, reject F2 (artefact), accept F3, sign off: entries 1-7."""
    run = replace(ai_run(), model_ref=model_ref) if model_ref else ai_run()
    with ws.store() as store:
        service = ReviewService(store, ACTOR)
        service.record_run(run)
        state = service.accept(service.open_review("run-1"), "F1")
        state = service.reject(state, "F2", RejectReason.ARTEFACT, "streak")
        state = service.accept(state, "F3")
        if sign:
            service.sign_off(state, 0.5)


def attacker(path: Path) -> sqlite3.Connection:
    """Bypass the app: a plain connection with every guard trigger dropped."""
    db = sqlite3.connect(path, isolation_level=None)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    return db


def problems(report: ChainReport) -> str:
    assert not report.ok, report
    return "\n".join(report.problems)


# -- 1. full rewrite without the key ---------------------------------------------------------------


def rewrite_everything(db: sqlite3.Connection, mac: str) -> None:
    """Flip F2's rejection to an acceptance, then recompute every fact digest, hash, link and the head."""
    db.execute("UPDATE decisions SET decision = 'accepted', reason = NULL, note = '' WHERE finding_id = 'F2'")
    db.execute("UPDATE audit SET event = 'finding_accepted', details = ? WHERE event = 'finding_rejected'",
               ('{"decision":"accepted"}',))  # fmt: skip
    prev = audit.GENESIS
    for row in db.execute(SELECT_ALL).fetchall():
        values = dict(zip(audit.COLUMNS, row, strict=True))
        refs = [ref for ref, _ in facts.unseal(values["facts"])]
        values |= {"prev_hash": prev, "facts": facts.seal(db, refs)}
        digest = audit.entry_hash(values, sealed=True)
        new_mac = values["mac"] if mac == "kept" else ""
        db.execute("UPDATE audit SET prev_hash = ?, facts = ?, hash = ?, mac = ? WHERE seq = ?",
                   (prev, values["facts"], digest, new_mac, values["seq"]))  # fmt: skip
        prev = digest
    count = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    db.execute("UPDATE audit_head SET count = ?, hash = ?", (count, prev))


@pytest.mark.parametrize("mac", ["kept", "blanked"])
def test_full_rewrite_without_the_key_is_detected(ws: Workstation, mac: str) -> None:
    review(ws)
    with closing(attacker(ws.db)) as db:
        rewrite_everything(db, mac)
    with ws.store() as store:  # reopening restores the triggers: the file looks untouched
        assert store.db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] > 10
        assert ReviewService(store, ACTOR).restore(1).finding("F2").decision.value == "accepted"
    text = problems(ws.verify())
    assert "not authenticated by the audit key" in text
    assert "the log was rewritten by someone without the key" in text


def test_a_key_from_another_workstation_does_not_verify(ws: Workstation, tmp_path: Path) -> None:
    review(ws)
    other = AuditKey(b"\x01" * 32, "another key")
    with ReviewStore(ws.db, tmp_path / "other-config", key=other) as store:
        report = store.verify_audit()
    assert report.first_broken == 1
    assert "entries 1–7 are not authenticated by the audit key (another key)" in report.reason


# -- 2. facts-only edits ---------------------------------------------------------------------------


def test_editing_only_the_decisions_table_is_detected(ws: Workstation) -> None:
    review(ws)
    with closing(attacker(ws.db)) as db:
        db.execute("UPDATE decisions SET decision = 'accepted', reason = NULL WHERE finding_id = 'F2'")
    report = ws.verify()
    assert report.reason == (
        "decision 2 (sealed by entry 5 (finding_rejected, finding F2)) no longer matches what the audit log "
        "sealed: the fact tables were edited outside the app"
    )
    assert report.first_broken == 5


def test_a_decision_added_behind_the_apps_back_is_detected(ws: Workstation) -> None:
    review(ws, sign=False)
    with closing(attacker(ws.db)) as db:
        db.execute("INSERT INTO decisions (review_id, version, finding_id, decision, reason, note, time_utc, os_user)"
                   " VALUES (1, 1, 'F2', 'accepted', NULL, '', '2030-01-01', 'radiologist1')")  # fmt: skip
    assert "decision 4 has no audit entry: added outside the app" in problems(ws.verify())


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        ("UPDATE mask_edits SET mask = zeroblob(40)", "mask edit 1 (sealed by entry 4 (finding_edited, finding F1))"),
        ("UPDATE ai_findings SET data = replace(data, '0.95', '0.99') WHERE finding_id = 'F2'",
         "AI run run-1 (sealed by entry 2 (ai_run))"),
        ("DELETE FROM ai_maps", "AI run run-1"),
        ("UPDATE review_versions SET signed_by_user = 'someone_else'", "the sign-off of review 1 version 1"),
    ],
)  # fmt: skip
def test_mask_bytes_run_payload_and_sign_off_are_sealed(ws: Workstation, tamper: str, named: str) -> None:
    with ws.store() as store:
        service = ReviewService(store, ACTOR)
        service.record_run(replace(ai_run(), maps={"probability": ai_run().findings[0].mask.astype("float32")}))
        state = service.open_review("run-1")
        edited = state.finding("F1").finding
        mask = edited.mask.copy()
        mask[0, 0, 0] = True
        state = service.edit(state, replace(edited, mask=mask))
        state = service.accept(service.reject(state, "F2", RejectReason.DUPLICATE), "F3")
        service.sign_off(state, 0.5)
    with closing(attacker(ws.db)) as db:
        db.execute(tamper)
    text = problems(ws.verify())
    assert named in text and "the fact tables were edited outside the app" in text


# -- 3. truncation -----------------------------------------------------------------------------------


def test_cutting_off_the_end_of_the_log_is_detected(ws: Workstation) -> None:
    review(ws)
    with closing(attacker(ws.db)) as db:
        db.execute("DELETE FROM audit WHERE seq > 5")
        db.execute("UPDATE audit_head SET count = 5, hash = (SELECT hash FROM audit WHERE seq = 5)")
    report = ws.verify()
    text = problems(report)
    assert "the end of the log (entry 5) is not authenticated by the audit key: entries after it were cut off" in text
    assert "the database holds 5 entries but the checkpoint of" in text and "recorded 7" in text
    assert "the sign-off of review 1 version 1, decision 3 have no audit entry" in text


def test_cutting_entries_but_not_the_head_is_detected(ws: Workstation) -> None:
    review(ws)
    with closing(attacker(ws.db)) as db:
        db.execute("DELETE FROM audit WHERE seq > 5")
    assert ws.verify().reason == "the log ends at entry 5 but 7 entries were written"


# -- 4. an older copy of the database put back ------------------------------------------------------


def test_restoring_an_older_copy_is_detected(ws: Workstation, tmp_path: Path) -> None:
    review(ws, sign=False)  # entries 1-6, the last checkpoint at 1 (store created)
    shutil.copy(ws.db, tmp_path / "older.sqlite")
    with ws.store() as store:
        service = ReviewService(store, ACTOR)
        service.sign_off(service.restore(1), 0.5)  # entry 7, checkpoint at 7
    shutil.copy(tmp_path / "older.sqlite", ws.db)
    report = ws.verify()
    assert report.first_broken == 7
    assert "the database holds 6 entries but the checkpoint of" in report.reason
    assert "recorded 7: an older copy of the database was put back" in report.reason
    assert any(note.startswith("checkpoint: 7 entries, head ") for note in report.notes)


def test_an_older_copy_that_went_on_is_detected_and_the_checkpoint_kept(ws: Workstation, tmp_path: Path) -> None:
    review(ws, sign=False)
    shutil.copy(ws.db, tmp_path / "older.sqlite")
    with ws.store() as store:
        service = ReviewService(store, ACTOR)
        service.sign_off(service.restore(1), 0.5)
    shutil.copy(tmp_path / "older.sqlite", ws.db)
    with ws.store(checkpoint_every=1) as store:  # the app goes on writing on the old copy
        service = ReviewService(store, ACTOR)
        for _ in range(3):
            service.record_event(service.restore(1), "finding_shown", "F1")
    report = ws.verify()
    assert "entry 7 differs from the checkpoint of" in report.reason
    assert "replaced by a copy with another history" in report.reason


def test_a_different_database_in_its_place_is_detected(ws: Workstation) -> None:
    review(ws)
    ws.db.unlink()
    ws.db.with_name("review.sqlite-wal").unlink(missing_ok=True)
    review(ws)  # a fresh store with a new id and the same story
    text = problems(ws.verify())
    assert "but this database is store" in text and "the database was replaced by another one" in text


def test_a_forged_checkpoint_is_detected(ws: Workstation) -> None:
    review(ws)
    with ws.store() as store:
        path = store.checkpoint_file
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {"entries": 3}))
    assert "is not authenticated by the audit key: it was edited or forged" in ws.verify().reason


# -- 5. the model behind a run changed -------------------------------------------------------------


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(REPO / "models" / "lung-lesion-cls", root / "lung-lesion-cls")
    return root


def model_ref(folder: Path) -> str:
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    return f"{manifest['id']}@{manifest['version']}#sha256:{digest}"


def test_an_unchanged_model_verifies(ws: Workstation, model_dir: Path) -> None:
    review(ws, model_ref=model_ref(model_dir / "lung-lesion-cls"))
    assert ws.verify((model_dir,)).ok


def test_a_model_swapped_with_its_manifest_edited_after_the_run_is_named(ws: Workstation, model_dir: Path) -> None:
    folder = model_dir / "lung-lesion-cls"
    review(ws, model_ref=model_ref(folder))
    with (folder / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.onnx"] = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = ws.verify((model_dir,))
    assert report.reason.startswith(f"model lung-lesion-cls@{manifest['version']}: model.onnx in {folder} now has")
    assert "but 1 run(s) (run-1) recorded" in report.reason
    assert "the model changed after the run without a new version, and its manifest was edited" in report.reason


def test_a_manifest_edited_after_the_run_is_named(ws: Workstation, model_dir: Path) -> None:
    folder = model_dir / "lung-lesion-cls"
    review(ws, model_ref=model_ref(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"version": "9.9.9"}))
    assert "now says version 9.9.9" in ws.verify((model_dir,)).reason
    assert "the manifest was edited after the run" in ws.verify((model_dir,)).reason


# -- 6. the whole log deleted, the facts left -------------------------------------------------------


@pytest.mark.parametrize("also", ["", "DELETE FROM meta WHERE key = 'store_id'"])
def test_a_deleted_log_with_decisions_left_is_tampering(ws: Workstation, also: str) -> None:
    review(ws)
    with closing(attacker(ws.db)) as db:
        db.execute("DELETE FROM audit")
        db.execute("DELETE FROM audit_head")
        if also:
            db.execute(also)
    report = ws.verify()  # opening the store must not start a new log over the old facts
    assert report.entries == 0 and report.first_broken == 1
    assert report.reason.startswith("the audit log is empty but the store holds ")
    assert "3 row(s) in decisions" in report.reason and report.reason.endswith("the whole log was deleted")


# -- 7. verify while the app writes -------------------------------------------------------------------


def test_verify_during_writes_never_reports_broken(ws: Workstation) -> None:
    review(ws, sign=False)
    stop, writing = threading.Event(), threading.Event()

    def write() -> None:
        with ws.store(checkpoint_every=3) as store:
            service = ReviewService(store, ACTOR)
            state = service.restore(1)
            while not stop.is_set():  # decisions (facts + entries) and audit-only entries
                state = service.reject(state, "F1", RejectReason.ARTEFACT) if writing.is_set() else state
                state = service.accept(state, "F1")
                service.record_event(state, "finding_shown", "F1")
                writing.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert writing.wait(10)
        with ws.store() as store:
            reports = [store.verify_audit() for _ in range(200)]
    finally:
        stop.set()
        writer.join()
    assert [r.reason for r in reports if not r.ok] == []
    assert reports[-1].entries > reports[0].entries  # the writer did write meanwhile
