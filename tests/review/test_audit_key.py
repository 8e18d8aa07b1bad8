"""Where the audit key lives (keyring or owner-only file, never beside the database) and the schema-1 migration."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from meddiag_desktop.errors import AuditKeyError
from meddiag_desktop.review import audit
from meddiag_desktop.review.audit_key import KEY_FILE_NAME, KEYRING_SERVICE, KEYRING_USER, load_key, system_keyring
from meddiag_desktop.review.schema import REVIEW_SCHEMA
from meddiag_desktop.review.store import SCHEMA_VERSION, ReviewStore


class FakeKeyring:
    """Stands in for the OS keyring: tests never touch the real user's."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password


def test_tests_never_reach_a_real_keyring() -> None:
    assert system_keyring() is None  # conftest forces keyring's "fail" backend


def test_key_in_the_keyring_when_one_is_usable(tmp_path: Path) -> None:
    ring = FakeKeyring()
    key = load_key(tmp_path, ring)
    assert key.created and "OS keyring" in key.source
    assert bytes.fromhex(ring.secrets[(KEYRING_SERVICE, KEYRING_USER)]) == key.secret
    assert not (tmp_path / KEY_FILE_NAME).exists()
    again = load_key(tmp_path, ring)
    assert again.secret == key.secret and not again.created


def test_key_file_is_owner_only_and_reused(tmp_path: Path) -> None:
    key = load_key(tmp_path / "config", None)
    path = tmp_path / "config" / KEY_FILE_NAME
    assert key.created and str(path) in key.source
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(tmp_path / "config", None).secret == key.secret
    assert load_key(tmp_path / "config", FakeKeyring()).secret == key.secret  # a keyring that came later


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_key(tmp_path, None)
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(AuditKeyError, match="can be read by other accounts"):
        load_key(tmp_path, None)


def test_key_folder_inside_the_data_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="inside the data folder"):
        ReviewStore(tmp_path / "review.sqlite", tmp_path / "config")


# -- migration of a schema-1 store -----------------------------------------------------------------

V1_AUDIT = """
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, time_utc TEXT NOT NULL, os_user TEXT NOT NULL, display_name TEXT NOT NULL,
    event TEXT NOT NULL, study_uid TEXT NOT NULL, series_uid TEXT NOT NULL, finding_id TEXT NOT NULL,
    model_ref TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL, hash TEXT NOT NULL);
"""


def v1_store(path: Path) -> None:
    """A store as version 1 wrote it: a run, a review, two decisions, plain-hash entries, no store id."""
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.executescript(REVIEW_SCHEMA + V1_AUDIT)
        db.execute("INSERT INTO meta VALUES ('schema', '1')")
        db.execute("INSERT INTO ai_runs VALUES ('run-1', '1.2.3', '1.2', 't', 'm@1#sha256:ab', 'cd', '{}')")
        db.execute("INSERT INTO reviews VALUES (1, '1.2.3', '1.2', 'run-1', 't')")
        db.execute("INSERT INTO review_versions (review_id, version, opened_utc, opened_by, amendment_reason)"
                   " VALUES (1, 1, 't', 'r1', '')")  # fmt: skip
        for seq, (finding, decision) in enumerate((("F1", "accepted"), ("F2", "rejected")), start=1):
            db.execute("INSERT INTO decisions VALUES (?, 1, 1, ?, ?, NULL, '', 't', 'r1')", (seq, finding, decision))
        prev = audit.GENESIS
        for seq, event in enumerate(("ai_run", "finding_accepted", "finding_rejected"), start=1):
            values = dict(zip(audit.FIELDS, (seq, "t", "r1", "", event, "1.2", "1.2.3", "", "", "{}", prev),
                              strict=True))  # fmt: skip
            prev = audit.entry_hash(values)
            db.execute(f"INSERT INTO audit VALUES ({', '.join('?' * 12)})", (*values.values(), prev))
        db.execute("INSERT INTO audit_head VALUES (1, 3, ?)", (prev,))


def test_schema_1_store_is_migrated_without_loss_and_legacy_is_named(tmp_path: Path) -> None:
    path = tmp_path / "data" / "review.sqlite"
    v1_store(path)
    with ReviewStore(path, tmp_path / "config") as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == SCHEMA_VERSION
        events = [r[0] for r in store.db.execute("SELECT event FROM audit ORDER BY seq")]
        assert events == ["ai_run", "finding_accepted", "finding_rejected", "store_migrated"]
        details = json.loads(store.db.execute("SELECT details FROM audit WHERE seq = 4").fetchone()[0])
        assert details["legacy_entries"] == 3 and details["store_id"] == store.store_id
        decisions = store.db.execute("SELECT finding_id, decision FROM decisions ORDER BY seq").fetchall()
        assert decisions == [("F1", "accepted"), ("F2", "rejected")]
        assert store.db.execute("SELECT COUNT(*) FROM audit WHERE mac = '' AND facts = ''").fetchone()[0] == 3
        report = store.verify_audit()
    assert report.ok, report.problems
    assert report.reason.startswith("all 4 entries verify")
    assert any(n.startswith("legacy: entries 1–3 are from before entries were authenticated (legacy, "
                            "unauthenticated)") for n in report.notes)  # fmt: skip


def test_facts_of_a_migrated_store_are_sealed_from_the_migration_on(tmp_path: Path) -> None:
    path = tmp_path / "data" / "review.sqlite"
    v1_store(path)
    ReviewStore(path, tmp_path / "config").close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("DROP TRIGGER decisions_no_update")
        db.execute("UPDATE decisions SET decision = 'accepted' WHERE seq = 2")
    with ReviewStore(path, tmp_path / "config") as store:
        report = store.verify_audit()
    assert "decision 2 (sealed by entry 4 (store_migrated)) no longer matches" in report.reason


def test_stripping_authentication_to_pass_as_legacy_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "data" / "review.sqlite"
    v1_store(path)
    ReviewStore(path, tmp_path / "config").close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:  # a new legacy entry 4 in place of the seal
        db.execute("DROP TRIGGER audit_no_update")
        row = dict(zip(audit.COLUMNS, db.execute(f"SELECT {', '.join(audit.COLUMNS)} FROM audit WHERE seq = 4")
                       .fetchone(), strict=True))  # fmt: skip
        row |= {"facts": "", "mac": "", "event": "finding_shown", "details": "{}"}
        db.execute("UPDATE audit SET facts = '', mac = '', event = 'finding_shown', details = '{}', hash = ?"
                   " WHERE seq = 4", (audit.entry_hash(row),))  # fmt: skip
        db.execute("UPDATE audit_head SET hash = ?, mac = '' ", (audit.entry_hash(row),))
    with ReviewStore(path, tmp_path / "config") as store:
        report = store.verify_audit()
    assert not report.ok
    assert any("should open the authenticated log" in p or "no entry is authenticated" in p for p in report.problems)
