"""Append-only audit log: a sha256 hash chain, authenticated, sealing the facts it records.

Each entry's hash covers its own fields, the sha256 of the fact rows it records (decision row,
mask bytes, run payload; see ``facts``) and the previous entry's hash, so changing, deleting or
reordering an entry breaks the chain from there on. Each entry and the one-row head (count +
last hash) also carry an HMAC-SHA256 with a key kept outside the database (``audit_key``), so a
rewrite that recomputes every hash is still detected without that key. SQL triggers refuse
UPDATE and DELETE on the log. Entries hold UIDs, never names or pixels. ``verify`` checks it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meddiag_desktop.config import os_account
from meddiag_desktop.review import facts as fact_rows

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from meddiag_desktop.review.audit_key import AuditKey
    from meddiag_desktop.review.facts import FactRef

GENESIS = "0" * 64
STORE_CREATED = "store_created"
STORE_MIGRATED = "store_migrated"

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, time_utc TEXT NOT NULL, os_user TEXT NOT NULL, display_name TEXT NOT NULL,
    event TEXT NOT NULL, study_uid TEXT NOT NULL, series_uid TEXT NOT NULL, finding_id TEXT NOT NULL,
    model_ref TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    facts TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL, hash TEXT NOT NULL,
    mac TEXT NOT NULL DEFAULT '');
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# Added to a schema-1 store by the migration (its entries keep '' and are reported as legacy).
MIGRATION_COLUMNS = (("audit", "facts"), ("audit", "mac"), ("audit_head", "mac"))

FIELDS = ("seq", "time_utc", "os_user", "display_name", "event", "study_uid", "series_uid", "finding_id",
          "model_ref", "details", "prev_hash")  # fmt: skip
SEALED_FIELDS = (*FIELDS, "facts")
COLUMNS = (*SEALED_FIELDS, "hash", "mac")


@dataclass(frozen=True)
class Actor:
    """Who acts: the OS account (from the OS, see ``os_account``) plus the display name the user typed."""

    os_user: str
    display_name: str = ""

    @classmethod
    def current(cls, display_name: str = "") -> Actor:
        return cls(os_account(), display_name)


@dataclass(frozen=True)
class AuditEvent:
    event: str
    study_uid: str = ""
    series_uid: str = ""
    finding_id: str = ""
    model_ref: str = ""
    details: dict[str, Any] | None = None
    facts: tuple[FactRef, ...] = ()


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def entry_hash(values: dict[str, Any], sealed: bool = False) -> str:
    """sha256 of an entry; ``sealed`` entries (schema 2) also cover their fact digests."""
    fields = SEALED_FIELDS if sealed else FIELDS
    canonical = json.dumps([values[f] for f in fields], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_message(digest: str) -> str:
    return f"meddiag-audit-entry:{digest}"


def head_message(count: int, digest: str) -> str:
    return f"meddiag-audit-head:{count}:{digest}"


def append(db: sqlite3.Connection, key: AuditKey, actor: Actor, event: AuditEvent) -> tuple[int, str]:
    """Add one entry; returns its ``(seq, hash)``.

    Call inside the caller's transaction, after writing the facts, so that the facts and the
    entry sealing them commit together.
    """
    head = db.execute("SELECT count, hash FROM audit_head WHERE id = 1").fetchone()
    count, prev = head if head else (0, GENESIS)
    values: dict[str, Any] = {
        "seq": count + 1, "time_utc": now_utc(), "os_user": actor.os_user, "display_name": actor.display_name,
        "event": event.event, "study_uid": event.study_uid, "series_uid": event.series_uid,
        "finding_id": event.finding_id, "model_ref": event.model_ref,
        "details": json.dumps(event.details or {}, sort_keys=True, separators=(",", ":")), "prev_hash": prev,
        "facts": fact_rows.seal(db, event.facts),
    }  # fmt: skip
    digest = entry_hash(values, sealed=True)
    values |= {"hash": digest, "mac": key.mac(entry_message(digest))}
    db.execute(f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
               [values[c] for c in COLUMNS])  # fmt: skip
    db.execute(
        "INSERT OR REPLACE INTO audit_head (id, count, hash, mac) VALUES (1, ?, ?, ?)",
        (count + 1, digest, key.mac(head_message(count + 1, digest))),
    )
    return count + 1, digest


def export_csv(db: sqlite3.Connection, path: Path) -> int:
    """Write every entry (with its hashes, fact digests and MAC) to CSV; returns the number of entries."""
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq").fetchall()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)
