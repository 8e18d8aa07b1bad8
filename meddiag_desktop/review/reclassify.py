"""The class of an edited mask, recomputed with the AI run's own classifier (same id, version and sha256).

An edit moves the finding's centre, so the classifier's crop moves with it. ``recompute_class`` runs
in a worker; ``record_class`` keeps the result as its own append-only row (``reclassifications``)
naming the mask row it belongs to, sealed by a ``class_recomputed`` audit entry. Restore shows it
while that mask row is the finding's current one: undoing the edit sets the mask row aside, and
its class with it, so the previous mask's class comes back. When the run's classifier is not
installed any more, or is not the same file, nothing is guessed: the row says why
(``class_not_recomputed``). The occlusion explanation map is not recomputed (see ``EXPLANATION``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from meddiag_desktop.errors import InferenceError, ModelIntegrityError, ReviewStateError
from meddiag_desktop.inference import classify
from meddiag_desktop.review import audit
from meddiag_desktop.review.facts import FactRef
from meddiag_desktop.review.model import ClassStatus, RecomputedClass
from meddiag_desktop.review.records import finding_data, finding_mask

if TYPE_CHECKING:
    import sqlite3

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.manifest import ModelManifest
    from meddiag_desktop.inference.registry import ModelRegistry
    from meddiag_desktop.inference.session import ModelSession, SessionOptions
    from meddiag_desktop.review.model import ReviewFinding, ReviewState
    from meddiag_desktop.review.service import ReviewService

log = logging.getLogger(__name__)

CLASS_RECOMPUTED = "class_recomputed"
CLASS_NOT_RECOMPUTED = "class_not_recomputed"
EXPLANATION = "The explanation (occlusion) map is not recomputed: the one shown is the AI run's, for the original mask."


@dataclass(frozen=True, eq=False)
class ClassResult:
    """What the classifier said about an edited finding (empty ``probabilities``: not recomputed, see ``why``)."""

    finding: Finding  # the edited finding exactly as stored: its data and mask find its mask row
    probabilities: dict[str, float]
    model_ref: str  # the run's classifier, ``id@version#sha256:...`` ("" when the run had none)
    why: str = ""


def classifier_ref(run_model_ref: str) -> str:
    """The classifier's part of a run's model reference (segmentation comes first); "" when it had none."""
    parts = [part.strip() for part in run_model_ref.split(";") if part.strip()]
    return parts[1] if len(parts) > 1 else ""


def recompute_class(registry: ModelRegistry, volume: Volume, finding: Finding, run_model_ref: str,
                    options: SessionOptions | None = None) -> ClassResult:  # fmt: skip
    """Classify ``finding`` (an edited mask) with the run's classifier, or say in plain words why not."""
    ref = classifier_ref(run_model_ref)
    if not ref:
        return ClassResult(finding, {}, "", "The AI run had no classifier, so there is no class to recompute.")
    try:
        session = _same_classifier(registry, ref, options)
        crop, _ = classify.crop_for(volume, finding, session.manifest)
        probabilities = classify.predict(session, crop[None])[0]
    except (ModelIntegrityError, InferenceError) as exc:
        return ClassResult(finding, {}, ref, f"Not recomputed with the run's classifier ({_named(ref)}): {exc}")
    names = session.manifest.class_names
    return ClassResult(finding, {n: float(p) for n, p in zip(names, probabilities, strict=True)}, ref)


def _same_classifier(registry: ModelRegistry, ref: str, options: SessionOptions | None) -> ModelSession:
    """The run's classifier if the installed one is the same file; ``ModelIntegrityError`` saying why not."""
    model_id, version, sha = _parts(ref)
    entry = registry.entry(model_id)  # "not installed" in plain words
    if entry.manifest is None:
        raise ModelIntegrityError(entry.error or f"the installed {model_id} is refused")
    _require_same(entry.manifest, version, sha)
    session = registry.session(model_id, options)  # every file's sha256 is checked before first use
    _require_same(session.manifest, version, sha)
    if session.manifest.crop is None:
        raise ModelIntegrityError(f"{model_id} has no crop in its manifest")
    return session


def _require_same(manifest: ModelManifest, version: str, sha: str) -> None:
    installed = manifest.files.get(manifest.model_file, "")
    if manifest.version != version or installed != sha:
        raise ModelIntegrityError(
            f"the installed {manifest.id} is version {manifest.version} (sha256 {installed[:12]}…), "
            f"not the run's version {version} (sha256 {sha[:12]}…)"
        )


def _parts(ref: str) -> tuple[str, str, str]:
    name, _, digest = ref.partition("#")
    model_id, _, version = name.partition("@")
    return model_id, version, digest.removeprefix("sha256:")


def _named(ref: str) -> str:
    model_id, version, sha = _parts(ref)
    return f"{model_id} {version}, sha256 {sha[:12]}…"


# -- the store -------------------------------------------------------------------------------------


