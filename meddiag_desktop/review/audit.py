"""Append-only audit log with a sha256 hash chain (tamper evidence, not tamper proofing).

Each entry's hash covers its own fields and the previous entry's hash, so changing or
deleting any entry breaks the chain from that entry on. A one-row head (count + last hash)
is updated in the same transaction, so cutting entries off the end is detected too.
SQL triggers refuse UPDATE and DELETE on the log. Entries hold UIDs, never names or pixels.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

GENESIS = "0" * 64

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, time_utc TEXT NOT NULL, os_user TEXT NOT NULL, display_name TEXT NOT NULL,
    event TEXT NOT NULL, study_uid TEXT NOT NULL, series_uid TEXT NOT NULL, finding_id TEXT NOT NULL,
    model_ref TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

FIELDS = ("seq", "time_utc", "os_user", "display_name", "event", "study_uid", "series_uid", "finding_id",
          "model_ref", "details", "prev_hash")  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Who acts: the OS account plus the display name set once in preferences."""

    os_user: str
    display_name: str = ""

    @classmethod
    def current(cls, display_name: str = "") -> Actor:
        return cls(getpass.getuser(), display_name)


@dataclass(frozen=True)
class AuditEvent:
    event: str
    study_uid: str = ""
    series_uid: str = ""
    finding_id: str = ""
    model_ref: str = ""
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChainReport:
    """Result of ``verify_chain``: ``first_broken`` is the seq of the first bad entry."""

    entries: int
    first_broken: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def entry_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps([values[f] for f in FIELDS], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(db: sqlite3.Connection, actor: Actor, event: AuditEvent) -> int:
    """Add one entry. Call inside the caller's transaction so the fact and its entry commit together."""
    head = db.execute("SELECT count, hash FROM audit_head WHERE id = 1").fetchone()
    count, prev = head if head else (0, GENESIS)
    values: dict[str, Any] = {
        "seq": count + 1, "time_utc": now_utc(), "os_user": actor.os_user, "display_name": actor.display_name,
        "event": event.event, "study_uid": event.study_uid, "series_uid": event.series_uid,
        "finding_id": event.finding_id, "model_ref": event.model_ref,
        "details": json.dumps(event.details or {}, sort_keys=True, separators=(",", ":")), "prev_hash": prev,
    }  # fmt: skip
    digest = entry_hash(values)
    db.execute(f"INSERT INTO audit ({', '.join(FIELDS)}, hash) VALUES ({', '.join('?' * len(FIELDS))}, ?)",
               (*[values[f] for f in FIELDS], digest))  # fmt: skip
    db.execute("INSERT OR REPLACE INTO audit_head (id, count, hash) VALUES (1, ?, ?)", (count + 1, digest))
    return count + 1


def verify_chain(db: sqlite3.Connection) -> ChainReport:
    """Walk the whole log; name the first entry whose content, order or link is wrong."""
    prev, expected_seq = GENESIS, 1
    rows = db.execute(f"SELECT {', '.join(FIELDS)}, hash FROM audit ORDER BY seq")
    for row in rows:
        values = dict(zip((*FIELDS, "hash"), row, strict=True))
        seq = int(values["seq"])
        if seq != expected_seq:
            return ChainReport(seq - 1, expected_seq, f"entry {expected_seq} is missing (deleted)")
        if values["prev_hash"] != prev:
            return ChainReport(seq - 1, seq, f"entry {seq} does not follow entry {seq - 1} (link broken)")
        if entry_hash(values) != values["hash"]:
            return ChainReport(seq - 1, seq, f"entry {seq} was changed after it was written")
        prev, expected_seq = values["hash"], seq + 1
    return _check_head(db, expected_seq - 1, prev)


def _check_head(db: sqlite3.Connection, count: int, last_hash: str) -> ChainReport:
    head = db.execute("SELECT count, hash FROM audit_head WHERE id = 1").fetchone()
    if head is None and count == 0:
        return ChainReport(0, None, "the audit log is empty")
    if head is None or head[0] != count or head[1] != last_hash:
        recorded = head[0] if head else 0
        return ChainReport(count, count + 1, f"the log ends at entry {count} but {recorded} entries were written")
    return ChainReport(count, None, f"all {count} entries verify")


def export_csv(db: sqlite3.Connection, path: Path) -> int:
    """Write every entry (with its hashes) to CSV; returns the number of entries."""
    rows = db.execute(f"SELECT {', '.join(FIELDS)}, hash FROM audit ORDER BY seq").fetchall()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((*FIELDS, "hash"))
        writer.writerows(rows)
    return len(rows)
