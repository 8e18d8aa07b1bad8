"""The batch results store: one SQLite file in the results folder, written by the client only.

One row per analysed (or refused) series, keyed by series UID + input pixel sha256 + model
sha256s (``task.result_key``); a failure has its own row, replaced once the series succeeds.
Each row is committed as it arrives, so a killed batch keeps everything it had received. Rows
hold the subgroup header fields (never the patient's name, ID or birth date).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meddiag_desktop.batch.outcome import OutcomeStatus
from meddiag_desktop.errors import MeddiagError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from meddiag_desktop.batch.jobs import SeriesJob
    from meddiag_desktop.batch.models import ModelPin
    from meddiag_desktop.batch.outcome import SeriesOutcome

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started_utc TEXT NOT NULL, finished_utc TEXT,
    model_ref TEXT NOT NULL, cluster TEXT NOT NULL, series INTEGER NOT NULL, skipped INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    key TEXT PRIMARY KEY, series_uid TEXT NOT NULL, study_uid TEXT NOT NULL, folder TEXT NOT NULL,
    files_sha256 TEXT NOT NULL, pixel_sha256 TEXT NOT NULL, model_sha256 TEXT NOT NULL, model_ref TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT NOT NULL, slices INTEGER NOT NULL, finding_count INTEGER NOT NULL,
    findings TEXT NOT NULL, warnings TEXT NOT NULL, exported TEXT NOT NULL, seconds REAL NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id), finished_utc TEXT NOT NULL,
    sex TEXT NOT NULL, age_years REAL, manufacturer TEXT NOT NULL, model_name TEXT NOT NULL, kernel TEXT NOT NULL,
    slice_thickness_mm REAL, contrast INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS studies_by_series ON studies(series_uid, model_sha256);
"""
_DONE = (OutcomeStatus.ANALYSED.value, OutcomeStatus.NOT_ANALYSED.value)
_IS_DONE = "model_sha256=? AND status IN (?, ?)"
_COLUMNS = (
    "key, series_uid, study_uid, folder, files_sha256, pixel_sha256, model_sha256, model_ref, status, message, "
    "slices, finding_count, findings, warnings, exported, seconds, run_id, finished_utc, sex, age_years, "
    "manufacturer, model_name, kernel, slice_thickness_mm, contrast"
)


class ResultsStoreError(MeddiagError):
    """The results store cannot be opened or written."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def failure_key(series_uid: str, files_sha256: str, pin: ModelPin) -> str:
    """A failed series has no pixel hash; its row is named by its files and the models."""
    return "failed-" + hashlib.sha256(f"{series_uid}\n{files_sha256}\n{pin.sha256}".encode()).hexdigest()


class ResultsStore:
    """Read and write ``<results dir>/results.sqlite``. Use from one thread of one process."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STORE_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise ResultsStoreError(f"The results store {self.path} cannot be opened: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_version(self) -> None:
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        (version,) = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if int(version) != SCHEMA_VERSION:
            raise ResultsStoreError(f"The results store {self.path} was written by another version.")

    def _write(self, sql: str, args: Sequence[object]) -> sqlite3.Cursor:
        try:
            with self._db:
                return self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise ResultsStoreError(f"The results store {self.path} cannot be written: {exc}") from exc

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, pin: ModelPin, cluster: str, series: int, skipped: int) -> int:
        sql = "INSERT INTO runs (started_utc, model_ref, cluster, series, skipped) VALUES (?, ?, ?, ?, ?)"
        run_id = self._write(sql, (_now(), pin.ref, cluster, series, skipped)).lastrowid
        assert run_id is not None
        return run_id

    def finish_run(self, run_id: int) -> None:
        self._write("UPDATE runs SET finished_utc=? WHERE run_id=?", (_now(), run_id))

    # -- what is done ----------------------------------------------------------------------

    def done_files(self, pin: ModelPin) -> set[tuple[str, str]]:
        """``(series UID, files fingerprint)`` of every lasting result with these models."""
        sql = f"SELECT series_uid, files_sha256 FROM studies WHERE {_IS_DONE}"
        return {(uid, files) for uid, files in self._db.execute(sql, (pin.sha256, *_DONE))}

    def done_keys(self, pin: ModelPin) -> dict[str, frozenset[str]]:
        """Per series UID, the keys of its lasting results with these models (a worker skips those)."""
        sql = f"SELECT series_uid, key FROM studies WHERE {_IS_DONE}"
        out: dict[str, set[str]] = {}
        for uid, key in self._db.execute(sql, (pin.sha256, *_DONE)):
            out.setdefault(uid, set()).add(key)
        return {uid: frozenset(keys) for uid, keys in out.items()}

    # -- recording -------------------------------------------------------------------------

    def record(self, job: SeriesJob, outcome: SeriesOutcome, pin: ModelPin, run_id: int) -> bool:
        """Store one outcome; ``False`` when that analysis was stored already (nothing is stored twice)."""
        if outcome.status is OutcomeStatus.ALREADY_DONE:
            self._write("UPDATE studies SET files_sha256=? WHERE key=?", (job.files_sha256, outcome.key))
            return False
        failed = outcome.status is OutcomeStatus.FAILED
        key = failure_key(job.series_instance_uid, job.files_sha256, pin) if failed or not outcome.key else outcome.key
        row = _row(key, job, outcome, pin, run_id)
        try:
            with self._db:
                if not failed:
                    self._db.execute(
                        "DELETE FROM studies WHERE series_uid=? AND model_sha256=? AND status=?",
                        (job.series_instance_uid, pin.sha256, OutcomeStatus.FAILED.value),
                    )
                verb = "INSERT OR REPLACE" if failed else "INSERT"
                self._db.execute(f"{verb} INTO studies ({_COLUMNS}) VALUES ({','.join('?' * len(row))})", row)
        except sqlite3.IntegrityError:
            return False
        except sqlite3.OperationalError as exc:
            raise ResultsStoreError(f"The results store {self.path} cannot be written: {exc}") from exc
        return True

    # -- reading ---------------------------------------------------------------------------

    def rows(self) -> Iterator[dict[str, Any]]:
        cursor = self._db.execute(f"SELECT {_COLUMNS} FROM studies ORDER BY folder, series_uid")
        names = [d[0] for d in cursor.description]
        for values in cursor:
            yield _record(dict(zip(names, values, strict=True)))

    def runs(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM runs ORDER BY run_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor]