def record_class(service: ReviewService, review_id: int, result: ClassResult) -> ReviewState:
    """Keep ``result`` with the mask row it was computed for (audited); the review as restored after it.

    Nothing is written when that mask row was undone meanwhile or already has its class.

    Raises
    ------
    ReviewStateError
        The review was signed off (or amended) since the edit: its record is read-only.
    """
    finding = result.finding
    with service.store.transaction() as db:
        row = _mask_row(db, review_id, finding)
        if row is None:
            log.info("class of %s not kept: its mask was undone meanwhile or has its class", finding.id)
            return service.restore(review_id)
        mask_seq, number, mask_version = row
        _refuse_closed(db, review_id, number, finding.id)
        status = ClassStatus.RECOMPUTED if result.probabilities else ClassStatus.NOT_RECOMPUTED
        seq = db.execute(
            "INSERT INTO reclassifications (review_id, version, finding_id, mask_seq, mask_version, status, model_ref,"
            " class_probabilities, why, time_utc, os_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (review_id, number, finding.id, mask_seq, mask_version, status.value, result.model_ref,
             json.dumps(result.probabilities, sort_keys=True), result.why, audit.now_utc(), service.actor.os_user),
        ).lastrowid  # fmt: skip
        study_uid, series_uid = db.execute(
            "SELECT study_uid, series_uid FROM reviews WHERE review_id = ?", (review_id,)
        ).fetchone()
        fact = FactRef.of("reclass", int(seq or 0))
        event = audit.AuditEvent(_event(result), study_uid, series_uid, finding.id, result.model_ref,
                                 _details(result, mask_seq, mask_version), (fact,))  # fmt: skip
        service.store.append_audit(db, service.actor, event)
    return service.restore(review_id)


def _mask_row(db: sqlite3.Connection, review_id: int, finding: Finding) -> tuple[int, int, int] | None:
    """``(seq, review version, mask version)`` of the finding's stored mask row, if still current and unclassified."""
    row = db.execute(
        "SELECT seq, version, mask_version FROM mask_edits WHERE review_id = ? AND finding_id = ? AND data = ?"
        " AND mask = ? AND seq NOT IN (SELECT mask_seq FROM undos WHERE mask_seq IS NOT NULL)"
        " AND seq NOT IN (SELECT mask_seq FROM reclassifications) ORDER BY seq DESC LIMIT 1",
        (review_id, finding.id, finding_data(finding), finding_mask(finding)),
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def _refuse_closed(db: sqlite3.Connection, review_id: int, version: int, finding_id: str) -> None:
    latest, signed = db.execute(
        "SELECT version, signed_utc FROM review_versions WHERE review_id = ? ORDER BY version DESC LIMIT 1",
        (review_id,),
    ).fetchone()
    if signed is not None or int(latest) != version:
        raise ReviewStateError(
            f"The class recomputed after your edit of {finding_id} was not kept: review version {version} was "
            "signed off meanwhile and is read-only."
        )


def _event(result: ClassResult) -> str:
    return CLASS_RECOMPUTED if result.probabilities else CLASS_NOT_RECOMPUTED


def _details(result: ClassResult, mask_seq: int, mask_version: int) -> dict[str, object]:
    details: dict[str, object] = {"mask_version": mask_version, "mask_edit": mask_seq, "classifier": result.model_ref}
    if not result.probabilities:
        return details | {"why": result.why}
    top = max(result.probabilities, key=lambda name: result.probabilities[name])
    rounded = {name: round(p, 4) for name, p in result.probabilities.items()}
    return details | {"class": top, "probabilities": rounded, "explanation": "not recomputed"}


# -- restore ---------------------------------------------------------------------------------------


def stored_classes(db: sqlite3.Connection, review_id: int) -> dict[int, tuple[RecomputedClass, dict[str, float]]]:
    """Every recorded class of the review's mask rows: ``mask seq -> (what it is, probabilities)``."""
    rows = db.execute(
        "SELECT mask_seq, mask_version, status, model_ref, class_probabilities, why, time_utc FROM reclassifications"
        " WHERE review_id = ?",
        (review_id,),
    )
    return {
        int(seq): (RecomputedClass(ClassStatus(status), int(version), ref, why, at), dict(json.loads(probabilities)))
        for seq, version, status, ref, probabilities, why, at in rows
    }


def with_class(item: ReviewFinding, recorded: tuple[RecomputedClass, dict[str, float]]) -> ReviewFinding:
    """``item`` showing the class recorded for its current mask (its probabilities, when recomputed)."""
    note, probabilities = recorded
    finding = replace(item.finding, class_probabilities=probabilities) if probabilities else item.finding
    return replace(item, finding=finding, recomputed_class=note)


def marked_recomputing(state: ReviewState, recomputing: dict[str, int]) -> ReviewState:
    """``state`` with the edits whose class is still being computed (finding id -> mask version) marked
    so, rather than "not recomputed"."""
    for item in state.findings:
        version = recomputing.get(item.id)
        if version == item.mask_version and item.recomputed_class is None:
            note = RecomputedClass(ClassStatus.RECOMPUTING, version)
            state = state.with_finding(replace(item, recomputed_class=note))
    return state
