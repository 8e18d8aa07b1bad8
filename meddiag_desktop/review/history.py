"""A review's history: every version, AI run, decision, class recomputed, undo, reveal and sign-off, with who and when.

Read from the fact tables (each row sealed by its audit entry); nothing here writes.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3


class HistoryKind(enum.Enum):
    VERSION = "version"
    RUN = "AI run"
    READING = "read first"
    REVEAL = "AI revealed"
    MASK = "mask"  # before the decision written with it (same time)
    DECISION = "decision"
    CLASS = "class"  # the class of an edited mask, written after the edit
    UNDO = "undo"
    SIGNOFF = "sign-off"


@dataclass(frozen=True)
class HistoryItem:
    """One line of the history. ``signed_version`` is set on a sign-off (it can be opened read-only)."""

    time_utc: str
    version: int
    kind: HistoryKind
    what: str
    who: str
    signed_version: int = 0


def review_history(db: sqlite3.Connection, review_id: int) -> list[HistoryItem]:
    """Every event of ``review_id`` in time order (ties: in the order they were written)."""
    items = [*_versions(db, review_id), *_runs(db, review_id), *_readings(db, review_id), *_work(db, review_id)]
    order = list(HistoryKind)
    return sorted(items, key=lambda i: (i.time_utc, i.version, order.index(i.kind)))


def _versions(db: sqlite3.Connection, review_id: int) -> list[HistoryItem]:
    out = []
    for version, opened, by, reason, signed, user, name in db.execute(
        "SELECT version, opened_utc, opened_by, amendment_reason, signed_utc, signed_by_user, signed_by_name"
        " FROM review_versions WHERE review_id = ? ORDER BY version",
        (review_id,),
    ):
        what = f"amendment opened: {reason}" if version > 1 else "review opened"
        out.append(HistoryItem(opened, version, HistoryKind.VERSION, what, by))
        if signed:
            who = f"{name} ({user})" if name else user
            out.append(HistoryItem(signed, version, HistoryKind.SIGNOFF, f"version {version} signed off", who, version))
    return out


def _runs(db: sqlite3.Connection, review_id: int) -> list[HistoryItem]:
    rows = db.execute(
        "SELECT 1, a.created_utc, a.run_id, a.model_ref, '' FROM reviews r JOIN ai_runs a ON a.run_id = r.run_id"
        " WHERE r.review_id = ?"
        " UNION ALL SELECT v.version, a.created_utc, a.run_id, a.model_ref, v.os_user FROM version_runs v"
        " JOIN ai_runs a ON a.run_id = v.run_id WHERE v.review_id = ?",
        (review_id, review_id),
    )
    return [
        HistoryItem(created, version, HistoryKind.RUN, f"AI run {run_id[:8]} ({_models(ref)})", who or "AI")
        for version, created, run_id, ref, who in rows
    ]


def _readings(db: sqlite3.Connection, review_id: int) -> list[HistoryItem]:
    out = [
        HistoryItem(t, v, HistoryKind.READING, "read first: AI findings hidden until revealed", who)
        for v, t, who in db.execute("SELECT version, time_utc, os_user FROM readings WHERE review_id = ?", (review_id,))
    ]
    for version, time_utc, who in db.execute(
        "SELECT version, time_utc, os_user FROM reveals WHERE review_id = ?", (review_id,)
    ):
        counts = dict(
            db.execute(
                "SELECT outcome, COUNT(*) FROM reading_outcomes WHERE review_id = ? AND version = ? GROUP BY outcome",
                (review_id, version),
            ).fetchall()
        )
        what = (
            f"AI revealed: {counts.get('independent', 0)} found independently, "
            f"{counts.get('ai_missed', 0)} missed by the AI, {counts.get('ai_only', 0)} found by the AI only"
        )
        out.append(HistoryItem(time_utc, version, HistoryKind.REVEAL, what, who))
    return out


def _work(db: sqlite3.Connection, review_id: int) -> list[HistoryItem]:
    out = []
    for version, fid, decision, reason, note, time_utc, who in db.execute(
        "SELECT version, finding_id, decision, reason, note, time_utc, os_user FROM decisions WHERE review_id = ?",
        (review_id,),
    ):
        why = f" ({reason}{': ' + note if note else ''})" if reason else ""
        out.append(HistoryItem(time_utc, version, HistoryKind.DECISION, f"{fid} {decision}{why}", who))
    for version, fid, mask_version, time_utc, who in db.execute(
        "SELECT version, finding_id, mask_version, time_utc, os_user FROM mask_edits WHERE review_id = ?", (review_id,)
    ):
        what = f"{fid} drawn" if mask_version == 0 else f"{fid} mask version {mask_version} saved"
        out.append(HistoryItem(time_utc, version, HistoryKind.MASK, what, who))
    for version, fid, decision, mask_version, time_utc, who in db.execute(
        "SELECT u.version, u.finding_id, d.decision, m.mask_version, u.time_utc, u.os_user FROM undos u"
        " JOIN decisions d ON d.seq = u.decision_seq LEFT JOIN mask_edits m ON m.seq = u.mask_seq"
        " WHERE u.review_id = ?",
        (review_id,),
    ):
        mask = f", mask version {mask_version} set aside" if mask_version else ""
        out.append(HistoryItem(time_utc, version, HistoryKind.UNDO, f"{fid} {decision} undone{mask}", who))
    return out + _classes(db, review_id)


def _classes(db: sqlite3.Connection, review_id: int) -> list[HistoryItem]:
    out = []
    for version, fid, mask_version, status, probabilities, time_utc, who in db.execute(
        "SELECT version, finding_id, mask_version, status, class_probabilities, time_utc, os_user"
        " FROM reclassifications WHERE review_id = ?",
        (review_id,),
    ):
        shown = json.loads(probabilities)
        top = max(shown, key=lambda name: shown[name]) if shown else ""
        what = f"{top} {shown[top]:.2f}, recomputed" if top else status
        what = f"{fid} class {what} (mask version {mask_version})"
        out.append(HistoryItem(time_utc, version, HistoryKind.CLASS, what, who))
    return out


def _models(model_ref: str) -> str:
    """'lung-nodule-seg 1.0.0, lung-lesion-cls 1.0.0' from a run's model reference."""
    names = [part.split("#", 1)[0].replace("@", " ") for part in model_ref.split(";") if part.strip()]
    return ", ".join(n.strip() for n in names)
