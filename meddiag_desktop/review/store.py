"""The review store: one SQLite file (WAL) in the per-user data folder.

Every write is one ``BEGIN IMMEDIATE`` transaction holding the fact and its audit entry,
with ``synchronous=FULL`` so a decision that returned is on disk even if the process is
killed the next instant. Several app instances may share the file: writers serialise on
SQLite's lock and re-check the review's state inside their transaction.

The audit key and the checkpoints live in the per-user config folder, never beside the
database: whoever can replace or edit the database alone cannot make it verify.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from meddiag_desktop.errors import AuditKeyError, ReviewStateError
from meddiag_desktop.review import audit, checkpoint, facts
from meddiag_desktop.review.audit_key import load_key, system_keyring
from meddiag_desktop.review.schema import REVIEW_SCHEMA, TRIGGERS

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from meddiag_desktop.review.audit_key import AuditKey
    from meddiag_desktop.review.verify import ChainReport

log = logging.getLogger(__name__)

# 2: entries seal fact digests and carry an HMAC; store id; checkpoints.
# 3: amendments with a new AI run, read-first readings and reveals (new tables only: nothing is rewritten).
# 4: overrides of the AI input check (a new table only: nothing is rewritten).
# 5: the viewer's measurements of a series (a new table only: nothing is rewritten).
# 6: undone decisions (a new table only: nothing is rewritten).
# 7: classes recomputed after mask edits (a new table only: nothing is rewritten).
SCHEMA_VERSION = "7"
_ADDED_TABLES_ONLY = ("2", "3", "4", "5", "6")  # schemas that reach SCHEMA_VERSION by the tables created at open
STORE_UPGRADED = "store_upgraded"
CHECKPOINT_EVENTS = frozenset({"signed_off", audit.STORE_CREATED, audit.STORE_MIGRATED, STORE_UPGRADED})


class ReviewStore:
    """Owns one connection. Open one per thread.

    Parameters
    ----------
    path
        The database file (in the data folder).
    config_dir
        The per-user config folder holding the audit key file and checkpoints; defaults to
        ``Settings().config_dir``. It must not be inside the database's folder.
    key
        The audit key; by default the OS keyring's (if usable) or the key file's in ``config_dir``.
    checkpoint_every
        Write a checkpoint outside the database every this many entries (and at sign-off).
    busy_timeout_s
        How long one statement waits for another connection's write lock before "database is locked".
    """

    def __init__(
        self,
        path: Path,
        config_dir: Path | None = None,
        *,
        key: AuditKey | None = None,
        checkpoint_every: int = 20,
        busy_timeout_s: float = 30.0,
    ) -> None:
        if config_dir is None:
            from meddiag_desktop.config import Settings

            config_dir = Settings().config_dir
        self.path = path
        self.checkpoint_file = checkpoint.checkpoint_path(config_dir, path)
        self.checkpoint_every = max(1, checkpoint_every)
        self._appended: list[tuple[int, str, str]] = []  # (seq, hash, event) in the open transaction
        _refuse_inside(config_dir, path)
        self.key = key or load_key(config_dir, system_keyring())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # executescript commits on its own; every statement is idempotent (IF NOT EXISTS).
            self.db.executescript(REVIEW_SCHEMA + audit.AUDIT_SCHEMA + TRIGGERS)
            with self.transaction() as db:
                self._check_version(db)
        except sqlite3.DatabaseError as exc:
            raise ReviewStateError(f"The review store at {path} cannot be opened: {exc}") from exc

    # -- schema, migration and the store id ----------------------------------------------------

    @property
    def store_id(self) -> str:
        """The random id named by the log's first authenticated entry ("" if the log was lost)."""
        return self._meta("store_id") or ""

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _check_version(self, db: sqlite3.Connection) -> None:
        version = self._meta("schema")
        if version is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif version == "1":
            self._migrate_from_1(db)
        elif version in _ADDED_TABLES_ONLY:
            self._upgrade_tables(db, int(version))
        elif version != SCHEMA_VERSION:
            raise ReviewStateError(f"The review store at {self.path} was written by another version of the app.")
        if self._meta("store_id") is None and self._is_blank(db):
            self._begin_log(db, audit.STORE_CREATED, {}, ())

    def _migrate_from_1(self, db: sqlite3.Connection) -> None:
        """Add the new columns; seal every existing fact and the legacy entries in one authenticated entry.

        The legacy entries keep their plain hashes and are reported as such by ``audit verify``:
        nothing proves they were not edited before this migration.
        """
        for table, column in audit.MIGRATION_COLUMNS:
            present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
        legacy = int(db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
        details = {"legacy_entries": legacy, "from_schema": 1}
        self._begin_log(db, audit.STORE_MIGRATED, details, tuple(facts.every_fact(db)))
        log.info("review store %s migrated to schema %s (%d legacy entries)", self.path, SCHEMA_VERSION, legacy)

    def _upgrade_tables(self, db: sqlite3.Connection, old: int) -> None:
        """Schemas 2 to 7 only add tables (created above); every row and entry stays as it was."""
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
        if db.execute("SELECT 1 FROM audit LIMIT 1").fetchone() is not None:
            event = audit.AuditEvent(STORE_UPGRADED, details={"from_schema": old, "to_schema": int(SCHEMA_VERSION)})
            self.append_audit(db, audit.Actor.current(), event)
        log.info("review store %s upgraded from schema %d to %s", self.path, old, SCHEMA_VERSION)

    def _is_blank(self, db: sqlite3.Connection) -> bool:
        """No entry and no fact: a new store. A store with facts but no log is left for verify to report."""
        empty_log = db.execute("SELECT 1 FROM audit LIMIT 1").fetchone() is None
        return empty_log and not any(facts.counts(db).values())

    def _begin_log(self, db: sqlite3.Connection, event: str, details: dict[str, Any],
                   refs: tuple[facts.FactRef, ...]) -> None:  # fmt: skip
        store_id = secrets.token_hex(16)
        db.execute("INSERT INTO meta VALUES ('store_id', ?)", (store_id,))
        entry = audit.AuditEvent(event, details={"store_id": store_id, **details}, facts=refs)
        self.append_audit(db, audit.Actor.current(), entry)

    # -- writing -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        self._appended = []
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            self._appended = []
            raise
        self.db.execute("COMMIT")
        self._after_commit()

    def append_audit(self, db: sqlite3.Connection, actor: audit.Actor, event: audit.AuditEvent) -> int:
        """One authenticated entry sealing ``event.facts``; call inside ``transaction()``."""
        seq, digest = audit.append(db, self.key, actor, event)
        self._appended.append((seq, digest, event.event))
        return seq

    def _after_commit(self) -> None:
        due = [(s, h) for s, h, e in self._appended if e in CHECKPOINT_EVENTS or s % self.checkpoint_every == 0]
        last = self._appended[-1] if self._appended else None
        self._appended = []
        if due and last is not None:
            self.write_checkpoint(last[0], last[1])

    def write_checkpoint(self, entries: int, head: str) -> None:
        """Record ``entries``/``head`` outside the database, unless the file there disagrees with it.

        A checkpoint naming another store, more entries or another hash is evidence; it is kept
        (and reported by ``audit verify``) rather than overwritten.
        """
        store_id = self._meta("store_id") or ""
        try:
            stored = checkpoint.read(self.checkpoint_file, self.key)
            if stored is not None and not self._continues(stored, entries):
                log.warning("audit checkpoint %s disagrees with the database; kept as it is", self.checkpoint_file)
                return
            checkpoint.write(
                self.checkpoint_file,
                self.key,
                checkpoint.Checkpoint(str(self.path.resolve()), store_id, entries, head, audit.now_utc()),
            )
        except OSError as exc:  # the decision is committed; a missing checkpoint is reported by verify
            log.warning("audit checkpoint %s not written: %s", self.checkpoint_file, exc)

    def _continues(self, stored: checkpoint.StoredCheckpoint, entries: int) -> bool:
        old = stored.checkpoint
        if not stored.authentic or old.store_id != self.store_id or old.entries > entries:
            return False
        row = self.db.execute("SELECT hash FROM audit WHERE seq = ?", (old.entries,)).fetchone()
        return row is not None and row[0] == old.head

    # -- the rest --------------------------------------------------------------------------------

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify_audit(self, model_dirs: Sequence[Path] = ()) -> ChainReport:
        """Check the chain, keys, facts, checkpoint and (given ``model_dirs``) the models of every run."""
        from meddiag_desktop.review.verify import verify_store

        return verify_store(self, model_dirs)

    def export_audit_csv(self, path: Path) -> int:
        return audit.export_csv(self.db, path)


def _refuse_inside(config_dir: Path, database: Path) -> None:
    """The key beside the database would protect nothing against whoever can copy the folder."""
    if config_dir.resolve().is_relative_to(database.parent.resolve()):
        raise AuditKeyError(
            f"The audit key folder {config_dir} is inside the data folder {database.parent}; "
            "set MEDDIAG_CONFIG_DIR (or the config folder) to a folder outside it."
        )
