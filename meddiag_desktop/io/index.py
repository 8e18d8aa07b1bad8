"""The persistent study index: a SQLite database of patients, studies, series and instances.

One ``SeriesIndex`` owns one connection; open one per thread. Patient identity is kept
here (the browser needs it) and nowhere else: it is never logged.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from pathlib import PurePath
from typing import TYPE_CHECKING

from meddiag_desktop.core.records import (
    RESULT_KINDS,
    InstanceRecord,
    ObjectKind,
    PatientRecord,
    ScanProblem,
    SeriesRecord,
    StudyRecord,
)
from meddiag_desktop.errors import StudyIndexError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from pathlib import Path

SCHEMA_VERSION = 3
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
_NOT_PLAIN = "GLOB '*[^ -~]*'"  # holds a character outside printable ASCII (UTF-8 letters, ISO 2022 escapes)
_NOT_PLAIN_SERIES = (
    "SELECT s.series_uid FROM series s JOIN studies st ON st.study_uid = s.study_uid"
    " JOIN patients p ON p.key = st.patient_key WHERE "
    + " OR ".join(
        f"{column} {_NOT_PLAIN}"
        for column in ("p.patient_id", "p.name", "st.description", "st.accession", "s.description", "s.manufacturer")
    )
)
_MIGRATIONS = {
    # 1 -> 2: RT Structure Sets get their own kind (they were "other"), so the browser lists them as results.
    1: (
        f"UPDATE instances SET kind='rtstruct' WHERE sop_class='{RTSTRUCT_CLASS}'",
        "UPDATE series SET kind='rtstruct' WHERE kind='other'"
        " AND series_uid IN (SELECT series_uid FROM instances WHERE kind='rtstruct')",
    ),
    # 2 -> 3: text is decoded with the Specific Character Set (it was Latin-1), and Float Pixel Data is no
    # longer read as integers. The rows that may hold either stay listed but are marked stale (no file has
    # mtime -1), so the next scan re-reads them and refreshes their names; until then float pixels are left
    # to pydicom rather than read as integers.
    2: (
        f"UPDATE instances SET mtime_ns = -1 WHERE series_uid IN ({_NOT_PLAIN_SERIES})",
        "UPDATE instances SET mtime_ns = -1, pixel_offset = -2"  # -2: instance_parse.PYDICOM_DECODES
        " WHERE bits_allocated IN (32, 64) AND pixel_offset > 0",
    ),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patients (
    key INTEGER PRIMARY KEY, patient_id TEXT NOT NULL, name TEXT NOT NULL,
    birth_date TEXT NOT NULL, sex TEXT NOT NULL,
    UNIQUE (patient_id, name, birth_date));
CREATE TABLE IF NOT EXISTS studies (
    study_uid TEXT PRIMARY KEY, patient_key INTEGER NOT NULL REFERENCES patients(key),
    date TEXT NOT NULL, time TEXT NOT NULL, description TEXT NOT NULL, accession TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    series_uid TEXT PRIMARY KEY, study_uid TEXT NOT NULL REFERENCES studies(study_uid),
    modality TEXT NOT NULL, number INTEGER, description TEXT NOT NULL,
    manufacturer TEXT NOT NULL, frame_of_reference_uid TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sop_uid TEXT NOT NULL, sop_class TEXT NOT NULL, series_uid TEXT NOT NULL,
    transfer_syntax TEXT NOT NULL, kind TEXT NOT NULL, instance_number INTEGER,
    rows INTEGER, columns INTEGER, frames INTEGER, samples INTEGER, bits_allocated INTEGER,
    bits_stored INTEGER, pixel_representation INTEGER, photometric TEXT, planar_configuration INTEGER,
    rescale_slope REAL, rescale_intercept REAL, position TEXT, orientation TEXT, pixel_spacing TEXT,
    slice_thickness REAL, gantry_tilt REAL, window_center TEXT, window_width TEXT, image_type TEXT,
    pixel_offset INTEGER, pixel_length INTEGER);
CREATE INDEX IF NOT EXISTS instances_by_series ON instances(series_uid);
CREATE TABLE IF NOT EXISTS problems (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, reason TEXT NOT NULL);
"""

