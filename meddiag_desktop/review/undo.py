"""Taking back a decision before sign-off, without deleting anything.

An undo is its own append-only row (table ``undos``) naming the decision row it takes back and,
for an edit or a drawn lesion, the mask row written with it. Restoring a review skips the rows
an undo names, so the finding shows what it showed before that decision. Undos go backwards
through the open version's decisions, newest first; a signed version has nothing to undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.facts import FactRef

if TYPE_CHECKING:
    import sqlite3

UNDO_EVENT = "decision_undone"


@dataclass(frozen=True)
class Undoable:
    """The newest decision of a version that no undo names yet."""

    decision_seq: int
    finding_id: str
    decision: str  # the Decision's value: accepted, rejected, edited, added
    time_utc: str
    mask_seq: int | None  # the mask row written with an edit or a drawn lesion
    mask_version: int | None


@dataclass(frozen=True)
class Undone:
    """What restore leaves out: decision rows and mask rows taken back by an undo."""

    decisions: frozenset[int]
    masks: frozenset[int]


def undone_rows(db: sqlite3.Connection, review_id: int) -> Undone:
    rows = db.execute("SELECT decision_seq, mask_seq FROM undos WHERE review_id = ?", (review_id,)).fetchall()
    return Undone(frozenset(int(d) for d, _ in rows), frozenset(int(m) for _, m in rows if m is not None))


def last_undoable(db: sqlite3.Connection, review_id: int, version: int) -> Undoable:
    """The decision an undo would take back now; ``ReviewStateError`` (saying why) when there is none."""
    row = db.execute(
        "SELECT seq, finding_id, decision, time_utc FROM decisions WHERE review_id = ? AND version = ?"
        " AND seq NOT IN (SELECT decision_seq FROM undos) ORDER BY seq DESC LIMIT 1",
        (review_id, version),
    ).fetchone()
    if row is None:
        raise ReviewStateError("Nothing to undo: no decision of this review version is left to take back.")
    seq, finding_id, decision, time_utc = int(row[0]), str(row[1]), str(row[2]), str(row[3])
    _refuse_before_reveal(db, review_id, version, finding_id, time_utc)
    mask = _mask_of(db, review_id, version, finding_id) if decision in ("edited", "added") else None
    return Undoable(seq, finding_id, decision, time_utc, *(mask or (None, None)))


def _mask_of(db: sqlite3.Connection, review_id: int, version: int, finding_id: str) -> tuple[int, int] | None:
    """The mask row of the newest edit: undos go newest first, so later masks of the finding are undone already."""
    row = db.execute(
        "SELECT seq, mask_version FROM mask_edits WHERE review_id = ? AND version = ? AND finding_id = ?"
        " AND seq NOT IN (SELECT mask_seq FROM undos WHERE mask_seq IS NOT NULL) ORDER BY seq DESC LIMIT 1",
        (review_id, version, finding_id),
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def _refuse_before_reveal(db: sqlite3.Connection, review_id: int, version: int, finding_id: str, at: str) -> None:
    """What the radiologist found before the AI was revealed is the read-first record: it stays."""
    reveal = db.execute("SELECT time_utc FROM reveals WHERE review_id = ? AND version = ?",
                        (review_id, version)).fetchone()  # fmt: skip
    if reveal is not None and at <= str(reveal[0]):
        raise ReviewStateError(
            f"Nothing more to undo: {finding_id} was decided before the AI was revealed, and what you found "
            "before the reveal is kept as your independent read."
        )


def write_undo(db: sqlite3.Connection, review_id: int, version: int, target: Undoable, os_user: str) -> FactRef:
    cursor = db.execute(
        "INSERT INTO undos (review_id, version, finding_id, decision_seq, mask_seq, time_utc, os_user)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (review_id, version, target.finding_id, target.decision_seq, target.mask_seq, audit.now_utc(), os_user),
    )
    return FactRef.of("undo", int(cursor.lastrowid or 0))


def undo_details(target: Undoable, now: str) -> dict[str, object]:
    """The audit entry's details: what was undone (decision row, mask version) and what the finding shows now."""
    details: dict[str, object] = {"undone": target.decision, "decision": target.decision_seq, "now": now}
    if target.mask_version is not None:
        details["mask_version"] = target.mask_version
    return details
