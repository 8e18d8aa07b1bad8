"""What an audit entry records about the fact rows it was written with: their sha256.

A fact reference is ``[kind, key, sha256]``. The digest is computed from the row as stored
(blobs by their own sha256), in the same transaction as the entry, and ``audit verify``
recomputes it from the fact tables, so a row edited, added or removed behind the app's back
no longer matches any entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Iterator

# kind -> (table, key columns, columns covered, extra WHERE for "every fact of this kind")
_KINDS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "run": ("ai_runs", ("run_id",), "*", ""),
    "review": ("reviews", ("review_id",), "*", ""),
    # A version row gains its sign-off later: "version" covers what is fixed when it opens.
    "version": ("review_versions", ("review_id", "version"),
                "review_id, version, opened_utc, opened_by, amendment_reason", ""),
    "signoff": ("review_versions", ("review_id", "version"), "*", " WHERE signed_utc IS NOT NULL"),
    "decision": ("decisions", ("seq",), "*", ""),
    "mask": ("mask_edits", ("seq",), "*", ""),
    "version_run": ("version_runs", ("review_id", "version"), "*", ""),
    "reading": ("readings", ("review_id", "version"), "*", ""),
    # A reveal covers its row and the reading outcomes written with it (like a run its findings).
    "reveal": ("reveals", ("review_id", "version"), "*", ""),
    "ood_override": ("ood_overrides", ("override_id",), "*", ""),
    "measurement": ("measurements", ("seq",), "*", ""),
    "undo": ("undos", ("seq",), "*", ""),
    "reclass": ("reclassifications", ("seq",), "*", ""),
}  # fmt: skip

_LABELS = {
    "run": "AI run {0}",
    "review": "review {0}",
    "version": "review {0} version {1}",
    "signoff": "the sign-off of review {0} version {1}",
    "decision": "decision {0}",
    "mask": "mask edit {0}",
    "version_run": "the AI run of review {0} version {1}",
    "reading": "the read-first mode of review {0} version {1}",
    "reveal": "the AI reveal (and reading outcomes) of review {0} version {1}",
    "ood_override": "input-check override {0}",
    "measurement": "measurement change {0}",
    "undo": "undo {0}",
    "reclass": "class recomputation {0}",
}
TABLES = {kind: spec[0] for kind, spec in _KINDS.items()}


@dataclass(frozen=True)
class FactRef:
    """One fact row (or, for a run, the run with all its findings and maps)."""

    kind: str
    key: tuple[str | int, ...]

    @classmethod
    def of(cls, kind: str, *key: str | int) -> FactRef:
        if kind not in _KINDS:
            raise ValueError(f"unknown fact kind {kind!r}")
        return cls(kind, tuple(key))

    def label(self) -> str:
        return _LABELS[self.kind].format(*self.key)


def _canonical(values: Iterable[Any]) -> bytes:
    plain = [hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v for v in values]
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def digest(db: sqlite3.Connection, ref: FactRef) -> str | None:
    """sha256 of the fact as stored now; ``None`` if the row is gone."""
    table, keys, columns, _ = _KINDS[ref.kind]
    where = " AND ".join(f"{k} = ?" for k in keys)
    row = db.execute(f"SELECT {columns} FROM {table} WHERE {where}", ref.key).fetchone()
    if row is None:
        return None
    h = hashlib.sha256(_canonical(row))
    if ref.kind == "run":  # the run payload: every finding (with its mask) and every map
        for found in db.execute("SELECT * FROM ai_findings WHERE run_id = ? ORDER BY ordinal, finding_id", ref.key):
            h.update(b"\nfinding" + _canonical(found))
        for kept in db.execute("SELECT * FROM ai_maps WHERE run_id = ? ORDER BY kind", ref.key):
            h.update(b"\nmap" + _canonical(kept))
    if ref.kind == "reveal":
        where = "review_id = ? AND version = ? ORDER BY finding_id"
        for outcome in db.execute(f"SELECT * FROM reading_outcomes WHERE {where}", ref.key):
            h.update(b"\noutcome" + _canonical(outcome))
    return h.hexdigest()


def seal(db: sqlite3.Connection, refs: Iterable[FactRef]) -> str:
    """The ``facts`` column of a new entry: each reference with its digest, as JSON."""
    out = []
    for ref in refs:
        found = digest(db, ref)
        if found is None:
            raise ValueError(f"{ref.label()} is not in the store; write the fact before its audit entry")
        out.append([ref.kind, list(ref.key), found])
    return json.dumps(out, separators=(",", ":"))


def unseal(text: str) -> list[tuple[FactRef, str]]:
    """Parse an entry's ``facts`` column (empty for entries written before facts were sealed)."""
    if not text:
        return []
    return [(FactRef(kind, tuple(key)), sha) for kind, key, sha in json.loads(text)]


def every_fact(db: sqlite3.Connection) -> Iterator[FactRef]:
    """Every fact row in the store, so that rows no entry records are found."""
    for kind, (table, keys, _, where) in _KINDS.items():
        for row in db.execute(f"SELECT {', '.join(keys)} FROM {table}{where} ORDER BY {', '.join(keys)}"):
            yield FactRef(kind, tuple(row))


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Stored rows per fact table (for "the log is empty but ... are stored")."""
    tables = {*TABLES.values(), "reading_outcomes"}
    return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in tables}