_INSTANCE_COLUMNS = (
    "path, size, mtime_ns, sop_uid, sop_class, series_uid, transfer_syntax, kind, instance_number, "
    "rows, columns, frames, samples, bits_allocated, bits_stored, pixel_representation, photometric, "
    "planar_configuration, rescale_slope, rescale_intercept, position, orientation, pixel_spacing, "
    "slice_thickness, gantry_tilt, window_center, window_width, image_type, pixel_offset, pixel_length"
)


class StudyContext:
    """Patient/study/series values of one instance, stored alongside it."""

    __slots__ = ("patient", "series", "study")

    def __init__(self, patient: tuple[str, str, str, str], study: tuple[str, ...], series: tuple[object, ...]) -> None:
        self.patient = patient  # (patient_id, name, birth_date, sex)
        self.study = study  # (study_uid, date, time, description, accession)
        self.series = series  # (series_uid, modality, number, description, manufacturer, for_uid, kind)


class SeriesIndex:
    """Read and write the index database at ``path``."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=timeout)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise StudyIndexError(f"The study index at {path} cannot be opened: {_reason(exc, timeout)}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SeriesIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction; SQLite errors (a lock held past the timeout, a full disk) become typed."""
        try:
            with self._db:
                yield
        except sqlite3.OperationalError as exc:
            reason = _reason(exc, self.timeout)
            raise StudyIndexError(f"The study index at {self.path} cannot be written: {reason}") from exc

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            with self._db:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            return
        version = int(row[0])
        while version in _MIGRATIONS:
            with self._db:
                for statement in _MIGRATIONS[version]:
                    self._db.execute(statement)
                version += 1
                self._db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(version),))
        if version != SCHEMA_VERSION:
            raise StudyIndexError(f"The study index at {self.path} was written by another version.")

    # -- writing ---------------------------------------------------------------------------

    def file_stamps(self, paths_under: str) -> dict[str, tuple[int, int]]:
        """``path -> (size, mtime_ns)`` for every indexed file below a folder (exact prefix, see ``_below``)."""
        stamps: dict[str, tuple[int, int]] = {}
        with self._transaction():
            for table in ("instances", "problems"):
                query = f"SELECT path, size, mtime_ns FROM {table} WHERE path >= ? AND path < ?"
                for path, size, mtime in self._db.execute(query, _below(paths_under)):
                    stamps[path] = (size, mtime)
        return stamps

    def store(
        self,
        instances: Sequence[tuple[InstanceRecord, StudyContext]],
        problems: Sequence[tuple[ScanProblem, int, int]],
    ) -> None:
        """Insert or replace a batch in one transaction."""
        with self._transaction():
            for record, context in instances:
                self._store_context(context)
                self._db.execute("DELETE FROM problems WHERE path=?", (record.path,))
                self._db.execute(
                    f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) VALUES ({','.join('?' * 30)})",
                    _instance_row(record),
                )
            for problem, size, mtime in problems:
                self._db.execute("DELETE FROM instances WHERE path=?", (problem.path,))
                self._db.execute(
                    "INSERT OR REPLACE INTO problems VALUES (?, ?, ?, ?)",
                    (problem.path, size, mtime, problem.reason),
                )
            self._prune()

    def _prune(self) -> None:
        """Drop the series, studies and patients no file refers to any more."""
        self._db.execute("DELETE FROM series WHERE series_uid NOT IN (SELECT series_uid FROM instances)")
        self._db.execute("DELETE FROM studies WHERE study_uid NOT IN (SELECT study_uid FROM series)")
        self._db.execute("DELETE FROM patients WHERE key NOT IN (SELECT patient_key FROM studies)")

    def _store_context(self, context: StudyContext) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO patients (patient_id, name, birth_date, sex) VALUES (?,?,?,?)", context.patient
        )
        key = self._db.execute(
            "SELECT key FROM patients WHERE patient_id=? AND name=? AND birth_date=?", context.patient[:3]
        ).fetchone()[0]
        # The last file read refreshes the study's and series' text: a re-read after a reader fix (or an
        # edited file) must not keep what an older reader stored.
        self._db.execute(
            "INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (study_uid) DO UPDATE SET"
            " patient_key=excluded.patient_key, date=excluded.date, time=excluded.time,"
            " description=excluded.description, accession=excluded.accession",
            (context.study[0], key, *context.study[1:]),
        )
        self._db.execute(
            "INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series_uid) DO UPDATE SET"
            " description=excluded.description, manufacturer=excluded.manufacturer",
            (context.series[0], context.study[0], *context.series[1:]),
        )

    def remove(self, paths: Iterable[str]) -> None:
        """Forget files that no longer exist, and any series/study/patient left empty."""
        with self._transaction():
            for path in paths:
                self._db.execute("DELETE FROM instances WHERE path=?", (path,))
                self._db.execute("DELETE FROM problems WHERE path=?", (path,))
            self._prune()

    # -- reading ---------------------------------------------------------------------------

    def patients(self) -> list[PatientRecord]:
        rows = self._db.execute("SELECT key, patient_id, name, birth_date, sex FROM patients ORDER BY name, patient_id")
        return [PatientRecord(*row) for row in rows]

    def studies(self, patient_key: int | None = None) -> list[StudyRecord]:
        query = "SELECT study_uid, patient_key, date, time, description, accession FROM studies"
        args: tuple[object, ...] = ()
        if patient_key is not None:
            query, args = query + " WHERE patient_key=?", (patient_key,)
        return [StudyRecord(*row) for row in self._db.execute(query + " ORDER BY date, time", args)]

    def series(self, study_uid: str | None = None) -> list[SeriesRecord]:
        if study_uid is None:
            return self._series_where("", ())
        return self._series_where("WHERE s.study_uid = ?", (study_uid,))

    def find_series(self, uid_or_prefix: str) -> SeriesRecord:
        """The one series whose UID equals or starts with ``uid_or_prefix`` (an indexed lookup)."""
        matches = self._series_where("WHERE substr(s.series_uid, 1, ?) = ?", (len(uid_or_prefix), uid_or_prefix))
        exact = [s for s in matches if s.series_instance_uid == uid_or_prefix]
        if exact or len(matches) == 1:
            return (exact or matches)[0]
        if not matches:
            raise StudyIndexError(f"No indexed series has a UID starting with {uid_or_prefix!r}.")
        raise StudyIndexError(f"{len(matches)} series match {uid_or_prefix!r}; give more of the UID.")

    def series_by_uid(self, series_uid: str) -> SeriesRecord | None:
        """The series with exactly this UID, ``None`` when it is not indexed."""
        found = self._series_where("WHERE s.series_uid = ?", (series_uid,))
        return found[0] if found else None

    def _series_where(self, where: str, args: tuple[object, ...]) -> list[SeriesRecord]:
        query = (
            "SELECT s.series_uid, s.study_uid, s.modality, s.number, s.description, s.manufacturer,"
            " s.frame_of_reference_uid, s.kind, COUNT(i.path), COALESCE(SUM(i.frames), 0)"
            f" FROM series s JOIN instances i ON i.series_uid = s.series_uid {where}"
            " GROUP BY s.series_uid ORDER BY s.study_uid, s.number, s.description"
        )
        return [_series_record(row) for row in self._db.execute(query, args)]

    def instances(self, series_uid: str) -> list[InstanceRecord]:
        query = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE series_uid=?"
        return [_instance_record(row) for row in self._db.execute(query, (series_uid,))]

    def result_instances(self, kinds: Iterable[ObjectKind] = RESULT_KINDS) -> list[tuple[str, InstanceRecord]]:
        """``(study UID, instance)`` of every indexed result object (SEG, SR, RT Structure Set).

        Listed per instance, not per series: some writers put an SR into its image series.
        """
        names = sorted(kind.value for kind in kinds)
        query = (
            f"SELECT s.study_uid, {', '.join('i.' + c.strip() for c in _INSTANCE_COLUMNS.split(','))}"
            " FROM instances i JOIN series s ON s.series_uid = i.series_uid"
            f" WHERE i.kind IN ({','.join('?' * len(names))}) ORDER BY s.study_uid, i.kind, i.path"
        )
        return [(str(row[0]), _instance_record(row[1:])) for row in self._db.execute(query, names)]

    def problems(self, paths_under: str | None = None) -> list[ScanProblem]:
        if paths_under is None:
            rows = self._db.execute("SELECT path, reason FROM problems ORDER BY path")
        else:
            rows = self._db.execute(
                "SELECT path, reason FROM problems WHERE path >= ? AND path < ? ORDER BY path", _below(paths_under)
            )
        return [ScanProblem(*row) for row in rows]

    def series_uids_under(self, folder: str) -> frozenset[str]:
        """UIDs of the series with at least one file below ``folder`` (the browser lists them first)."""
        query = "SELECT DISTINCT series_uid FROM instances WHERE path >= ? AND path < ?"
        return frozenset(str(row[0]) for row in self._db.execute(query, _below(folder)))

    def study_of_series(self, series_uid: str) -> tuple[StudyRecord, PatientRecord]:
        with closing(self._db.cursor()) as cursor:
            row = cursor.execute(
                "SELECT st.study_uid, st.patient_key, st.date, st.time, st.description, st.accession,"
                " p.key, p.patient_id, p.name, p.birth_date, p.sex FROM series s"
                " JOIN studies st ON st.study_uid = s.study_uid JOIN patients p ON p.key = st.patient_key"
                " WHERE s.series_uid=?",
                (series_uid,),
            ).fetchone()
        if row is None:
            raise StudyIndexError(f"Series {series_uid} is not in the index.")
        return StudyRecord(*row[:6]), PatientRecord(*row[6:])


