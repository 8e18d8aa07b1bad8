"""The AI input check on the review side: overrides recorded and audited, and read back with a run.

An override is its own fact row (``ood_overrides``) sealed by an ``ood_override`` audit entry.
It is written when the radiologist confirms, before the run starts, so it stays on record even
if the run then fails or is cancelled. The run's payload (``ai_runs.provenance["input_check"]``,
sealed with the run) holds the check and names the override it ran under; :func:`cross_check`
(part of ``audit verify``) finds a run naming an override that is not recorded, or one that
ran on a series its check refused.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from meddiag_desktop.core.ood import CheckStatus, InputCheck, OodOverride, reason_problem
from meddiag_desktop.errors import ReviewStateError
from meddiag_desktop.review import audit
from meddiag_desktop.review.facts import FactRef

if TYPE_CHECKING:
    import sqlite3

    from meddiag_desktop.review.service import ReviewService

OOD_OVERRIDE_EVENT = "ood_override"
PAYLOAD_KEY = "input_check"


def record_override(service: ReviewService, check: InputCheck, study_uid: str, model_ref: str,
                    reason: str) -> InputCheck:  # fmt: skip
    """Keep the radiologist's override of ``check`` and its audit entry; ``check`` with the stored override.

    Raises
    ------
    ReviewStateError
        The check has a hard issue (nothing overrides it), nothing to override, or no real reason.
    """
    if check.hard:
        raise ReviewStateError("This series cannot be analysed, even with a reason: " + check.hard[0].message)
    if not check.soft:
        raise ReviewStateError("The series is within the models' validated range; there is nothing to override.")
    problem = reason_problem(reason)
    if problem is not None:
        raise ReviewStateError(problem)
    actor = service.actor
    override = OodOverride(reason.strip(), actor.os_user, actor.display_name, audit.now_utc())
    with service.store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO ood_overrides (series_uid, study_uid, model_ref, time_utc, os_user, display_name, reason,"
            " input_check) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (check.series_uid, study_uid, model_ref, override.time_utc, actor.os_user, actor.display_name,
             override.reason, json.dumps(check.to_dict(), sort_keys=True)),
        )  # fmt: skip
        override_id = int(cursor.lastrowid or 0)
        details = {"override_id": override_id, "reason": override.reason, "issues": [i.check for i in check.soft],
                   "models": list(check.models)}  # fmt: skip
        event = audit.AuditEvent(OOD_OVERRIDE_EVENT, study_uid, check.series_uid, "", model_ref, details,
                                 (FactRef.of("ood_override", override_id),))  # fmt: skip
        service.store.append_audit(db, actor, event)
    return check.with_override(replace(override, override_id=override_id))


def run_payload(check: InputCheck | None) -> dict[str, Any]:
    """What the run's stored provenance says about its input check (nothing for a run without one)."""
    return {} if check is None else {PAYLOAD_KEY: check.to_dict()}


def run_audit_details(provenance: dict[str, Any]) -> dict[str, Any]:
    """The ``ai_run`` entry's words about the check: its status and the override it ran under."""
    raw = provenance.get(PAYLOAD_KEY)
    if not isinstance(raw, dict):
        return {}
    override = raw.get("override") or {}
    return {"input_check": raw.get("status", ""), **({"ood_override": override["override_id"]} if override else {})}


def run_input_check(db: sqlite3.Connection, run_id: str) -> InputCheck | None:
    """The input check stored with ``run_id``; ``None`` for a run stored before checks were recorded."""
    row = db.execute("SELECT provenance FROM ai_runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise ReviewStateError(f"No AI run {run_id} is stored.")
    return _check_of(run_id, str(row[0]))


def _check_of(run_id: str, provenance: str) -> InputCheck | None:
    try:
        raw = json.loads(provenance).get(PAYLOAD_KEY)
        return None if raw is None else InputCheck.from_dict(raw)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ReviewStateError(f"The input check stored with AI run {run_id} cannot be read ({exc}).") from exc


def cross_check(db: sqlite3.Connection) -> list[str]:
    """Runs whose stored input check does not agree with the recorded overrides (for ``audit verify``)."""
    overrides = {
        int(row[0]): (str(row[1]), str(row[2]), str(row[3]))
        for row in db.execute("SELECT override_id, series_uid, os_user, reason FROM ood_overrides")
    }
    problems = []
    for run_id, series_uid, provenance in db.execute("SELECT run_id, series_uid, provenance FROM ai_runs"):
        try:
            check = _check_of(run_id, provenance)
        except ReviewStateError as exc:
            problems.append(str(exc))
            continue
        if check is not None:
            problems += _run_problems(run_id, series_uid, check, overrides)
    return problems


def _run_problems(run_id: str, series_uid: str, check: InputCheck,
                  overrides: dict[int, tuple[str, str, str]]) -> list[str]:  # fmt: skip
    status = check.status
    if status in (CheckStatus.REFUSED, CheckStatus.NEEDS_OVERRIDE):
        return [f"AI run {run_id} ran on a series its input check {status.value} ({check.issues[0].message})"]
    if status is not CheckStatus.OVERRIDDEN or check.override is None:
        return []
    o = check.override
    recorded = overrides.get(o.override_id)
    if recorded is None:
        return [f"AI run {run_id} says it ran under input-check override {o.override_id}, which is not recorded"]
    if recorded != (series_uid, o.os_user, o.reason):
        return [f"AI run {run_id} and input-check override {o.override_id} disagree on the series, user or reason"]
    return []
