"""The review store: one SQLite file (WAL) in the per-user data folder.

Every write is one ``BEGIN IMMEDIATE`` transaction holding the fact and its audit entry,
with ``synchronous=FULL`` so a decision that returned is on disk even if the process is
killed the next instant. Several app instances may share the file: writers serialise on
SQLite's lock and re-check the review's state inside their transaction.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.schema import REVIEW_SCHEMA, TRIGGERS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SCHEMA_VERSION = "1"


class ReviewStore:
    """Owns one connection. Open one per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # executescript commits on its own; every statement is idempotent (IF NOT EXISTS).
            self.db.executescript(REVIEW_SCHEMA + audit.AUDIT_SCHEMA + TRIGGERS)
            with self.transaction():
                self._check_version()
        except sqlite3.DatabaseError as exc:
            raise ReviewStateError(f"The review store at {path} cannot be opened: {exc}") from exc

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise ReviewStateError(f"The review store at {self.path} was written by another version of the app.")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify_audit(self) -> audit.ChainReport:
        return audit.verify_chain(self.db)

    def export_audit_csv(self, path: Path) -> int:
        return audit.export_csv(self.db, path)