def _reason(exc: sqlite3.Error, timeout: float) -> str:
    if "locked" in str(exc) or "busy" in str(exc):
        return (
            f"another program (another MedDiag window or scan?) has held it locked for over {timeout:g} s; "
            "try again when it has finished"
        )
    return str(exc)


def _below(folder: str) -> tuple[str, str]:
    """Bounds ``[low, high)`` of every path strictly below ``folder``, for a range query on ``path``.

    ``low`` is the folder and its separator (from pathlib, so ``\\`` on Windows), ``high`` the same
    with the separator's next code point. SQLite compares TEXT byte-wise (BINARY collation), so
    the range holds exactly the paths that start with ``low``: case-sensitive, with no wildcard
    (``LIKE`` let ``case_b`` match the sibling ``caseXb`` and ``CASE_B``), and it uses the
    primary-key index.
    """
    low = str(PurePath(folder, "x"))[:-1]  # "/a/b" -> "/a/b/", "/" -> "/", "C:\\" -> "C:\\"
    return low, low[:-1] + chr(ord(low[-1]) + 1)


def _join(values: tuple[float, ...] | None) -> str | None:
    return None if values is None else "\\".join(repr(v) for v in values)


def _split(text: str | None) -> tuple[float, ...] | None:
    return None if text is None else tuple(float(v) for v in text.split("\\"))


def _instance_row(r: InstanceRecord) -> tuple[object, ...]:
    return (
        r.path, r.size, r.mtime_ns, r.sop_instance_uid, r.sop_class_uid, r.series_instance_uid,
        r.transfer_syntax_uid, r.kind.value, r.instance_number, r.rows, r.columns, r.frames,
        r.samples_per_pixel, r.bits_allocated, r.bits_stored, r.pixel_representation, r.photometric,
        r.planar_configuration, r.rescale_slope, r.rescale_intercept, _join(r.position),
        _join(r.orientation), _join(r.pixel_spacing), r.slice_thickness, r.gantry_tilt,
        r.window_center, r.window_width, r.image_type, r.pixel_offset, r.pixel_length,
    )  # fmt: skip


def _instance_record(row: tuple[object, ...]) -> InstanceRecord:
    values = list(row)
    values[7] = ObjectKind(values[7])
    for i in (20, 21, 22):
        values[i] = _split(values[i])  # type: ignore[arg-type]
    return InstanceRecord(*values)  # type: ignore[arg-type]


def _series_record(row: tuple[object, ...]) -> SeriesRecord:
    values = list(row)
    values[7] = ObjectKind(values[7])
    return SeriesRecord(*values)  # type: ignore[arg-type]
