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
from meddiag_desktop.review.history import HistoryItem, review_history
from meddiag_desktop.review.masks import decode_map, encode_map
from meddiag_desktop.review.model import Decision, RejectReason, ReviewFinding, ReviewState, SignOff
from meddiag_desktop.review.ood_record import run_audit_details
from meddiag_desktop.review.reading import Outcome, reading_outcomes
from meddiag_desktop.review.reclassify import stored_classes, with_class
from meddiag_desktop.review.records import (
    AiRun,
    ReviewSummary,
    ReviewVersion,
    RunSummary,
    finding_data,
    finding_from_row,
    finding_mask,
)
from meddiag_desktop.review.undo import UNDO_EVENT, last_undoable, undo_details, undone_rows, write_undo

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
                **run_audit_details(run.provenance),
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
        return stored_maps(self.store.db, run_id)

    # -- opening and restoring --------------------------------------------------------------

    def open_review(self, run_id: str, read_first: bool = False) -> ReviewState:
        """The review of an AI run (created on first open). Logs that the study was opened.

        ``read_first`` applies to a review created now: its AI findings stay hidden until
        ``reveal_ai``. A run that an amendment brought opens the review it belongs to.
        """
        with self.store.transaction() as db:
            run = db.execute(
                "SELECT series_uid, study_uid, model_ref FROM ai_runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if run is None:
                raise ReviewStateError(f"No AI run {run_id} is stored.")
            series_uid, study_uid, model_ref = run
            row = db.execute(
                "SELECT review_id FROM reviews WHERE series_uid = ? AND run_id = ?"
                " UNION SELECT review_id FROM version_runs WHERE run_id = ?",
                (series_uid, run_id, run_id),
            ).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO reviews (series_uid, study_uid, run_id, created_utc) VALUES (?, ?, ?, ?)",
                    (series_uid, study_uid, run_id, audit.now_utc()),
                )
                review_id = int(cursor.lastrowid or 0)
                self._new_version(db, review_id, 1, "")
                refs: tuple[FactRef, ...] = (FactRef.of("review", review_id), FactRef.of("version", review_id, 1),
                                             *self._start_reading(db, review_id, 1, read_first))  # fmt: skip
            else:
                review_id = int(row[0])
                refs = (FactRef.of("review", review_id),)
            self._audit(db, "review_opened", study_uid, series_uid, model_ref=model_ref,
                        details={"run_id": run_id, "review_id": review_id}, facts=refs)  # fmt: skip
        return self.restore(review_id)

    def _start_reading(self, db: sqlite3.Connection, review_id: int, version: int, read_first: bool) -> list[FactRef]:
        if not read_first:
            return []
        db.execute("INSERT INTO readings VALUES (?, ?, 'read first', ?, ?)",
                   (review_id, version, audit.now_utc(), self.actor.os_user))  # fmt: skip
        return [FactRef.of("reading", review_id, version)]

    def reviews(self) -> list[ReviewSummary]:
        """Every stored review with its latest version and sign-off, newest first."""
        rows = self.store.db.execute(
            "SELECT r.review_id, r.series_uid, r.study_uid, r.run_id, r.created_utc, v.version, v.signed_utc,"
            f" {_SIGNER.format(t='v.')} FROM reviews r"
            " JOIN review_versions v ON v.review_id = r.review_id"
            " AND v.version = (SELECT MAX(version) FROM review_versions WHERE review_id = r.review_id)"
            " ORDER BY r.created_utc DESC, r.review_id DESC"
        )
        return [ReviewSummary(*row) for row in rows]

    def versions(self, review_id: int) -> list[ReviewVersion]:
        """Every version of a review, oldest first, with its amendment reason and sign-off."""
        rows = self.store.db.execute(
            "SELECT version, opened_utc, opened_by, amendment_reason, signed_utc,"
            f" {_SIGNER.format(t='')} FROM review_versions"
            " WHERE review_id = ? ORDER BY version",
            (review_id,),
        )
        return [ReviewVersion(*row) for row in rows]

    def history(self, review_id: int) -> list[HistoryItem]:
        """Every version, run, decision, reveal and sign-off of the review, with who and when."""
        return review_history(self.store.db, review_id)

    def runs_by_version(self, review_id: int) -> dict[str, tuple[int, int]]:
        """Each AI run the review has shown: ``run_id -> (first version, last version)``."""
        latest, _, _ = self._latest_version(self.store.db, review_id)
        first = self.store.db.execute("SELECT run_id FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
        out: dict[str, tuple[int, int]] = {}
        for number in range(1, latest + 1):
            base, run_id = self._run_of(self.store.db, review_id, number, str(first[0]) if first else "")
            out[run_id] = (base, number)
        return out

    def reading_outcomes(self, review_id: int, first: int, last: int) -> dict[Outcome, int]:
        """How many lesions of each read-first outcome were recorded at reveals in versions first..last."""
        rows = self.store.db.execute(
            "SELECT outcome, COUNT(*) FROM reading_outcomes WHERE review_id = ? AND version BETWEEN ? AND ?"
            " GROUP BY outcome",
            (review_id, first, last),
        )
        return {Outcome(outcome): int(n) for outcome, n in rows}

    def ai_findings(self, run_id: str) -> list[Finding]:
        """The run's findings exactly as the AI produced them (original masks)."""
        return self._ai_findings(self.store.db, run_id)

    def restore(self, review_id: int, version: int | None = None) -> ReviewState:
        """Rebuild the exact state of the newest version (or of ``version``) from the stored facts.

        A version that an amendment opened with a new AI run shows that run's findings: the
        decisions and edits of earlier versions concern the earlier run and stay with them,
        except the lesions the radiologist drew, which carry forward.
        """
        db = self.store.db
        row = db.execute(
            "SELECT series_uid, study_uid, run_id FROM reviews WHERE review_id = ?", (review_id,)
        ).fetchone()
        if row is None:
            raise ReviewStateError(f"No review {review_id} is stored; `meddiag-desktop export --list` lists them.")
        series_uid, study_uid, first_run = row
        latest, _, _ = self._latest_version(db, review_id)
        number = latest if version is None else version
        if not 1 <= number <= latest:
            raise ReviewStateError(f"Review {review_id} has versions 1 to {latest}, not {number}.")
        reason, signoff = self._version(db, review_id, number)
        base, run_id = self._run_of(db, review_id, number, first_run)
        findings = {f.id: ReviewFinding(f) for f in self._ai_findings(db, run_id)}
        undone = undone_rows(db, review_id)
        drawn = {fid for seq, fid in db.execute(
            "SELECT seq, finding_id FROM mask_edits WHERE review_id = ? AND mask_version = 0", (review_id,))
            if seq not in undone.masks}  # fmt: skip

        def kept(finding_id: str, at: int) -> bool:
            return at <= number and (at >= base or finding_id in drawn)

        current: dict[str, int] = {}  # finding id -> the mask row it shows
        for seq, fid, at, mask_version, data, mask in db.execute(
            "SELECT seq, finding_id, version, mask_version, data, mask FROM mask_edits WHERE review_id = ?"
            " ORDER BY seq",
            (review_id,),
        ):
            if kept(fid, at) and seq not in undone.masks:
                finding, previous = finding_from_row(fid, data, mask), findings.get(fid)
                findings[fid] = (replace(previous, finding=finding, mask_version=mask_version) if previous
                                 else ReviewFinding(finding, mask_version=mask_version))  # fmt: skip
                current[fid] = seq
        classes = stored_classes(db, review_id)
        for fid, seq in current.items():
            if seq in classes:
                findings[fid] = with_class(findings[fid], classes[seq])
        for seq, fid, at, decision, why, note in db.execute(
            "SELECT seq, finding_id, version, decision, reason, note FROM decisions WHERE review_id = ? ORDER BY seq",
            (review_id,),
        ):
            if kept(fid, at) and seq not in undone.decisions:
                findings[fid] = findings[fid].decided(Decision(decision), RejectReason(why) if why else None, note)
        read_first, revealed = self._reading(db, review_id, base, number)
        return ReviewState(review_id, series_uid, study_uid, run_id, number, tuple(findings.values()), signoff, reason,
                           read_first, revealed, latest)  # fmt: skip

    def _run_of(self, db: sqlite3.Connection, review_id: int, version: int, first_run: str) -> tuple[int, str]:
        """``(version that brought the run, run id)`` shown by ``version``."""
        row = db.execute(
            "SELECT version, run_id FROM version_runs WHERE review_id = ? AND version <= ? ORDER BY version DESC",
            (review_id, version),
        ).fetchone()
        return (1, first_run) if row is None else (int(row[0]), str(row[1]))

    def _reading(self, db: sqlite3.Connection, review_id: int, base: int, version: int) -> tuple[bool, str | None]:
        """Whether the run was read first, and when its AI was revealed (up to ``version``)."""
        mode = db.execute("SELECT 1 FROM readings WHERE review_id = ? AND version = ?", (review_id, base)).fetchone()
        shown = db.execute(
            "SELECT time_utc FROM reveals WHERE review_id = ? AND version BETWEEN ? AND ? ORDER BY version",
            (review_id, base, version),
        ).fetchone()
        return mode is not None, None if shown is None else str(shown[0])

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
        _refuse_hidden(state, current.origin)
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

    def undo_last(self, state: ReviewState) -> ReviewState:
        """Take back the newest decision of the open version (audited); the finding shows what it showed before."""
        with self.store.transaction() as db:
            number = self._assert_open(db, state)
            target = last_undoable(db, state.review_id, number)
            fact = write_undo(db, state.review_id, number, target, self.actor.os_user)
            after = self.restore(state.review_id)
            now = next((f.decision.value for f in after.findings if f.id == target.finding_id), "removed")
            self._audit(db, UNDO_EVENT, state.study_uid, state.series_uid, target.finding_id,
                        details=undo_details(target, now), facts=(fact,))  # fmt: skip
        return after

    def next_added_id(self, state: ReviewState) -> str:
        return next_added_id(state)

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
            if fresh.ai_hidden:
                raise ReviewStateError("Reveal the AI findings (read-first mode) and decide each before signing off.")
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

    def amend(self, state: ReviewState, reason: str, run_id: str = "", read_first: bool = False) -> ReviewState:
        """Re-open a signed review as a new version; the signed version stays as it was.

        With ``run_id`` (a new AI run of the same series) the new version reviews that run,
        read first when ``read_first``; the lesions the radiologist drew carry forward.
        """
        if not reason.strip():
            raise ReviewStateError("An amendment needs a reason.")
        with self.store.transaction() as db:
            version, _, signoff = self._latest_version(db, state.review_id)
            if signoff is None:
                raise ReviewStateError("This review is not signed off; there is nothing to amend.")
            self._new_version(db, state.review_id, version + 1, reason.strip())
            refs = [FactRef.of("version", state.review_id, version + 1)]
            details: dict[str, Any] = {"version": version + 1, "reason": reason.strip()}
            if run_id:
                refs += self._attach_run(db, state, version + 1, run_id, read_first)
                details |= {"run_id": run_id, "read_first": read_first}
            self._audit(db, "amendment_opened", state.study_uid, state.series_uid, details=details,
                        facts=tuple(refs))  # fmt: skip
        return self.restore(state.review_id)

    def _attach_run(self, db: sqlite3.Connection, state: ReviewState, version: int, run_id: str,
                    read_first: bool) -> list[FactRef]:  # fmt: skip
        run = db.execute("SELECT series_uid FROM ai_runs WHERE run_id = ?", (run_id,)).fetchone()
        if run is None or run[0] != state.series_uid:
            raise ReviewStateError(f"AI run {run_id} is not a stored run of this review's series.")
        db.execute("INSERT INTO version_runs VALUES (?, ?, ?, ?, ?)",
                   (state.review_id, version, run_id, audit.now_utc(), self.actor.os_user))  # fmt: skip
        return [FactRef.of("version_run", state.review_id, version),
                *self._start_reading(db, state.review_id, version, read_first)]  # fmt: skip

    def reveal_ai(self, state: ReviewState) -> ReviewState:
        """Read-first mode: show the AI's findings; record what the radiologist had found before."""
        with self.store.transaction() as db:
            number = self._assert_open(db, state)
            fresh = self.restore(state.review_id)
            if not fresh.ai_hidden:
                raise ReviewStateError("The AI findings of this review are already shown.")
            db.execute("INSERT INTO reveals VALUES (?, ?, ?, ?)",
                       (state.review_id, number, audit.now_utc(), self.actor.os_user))  # fmt: skip
            outcomes = reading_outcomes(fresh)
            for o in outcomes:
                db.execute(
                    "INSERT INTO reading_outcomes VALUES (?, ?, ?, ?, ?, ?)",
                    (state.review_id, number, o.finding_id, o.outcome.value, o.matched_id, round(o.dice, 4)),
                )
            counts = {kind.value: sum(o.outcome is kind for o in outcomes) for kind in {o.outcome for o in outcomes}}
            self._audit(db, "ai_revealed", state.study_uid, state.series_uid, model_ref=self._model_ref(db, fresh),
                        details={"version": number, "outcomes": counts},
                        facts=(FactRef.of("reveal", state.review_id, number),))  # fmt: skip
        return self.restore(state.review_id)

    def _model_ref(self, db: sqlite3.Connection, state: ReviewState) -> str:
        row = db.execute("SELECT model_ref FROM ai_runs WHERE run_id = ?", (state.run_id,)).fetchone()
        return "" if row is None else str(row[0])

    # -- helpers ---------------------------------------------------------------------------------

    def _decide(
        self, state: ReviewState, finding_id: str, decision: Decision, reason: RejectReason | None, note: str
    ) -> ReviewState:
        _refuse_hidden(state, state.finding(finding_id).origin)  # KeyError for an unknown id: a programming error
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
        if state.version < version:
            raise ReviewStateError(
                f"Version {state.version} of this review is shown read-only from its history; "
                f"changes go to the newest version ({version})."
            )
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

    def _version(self, db: sqlite3.Connection, review_id: int, version: int) -> tuple[str, SignOff | None]:
        reason, signed, user, name, threshold = db.execute(
            "SELECT amendment_reason, signed_utc, signed_by_user, signed_by_name, threshold"
            " FROM review_versions WHERE review_id = ? AND version = ?",
            (review_id, version),
        ).fetchone()
        return reason, SignOff(user, name or "", signed, float(threshold or 0.0)) if signed else None

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


# "Name (account)", or the account alone: the display name is shown beside the OS account, never instead of it.
_SIGNER = ("CASE WHEN {t}signed_utc IS NULL THEN '' WHEN COALESCE({t}signed_by_name, '') = '' THEN {t}signed_by_user"
           " ELSE {t}signed_by_name || ' (' || {t}signed_by_user || ')' END")  # fmt: skip


def stored_maps(db: sqlite3.Connection, run_id: str) -> dict[str, NDArray[np.float32]]:
    """The run's stored display maps (8-bit precision), read on any connection."""
    rows = db.execute("SELECT kind, data FROM ai_maps WHERE run_id = ?", (run_id,))
    return {kind: decode_map(data) for kind, data in rows}


def next_added_id(state: ReviewState) -> str:
    """The id of the next lesion the radiologist draws: the first free ``R<n>``."""
    taken = {f.id for f in state.findings}
    return next(f"R{n}" for n in range(1, len(taken) + 2) if f"R{n}" not in taken)


def _refuse_hidden(state: ReviewState, origin: str) -> None:
    if state.ai_hidden and origin == "ai":
        raise ReviewStateError("The AI findings are hidden until you reveal them (read-first mode).")
