"""From a review (or an unreviewed AI run) to the neutral export records; export and audit.

The decisions map one to one: pending -> "not yet reviewed", accepted, edited, added,
rejected (with its reason). Who drew each mask follows from the finding: the radiologist's
own lesion is MANUAL, an AI mask with a stored edit SEMIAUTOMATIC, the AI's untouched mask
AUTOMATIC. Every export is one audit entry (``results_exported``).
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from meddiag_desktop.core.export_model import (
    AlgorithmKind,
    ExportDecision,
    ExportedFinding,
    ExportedObject,
    ExportRequest,
    ExportResult,
    ModelInfo,
    ObjectKind,
    ReportContext,
)
from meddiag_desktop.core.progress import ProgressFn, no_progress
from meddiag_desktop.io.deid_export import SEG_LABEL, SR_LABEL, deidentify_results
from meddiag_desktop.io.export import export_results
from meddiag_desktop.review.events import ExportEvent
from meddiag_desktop.review.model import Decision, ReviewFinding, ReviewState
from meddiag_desktop.review.ood_record import run_input_check
from meddiag_desktop.review.records import model_ref

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from meddiag_desktop.core.deid_model import DeidentifyOptions, DeidentifyResult
    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.progress import CancelToken
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.analyze import AnalysisResult
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.review.service import ReviewService

_DECISIONS = {
    Decision.PENDING: ExportDecision.NOT_REVIEWED,
    Decision.ACCEPTED: ExportDecision.ACCEPTED,
    Decision.EDITED: ExportDecision.EDITED,
    Decision.ADDED: ExportDecision.ADDED,
    Decision.REJECTED: ExportDecision.REJECTED,
}


def software_version() -> str:
    try:
        return metadata.version("meddiag-desktop")
    except metadata.PackageNotFoundError:
        return "unknown"


def parse_model_ref(model_ref: str) -> tuple[ModelInfo, ...]:
    """``"id@version#sha256:..; id@version#sha256:.."`` -> models, segmentation first."""
    models = []
    for part in filter(None, (p.strip() for p in model_ref.split(";"))):
        name, _, digest = part.partition("#")
        model_id, _, version = name.partition("@")
        models.append(ModelInfo(model_id, version or "unknown", digest.removeprefix("sha256:")))
    return tuple(models)


def _algorithm(finding: Finding, mask_version: int) -> AlgorithmKind:
    if finding.origin != "ai":
        return AlgorithmKind.MANUAL
    return AlgorithmKind.SEMIAUTOMATIC if mask_version > 0 else AlgorithmKind.AUTOMATIC


def exported_finding(item: ReviewFinding, models: Sequence[ModelInfo]) -> ExportedFinding:
    """One review finding as exported, with the run's models when the AI proposed it."""
    algorithm = _algorithm(item.finding, item.mask_version)
    from_ai = algorithm is not AlgorithmKind.MANUAL
    reason = (item.reason.value if item.reason else "not given") if item.decision is Decision.REJECTED else ""
    return ExportedFinding(
        finding=item.finding, decision=_DECISIONS[item.decision], algorithm=algorithm,
        model=models[0] if from_ai and models else None,
        classifier=models[1] if from_ai and len(models) > 1 and item.finding.class_probabilities else None,
        reject_reason=reason, note=item.note, mask_version=item.mask_version,
    )  # fmt: skip


def review_context(state: ReviewState, reviewer: str) -> ReportContext:
    """Signed: the signing radiologist and time, VERIFIED. Open: the current user, UNVERIFIED."""
    signoff = state.signoff
    return ReportContext(
        source_key=f"review-{state.review_id}",
        software_version=software_version(),
        reviewer=(signoff.display_name or signoff.os_user) if signoff else reviewer,
        verified=signoff is not None,
        verified_utc=signoff.time_utc if signoff else "",
    )


def request_from_review(state: ReviewState, model_ref: str, reviewer: str, input_check: InputCheck | None = None,
                        series_warnings: tuple[str, ...] = ()) -> ExportRequest:  # fmt: skip
    """Every finding of the review with its decision (rejected ones are reported, not segmented)."""
    models = parse_model_ref(model_ref)
    findings = tuple(exported_finding(item, models) for item in state.findings if item.finding.mask.any())
    return ExportRequest(state.series_uid, findings, review_context(state, reviewer), input_check, series_warnings)


