"""Review operations: each one checks the rules, writes the fact and its audit entry atomically.

The radiologist decides; this module only records, enforces the order of things (no sign-off
while a finding is undecided, nothing changes after sign-off except through an amendment)
and restores the exact state later.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.events import EXPORT_EVENT
from meddiag_desktop.review.facts import FactRef
from meddiag_desktop.review.masks import decode_map, encode_map
from meddiag_desktop.review.model import Decision, RejectReason, ReviewFinding, ReviewState, SignOff
from meddiag_desktop.review.records import (
    AiRun,
    ReviewSummary,
    ReviewVersion,
    RunSummary,
    finding_data,
    finding_from_row,
    finding_mask,
)

if TYPE_CHECKING:
    import sqlite3

    import numpy as np
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.review.events import ExportEvent
    from meddiag_desktop.review.store import ReviewStore


class ReviewService:
    """Review actions by one actor on one store."""

    def __init__(self, store: ReviewStore, actor: audit.Actor) -> None:
        self.store = store
        self.actor = actor

    # -- AI runs -----------------------------------------------------------------------------

    def record_run(self, run: AiRun) -> None:
        """Keep an AI result forever, exactly as produced (idempotent for the same run id)."""
        # Compress before taking the write lock: other app instances wait on it.
        masks = [(finding, finding_data(finding), finding_mask(finding)) for finding in run.findings]
        maps = [(kind, encode_map(values)) for kind, values in run.maps.items()]
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM ai_runs WHERE run_id = ?", (run.run_id,)).fetchone():
                return
            db.execute(
                "INSERT INTO ai_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.run_id, run.series_uid, run.study_uid, audit.now_utc(), run.model_ref,
                 run.input_pixel_sha256, json.dumps(run.provenance, sort_keys=True, default=str)),
            )  # fmt: skip
            for ordinal, (finding, data, mask) in enumerate(masks):
                db.execute(
                    "INSERT INTO ai_findings VALUES (?, ?, ?, ?, ?)", (run.run_id, finding.id, ordinal, data, mask)
                )
            for kind, blob in maps:
                db.execute("INSERT INTO ai_maps VALUES (?, ?, ?)", (run.run_id, kind, blob))
            details = {
                "run_id": run.run_id,
                "findings": len(run.findings),
                "input_pixel_sha256": run.input_pixel_sha256,
            }
            self._audit(db, "ai_run", run.study_uid, run.series_uid, model_ref=run.model_ref, details=details,
                        facts=(FactRef.of("run", run.run_id),))  # fmt: skip

    def runs_for_series(self, series_uid: str) -> list[tuple[str, str, str]]:
        """``(run_id, created_utc, model_ref)`` newest first."""
        rows = self.store.db.execute(
            "SELECT run_id, created_utc, model_ref FROM ai_runs WHERE series_uid = ? ORDER BY created_utc DESC",
            (series_uid,),
        )
        return [tuple(r) for r in rows]

    def run_summary(self, run_id: str) -> RunSummary:
        """The stored run's series, study, models and input hash (no findings)."""
        row = self.store.db.execute(
            "SELECT run_id, series_uid, study_uid, created_utc, model_ref, input_pixel_sha256 FROM ai_runs"
            " WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise ReviewStateError(f"No AI run {run_id} is stored.")
        return RunSummary(*row)

    def run_maps(self, run_id: str) -> dict[str, NDArray[np.float32]]:
        """The run's stored display maps (8-bit precision), e.g. ``{"probability": ...}``."""
        rows = self.store.db.execute("SELECT kind, data FROM ai_maps WHERE run_id = ?", (run_id,))
        return {kind: decode_map(data) for kind, data in rows}

    # -- opening and restoring --------------------------------------------------------------

    def open_review(self, run_id: str) -> ReviewState:
        """The review of an AI run (created on first open). Logs that the study was opened."""
        with self.store.transaction() as db:
            run = db.execute(
                "SELECT series_uid, study_uid, model_ref FROM ai_runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if run is None:
                raise ReviewStateError(f"No AI run {run_id} is stored.")
            series_uid, study_uid, model_ref = run
            row = db.execute(
                "SELECT review_id FROM reviews WHERE series_uid = ? AND run_id = ?", (series_uid, run_id)
            ).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO reviews (series_uid, study_uid, run_id, created_utc) VALUES (?, ?, ?, ?)",
                    (series_uid, study_uid, run_id, audit.now_utc()),
                )
                review_id = int(cursor.lastrowid or 0)
                self._new_version(db, review_id, 1, "")
                refs: tuple[FactRef, ...] = (FactRef.of("review", review_id), FactRef.of("version", review_id, 1))
            else:
                review_id = int(row[0])
                refs = (FactRef.of("review", review_id),)
            self._audit(db, "review_opened", study_uid, series_uid, model_ref=model_ref,
                        details={"run_id": run_id, "review_id": review_id}, facts=refs)  # fmt: skip
        return self.restore(review_id)

    def reviews(self) -> list[ReviewSummary]:
        """Every stored review with its latest version and sign-off, newest first."""
        rows = self.store.db.execute(
            "SELECT r.review_id, r.series_uid, r.study_uid, r.run_id, r.created_utc, v.version, v.signed_utc,"
            " COALESCE(NULLIF(v.signed_by_name, ''), v.signed_by_user, '') FROM reviews r"
            " JOIN review_versions v ON v.review_id = r.review_id"
            " AND v.version = (SELECT MAX(version) FROM review_versions WHERE review_id = r.review_id)"
            " ORDER BY r.created_utc DESC, r.review_id DESC"
        )
        return [ReviewSummary(*row) for row in rows]

    def versions(self, review_id: int) -> list[ReviewVersion]:
        """Every version of a review, oldest first, with its amendment reason and sign-off."""
        rows = self.store.db.execute(
            "SELECT version, opened_utc, opened_by, amendment_reason, signed_utc,"
            " COALESCE(NULLIF(signed_by_name, ''), signed_by_user, '') FROM review_versions"
            " WHERE review_id = ? ORDER BY version",
            (review_id,),
        )
        return [ReviewVersion(*row) for row in rows]

    def restore(self, review_id: int) -> ReviewState:
        """Rebuild the exact state from the stored facts."""
        db = self.store.db
        row = db.execute(
            "SELECT series_uid, study_uid, run_id FROM reviews WHERE review_id = ?", (review_id,)
        ).fetchone()
        if row is None:
            raise ReviewStateError(f"No review {review_id} is stored; `meddiag-desktop export --list` lists them.")
        series_uid, study_uid, run_id = row
        version, reason, signoff = self._latest_version(db, review_id)
        findings = {f.id: ReviewFinding(f) for f in self._ai_findings(db, run_id)}
        for row in db.execute(
            "SELECT finding_id, mask_version, data, mask FROM mask_edits WHERE review_id = ? ORDER BY seq", (review_id,)
        ):
            finding = finding_from_row(row[0], row[2], row[3])
            previous = findings.get(row[0])
            findings[row[0]] = (
                replace(previous, finding=finding, mask_version=row[1])
                if previous
                else ReviewFinding(finding, mask_version=row[1])
            )
        for finding_id, decision, why, note in db.execute(
            "SELECT finding_id, decision, reason, note FROM decisions WHERE review_id = ? ORDER BY seq", (review_id,)
        ):
            findings[finding_id] = findings[finding_id].decided(
                Decision(decision), RejectReason(why) if why else None, note
            )
        return ReviewState(review_id, series_uid, study_uid, run_id, version, tuple(findings.values()), signoff, reason)

    # -- decisions ---------------------------------------------------------------------------

    def accept(self, state: ReviewState, finding_id: str) -> ReviewState:
        return self._decide(state, finding_id, Decision.ACCEPTED, None, "")

    def reject(self, state: ReviewState, finding_id: str, reason: RejectReason, note: str = "") -> ReviewState:
        if reason is RejectReason.OTHER and not note.strip():
            raise ReviewStateError("Please say why the finding is rejected when the reason is 'other'.")
        return self._decide(state, finding_id, Decision.REJECTED, reason, note.strip())

    def edit(self, state: ReviewState, edited: Finding) -> ReviewState:
        """Store a new mask version (the AI's original stays untouched); the finding counts as accepted."""
        current = state.finding(edited.id)
        version = current.mask_version + 1
        with self.store.transaction() as db:
            number = self._assert_open(db, state)
            mask = db.execute(
                "INSERT INTO mask_edits (review_id, version, finding_id, mask_version, data, mask, time_utc, os_user)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (state.review_id, number, edited.id, version, finding_data(edited), finding_mask(edited),
                 audit.now_utc(), self.actor.os_user),
            ).lastrowid  # fmt: skip
            decision = self._write_decision(db, state, number, edited.id, Decision.EDITED, None, "")
            details = {
                "mask_version": version,
                "voxels": int(edited.mask.sum()),
                "volume_ml": round(edited.volume_ml, 3),
            }
            self._audit(db, "finding_edited", state.study_uid, state.series_uid, edited.id, details=details,
                        facts=(FactRef.of("mask", int(mask or 0)), decision))  # fmt: skip
        return self.restore(state.review_id)

    def add(self, state: ReviewState, drawn: Finding) -> ReviewState:
        """A lesion the AI missed, drawn by the radiologist."""
        if drawn.origin != "radiologist":
            raise ReviewStateError("Added findings must have origin 'radiologist'.")
        if any(f.id == drawn.id for f in state.findings):
            raise ReviewStateError(f"Finding {drawn.id} already exists in this review.")
        with self.store.transaction() as db:
            number = self._assert_open(db, state)
            mask = db.execute(
                "INSERT INTO mask_edits (review_id, version, finding_id, mask_version, data, mask, time_utc, os_user)"
                " VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                (state.review_id, number, drawn.id, finding_data(drawn), finding_mask(drawn), audit.now_utc(),
                 self.actor.os_user),
            ).lastrowid  # fmt: skip
            decision = self._write_decision(db, state, number, drawn.id, Decision.ADDED, None, "")
            details = {"voxels": int(drawn.mask.sum()), "volume_ml": round(drawn.volume_ml, 3)}
            self._audit(db, "finding_added", state.study_uid, state.series_uid, drawn.id, details=details,
                        facts=(FactRef.of("mask", int(mask or 0)), decision))  # fmt: skip
        return self.restore(state.review_id)

    def next_added_id(self, state: ReviewState) -> str:
        taken = {f.id for f in state.findings}
        return next(f"R{n}" for n in range(1, len(taken) + 2) if f"R{n}" not in taken)

    def record_event(
        self, state: ReviewState, event: str, finding_id: str = "", details: dict[str, Any] | None = None
    ) -> None:
        """Audit-only events: a finding shown, the confidence threshold changed, an export."""
        with self.store.transaction() as db:
            self._audit(db, event, state.study_uid, state.series_uid, finding_id, details=details)

    def record_export(self, event: ExportEvent) -> None:
        """One audit entry per export (also for an unreviewed AI run, which has no review state)."""
        with self.store.transaction() as db:
            self._audit(db, EXPORT_EVENT, event.study_uid, event.series_uid, model_ref=event.model_ref,
                        details=event.details())  # fmt: skip

    # -- sign-off and amendment --------------------------------------------------------------

    def sign_off(self, state: ReviewState, threshold: float) -> ReviewState:
        with self.store.transaction() as db:
            number = self._assert_open(db, state)
            fresh = self.restore(state.review_id)
            if fresh.undecided:
                raise ReviewStateError(
                    f"{len(fresh.undecided)} findings are not decided yet ({', '.join(fresh.undecided)}); "
                    "accept, reject or edit each before signing off."
                )
            db.execute(
                "UPDATE review_versions SET signed_utc = ?, signed_by_user = ?, signed_by_name = ?, threshold = ?"
                " WHERE review_id = ? AND version = ?",
                (audit.now_utc(), self.actor.os_user, self.actor.display_name, threshold, state.review_id, number),
            )
            summary = {d.value: sum(f.decision is d for f in fresh.findings) for d in Decision if d.decided}
            details = {"version": number, "threshold": threshold, "decisions": summary}
            self._audit(db, "signed_off", state.study_uid, state.series_uid, details=details,
                        facts=(FactRef.of("signoff", state.review_id, number),))  # fmt: skip
        return self.restore(state.review_id)

    def amend(self, state: ReviewState, reason: str) -> ReviewState:
        """Re-open a signed review as a new version; the signed version stays as it was."""
        if not reason.strip():
            raise ReviewStateError("An amendment needs a reason.")
        with self.store.transaction() as db:
            version, _, signoff = self._latest_version(db, state.review_id)
            if signoff is None:
                raise ReviewStateError("This review is not signed off; there is nothing to amend.")
            self._new_version(db, state.review_id, version + 1, reason.strip())
            details = {"version": version + 1, "reason": reason.strip()}
            self._audit(db, "amendment_opened", state.study_uid, state.series_uid, details=details,
                        facts=(FactRef.of("version", state.review_id, version + 1),))  # fmt: skip
        return self.restore(state.review_id)

    # -- helpers ---------------------------------------------------------------------------------

    def _decide(
        self, state: ReviewState, finding_id: str, decision: Decision, reason: RejectReason | None, note: str
    ) -> ReviewState:
        state.finding(finding_id)  # KeyError for an unknown id is a programming error
        with self.store.transaction() as db:
            number = self._assert_open(db, state)
            fact = self._write_decision(db, state, number, finding_id, decision, reason, note)
            details: dict[str, Any] = {"decision": decision.value}
            if reason is not None:
                details |= {"reason": reason.value, "note": note}
            self._audit(db, f"finding_{decision.value}", state.study_uid, state.series_uid, finding_id,
                        details=details, facts=(fact,))  # fmt: skip
        return self.restore(state.review_id)

    def _write_decision(self, db: sqlite3.Connection, state: ReviewState, version: int, finding_id: str,
                        decision: Decision, reason: RejectReason | None, note: str) -> FactRef:  # fmt: skip
        cursor = db.execute(
            "INSERT INTO decisions (review_id, version, finding_id, decision, reason, note, time_utc, os_user)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (state.review_id, version, finding_id, decision.value, reason.value if reason else None, note,
             audit.now_utc(), self.actor.os_user),
        )  # fmt: skip
        return FactRef.of("decision", int(cursor.lastrowid or 0))

    def _assert_open(self, db: sqlite3.Connection, state: ReviewState) -> int:
        """Re-read inside the transaction: another app instance may have signed meanwhile."""
        version, _, signoff = self._latest_version(db, state.review_id)
        if signoff is not None:
            raise ReviewStateError(
                f"This review was signed off by {signoff.display_name or signoff.os_user} at {signoff.time_utc} "
                "and is read-only; open an amendment (with a reason) to change it."
            )
        return version

    def _latest_version(self, db: sqlite3.Connection, review_id: int) -> tuple[int, str, SignOff | None]:
        version, reason, signed, user, name, threshold = db.execute(
            "SELECT version, amendment_reason, signed_utc, signed_by_user, signed_by_name, threshold"
            " FROM review_versions WHERE review_id = ? ORDER BY version DESC LIMIT 1",
            (review_id,),
        ).fetchone()
        signoff = SignOff(user, name or "", signed, float(threshold or 0.0)) if signed else None
        return int(version), reason, signoff

    def _new_version(self, db: sqlite3.Connection, review_id: int, version: int, reason: str) -> None:
        db.execute(
            "INSERT INTO review_versions (review_id, version, opened_utc, opened_by, amendment_reason)"
            " VALUES (?, ?, ?, ?, ?)",
            (review_id, version, audit.now_utc(), self.actor.os_user, reason),
        )

    def _ai_findings(self, db: sqlite3.Connection, run_id: str) -> list[Finding]:
        rows = db.execute("SELECT finding_id, data, mask FROM ai_findings WHERE run_id = ? ORDER BY ordinal", (run_id,))
        return [finding_from_row(*row) for row in rows]

    def _audit(self, db: sqlite3.Connection, event: str, study_uid: str, series_uid: str, finding_id: str = "",
               model_ref: str = "", details: dict[str, Any] | None = None,
               facts: tuple[FactRef, ...] = ()) -> None:  # fmt: skip
        entry = audit.AuditEvent(event, study_uid, series_uid, finding_id, model_ref, details, facts)
        self.store.append_audit(db, self.actor, entry)