def _row(key: str, job: SeriesJob, outcome: SeriesOutcome, pin: ModelPin, run_id: int) -> tuple[object, ...]:
    h = outcome.header
    exported = [{"kind": o.kind.value, "path": o.path, "sop_uid": o.sop_instance_uid} for o in outcome.exported]
    return (
        key, job.series_instance_uid, job.study_instance_uid, job.folder, job.files_sha256, outcome.pixel_sha256,
        pin.sha256, pin.ref, outcome.status.value, outcome.message, outcome.slices, len(outcome.findings),
        json.dumps([asdict(f) for f in outcome.findings]), json.dumps(list(outcome.warnings)), json.dumps(exported),
        outcome.seconds, run_id, _now(), h.sex, h.age_years, h.manufacturer, h.model_name, h.kernel,
        h.slice_thickness_mm, int(h.contrast),
    )  # fmt: skip


def _record(row: dict[str, Any]) -> dict[str, Any]:
    for name in ("findings", "warnings", "exported"):
        row[name] = json.loads(row[name])
    row["contrast"] = bool(row["contrast"])
    return row


def iter_study_records(results_dir: Path) -> Iterator[dict[str, Any]]:
    """Every stored series of a batch as a plain dict (JSON-ready), ordered by folder.

    Keys: ``key, series_uid, study_uid, folder, status`` (``analysed``, ``not analysed``,
    ``failed``), ``message, slices, finding_count, findings`` (id, volume_ml, long_axis_mm,
    max_prob, score, top_class), ``warnings, exported, model_ref, model_sha256, pixel_sha256,
    files_sha256, seconds, run_id, finished_utc`` and the subgroup fields, named as in
    :class:`~meddiag_desktop.core.subgroups.SubgroupHeader`: ``sex, age_years, manufacturer,
    model_name, kernel, slice_thickness_mm, contrast`` (``""``/``None`` where the header is
    silent), so ``SubgroupHeader(**{f: record[f] for f in fields})`` rebuilds it.

    Raises
    ------
    ResultsStoreError
        ``results_dir`` holds no results store, or it cannot be read.
    """
    if not (results_dir / STORE_NAME).is_file():
        raise ResultsStoreError(f"{results_dir} holds no batch results ({STORE_NAME}).")
    with ResultsStore(results_dir) as store:
        yield from store.rows()
