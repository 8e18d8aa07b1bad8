"""The viewer's measurements of a series, kept in the review store: they are part of the record.

Each change (added, edited, deleted) is its own append-only row sealed by an audit entry
(``measurement_added`` / ``_edited`` / ``_deleted``), so ``audit verify`` names a row changed
behind the app's back. A series' current measurements are the newest row of each number, unless
that row is a deletion. Points are the viewer's display millimetres on one plane and slice.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from meddiag_desktop.core.window_level import RegionStats
from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.facts import FactRef

if TYPE_CHECKING:
    import sqlite3

    from meddiag_desktop.review.service import ReviewService

KINDS = frozenset({"length", "ellipse", "rectangle"})
PLANES = frozenset({"axial", "coronal", "sagittal"})


class MeasurementAction(enum.Enum):
    ADDED = "added"
    EDITED = "edited"
    DELETED = "deleted"

    @property
    def event(self) -> str:
        return f"measurement_{self.value}"


@dataclass(frozen=True)
class MeasurementRecord:
    """One measurement as stored: ``p0``/``p1`` are line ends or box corners in display mm."""

    number: int
    kind: str
    plane: str
    slice_index: int
    p0: tuple[float, float]
    p1: tuple[float, float]
    units: str = ""
    stats: RegionStats | None = None

    def __post_init__(self) -> None:
        if self.number < 1 or self.kind not in KINDS or self.plane not in PLANES or self.slice_index < 0:
            raise ReviewStateError(
                f"Measurement {self.number} cannot be stored: a {self.kind!r} on plane {self.plane!r}, "
                f"slice {self.slice_index} is not a measurement the viewer makes."
            )
        if not all(math.isfinite(v) for v in (*self.p0, *self.p1)):
            raise ReviewStateError(f"Measurement {self.number} has a point outside the image (not a number).")

    @property
    def length_mm(self) -> float:
        return math.dist(self.p0, self.p1)

    def label(self) -> str:
        """One line for the findings panel, e.g. ``M1 length 23.4 mm, axial slice 57``."""
        where = f"{self.plane} slice {self.slice_index + 1}"
        if self.kind == "length":
            return f"M{self.number} length {self.length_mm:.1f} mm, {where}"
        if self.stats is None or self.stats.count == 0:
            return f"M{self.number} {self.kind} (empty), {where}"
        unit = f" {self.units}" if self.units else ""
        return f"M{self.number} {self.kind} mean {self.stats.mean:.1f}{unit}, {self.stats.area_mm2:.0f} mm², {where}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> MeasurementRecord:
        raw = json.loads(text)
        stats = RegionStats(**raw["stats"]) if raw.get("stats") else None
        return cls(int(raw["number"]), str(raw["kind"]), str(raw["plane"]), int(raw["slice_index"]),
                   _point(raw["p0"]), _point(raw["p1"]), str(raw.get("units", "")), stats)  # fmt: skip


def _point(values: Any) -> tuple[float, float]:
    x, y = values
    return float(x), float(y)


def record_change(service: ReviewService, series_uid: str, study_uid: str, action: MeasurementAction,
                  record: MeasurementRecord) -> int:  # fmt: skip
    """Store one change of ``record`` and its audit entry atomically; returns the change's row number."""
    if not series_uid:
        raise ReviewStateError("A measurement can only be stored with a series; open one first.")
    with service.store.transaction() as db:
        seq = int(
            db.execute(
                "INSERT INTO measurements (series_uid, study_uid, number, action, data, time_utc, os_user)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (series_uid, study_uid, record.number, action.value, record.to_json(), audit.now_utc(),
                 service.actor.os_user),
            ).lastrowid or 0
        )  # fmt: skip
        event = audit.AuditEvent(action.event, study_uid, series_uid, details=_details(record),
                                 facts=(FactRef.of("measurement", seq),))  # fmt: skip
        service.store.append_audit(db, service.actor, event)
    return seq


def _details(record: MeasurementRecord) -> dict[str, Any]:
    details: dict[str, Any] = {"number": record.number, "kind": record.kind, "plane": record.plane,
                               "slice": record.slice_index + 1}  # fmt: skip
    if record.kind == "length":
        details["length_mm"] = round(record.length_mm, 2)
    elif record.stats is not None:
        details |= {"mean": round(record.stats.mean, 2), "area_mm2": round(record.stats.area_mm2, 2)}
    return details


def series_measurements(db: sqlite3.Connection, series_uid: str) -> list[MeasurementRecord]:
    """The series' current measurements by number (the newest change of each, deletions left out)."""
    newest: dict[int, tuple[str, str]] = {}
    for number, action, data in db.execute(
        "SELECT number, action, data FROM measurements WHERE series_uid = ? ORDER BY seq", (series_uid,)
    ):
        newest[int(number)] = (str(action), str(data))
    try:
        return [MeasurementRecord.from_json(data) for _, (action, data) in sorted(newest.items())
                if action != MeasurementAction.DELETED.value]  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ReviewStateError(f"A stored measurement of this series cannot be read ({exc}).") from exc


def highest_number(db: sqlite3.Connection, series_uid: str) -> int:
    """The highest measurement number the series ever had (deleted ones included: numbers are not reused)."""
    row = db.execute("SELECT MAX(number) FROM measurements WHERE series_uid = ?", (series_uid,)).fetchone()
    return int(row[0] or 0)