def _review_request(service: ReviewService, state: ReviewState, volume: Volume, model_ref: str) -> ExportRequest:
    """The review's request with the run's input check and the series' geometry warnings."""
    reviewer = service.actor.display_name or service.actor.os_user
    check = run_input_check(service.store.db, state.run_id)
    warnings = tuple(w.message for w in volume.warnings)
    return request_from_review(state, model_ref, reviewer, check, warnings)


def request_from_analysis(result: AnalysisResult) -> ExportRequest:
    """An unreviewed AI run: every finding, AUTOMATIC, "not yet reviewed", UNVERIFIED."""
    prov = result.provenance
    models = tuple(ModelInfo(m.id, m.version, _onnx_sha(m.sha256)) for m in prov.models)
    seg, cls = models[0], (models[1] if len(models) > 1 else None)
    items = tuple(
        ExportedFinding(f, ExportDecision.NOT_REVIEWED, AlgorithmKind.AUTOMATIC, seg, cls if f.top_class else None)
        for f in result.findings
    )
    key = f"run-{prov.input_pixel_sha256[:16]}-{prov.started_utc}"
    context = ReportContext(key, prov.software_version)
    return ExportRequest(prov.series_instance_uid, items, context, result.input_check, result.warnings)


def _onnx_sha(files: dict[str, str]) -> str:
    return next((h for name, h in files.items() if name.endswith(".onnx")), "")


def export_review(
    service: ReviewService, state: ReviewState, index: SeriesIndex, volume: Volume, folder: Path,
    progress: ProgressFn = no_progress,
) -> ExportResult:  # fmt: skip
    """Export a stored review (signed: VERIFIED) and record the export in the audit log."""
    run = service.run_summary(state.run_id)
    request = _review_request(service, state, volume, run.model_ref)
    result = export_results(index, volume, request, folder, progress)
    source = f"review {state.review_id} v{state.version}"
    service.record_export(_event(state.study_uid, request, result, source, run.model_ref))
    return result


def export_review_deidentified(
    service: ReviewService, state: ReviewState, index: SeriesIndex, volume: Volume, folder: Path,
    options: DeidentifyOptions, progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
) -> DeidentifyResult:  # fmt: skip
    """Export a stored review's SEG and SR with its series, all de-identified together.

    One UID map and one date offset serve the images and both objects, so the SEG and SR still
    reference the exported images. The audit entry names the de-identified objects.
    """
    run = service.run_summary(state.run_id)
    request = _review_request(service, state, volume, run.model_ref)
    result = deidentify_results(index, volume, request, folder, options, progress, cancel)
    objects = tuple(
        ExportedObject(kind, f.path, f.sop_instance_uid, f.series_instance_uid)
        for kind, label in ((ObjectKind.SEG, SEG_LABEL), (ObjectKind.SR, SR_LABEL))
        if (f := result.from_source(label)) is not None
    )
    written = ExportResult(result.folder, objects)
    source = f"review {state.review_id} v{state.version}, de-identified"
    service.record_export(_event(state.study_uid, request, written, source, run.model_ref))
    return result


def export_analysis(
    service: ReviewService, result: AnalysisResult, study_uid: str, index: SeriesIndex, volume: Volume, folder: Path
) -> ExportResult:
    """Export an unreviewed AI run (UNVERIFIED) and record the export in the audit log."""
    request = request_from_analysis(result)
    written = export_results(index, volume, request, folder)
    service.record_export(_event(study_uid, request, written, "unreviewed AI run", model_ref(result)))
    return written


def _event(study_uid: str, request: ExportRequest, result: ExportResult, source: str, model_ref: str) -> ExportEvent:
    return ExportEvent(
        study_uid, request.series_instance_uid, source, model_ref, request.context.verified,
        len(request.findings), len(request.lesions), result.objects,
    )  # fmt: skip
