"""Reviewed findings -> a Comprehensive 3D SR measurement report (PS3.16 TID 1500) with highdicom.

One measurement group per finding, with its Tracking Identifier and Tracking UID (the same
UID as its SEG segment), finding category and type, finding site, the AI's algorithm, the
volume, long and short axis and mean attenuation (TID 300), and as qualitative evaluations
the AI's lesion class and the review decision (with the reason for a rejection). A lesion's
group is TID 1411 and references its SEG segment; a rejected finding has no segment and is
reported in a TID 1501 group. Each group also carries the AI run's input check (in range, run
by override with the typed reason and the issues, or not recorded) for the AI's findings, and
the series' geometry warnings for every finding. Before sign-off the document is UNVERIFIED, PARTIAL and
PRELIMINARY; after sign-off VERIFIED (with the verifying observer and the sign-off time,
PS3.3 C.17.2), COMPLETE and FINAL.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import highdicom as hd
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid
from pydicom.valuerep import DT

from meddiag_desktop.core.ood import CheckStatus
from meddiag_desktop.errors import ExportError
from meddiag_desktop.io.export_common import (
    AI_CLASS,
    AI_CLASS_PROBABILITY,
    AI_DETECTION_PROBABILITY,
    APP_NAME,
    DECISION_CODES,
    LUNG,
    MORPHOLOGICALLY_ABNORMAL,
    PRIVATE_SCHEME,
    REJECT_REASON,
    REVIEW_DECISION,
    coding_schemes,
    drop_broken_study_references,
    finding_type,
    first_value,
    person_name,
    private_code,
    quiet_source_names,
    tracking_uid,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydicom.dataset import Dataset

    from meddiag_desktop.core.export_model import ExportedFinding, ExportRequest, ModelInfo, ReportContext

SR_SERIES_NUMBER = 9102
DEVICE_UID = generate_uid(entropy_srcs=[APP_NAME, "device"])
CT_PROCEDURE = Code("25045-6", "LN", "CT unspecified body region")  # CID 100
VOLUME = Code("118565006", "SCT", "Volume")
LONG_AXIS = Code("103339001", "SCT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
ATTENUATION = Code("112031", "DCM", "Attenuation Coefficient")
MEAN = Code("373098007", "SCT", "Mean")
CUBIC_CM = Code("cm3", "UCUM", "cubic centimeter")
MILLIMETER = Code("mm", "UCUM", "millimeter")
HOUNSFIELD = Code("[hnsf'U]", "UCUM", "Hounsfield unit")
NO_UNITS = Code("1", "UCUM", "no units")
REVIEW_NOTE = Code("D6", PRIVATE_SCHEME, "Review note")
INPUT_CHECK = Code("D7", PRIVATE_SCHEME, "AI input check")
OVERRIDE_REASON = Code("D8", PRIVATE_SCHEME, "Reason the AI was run outside its validated range")
INPUT_ISSUE = Code("D9", PRIVATE_SCHEME, "AI input check issue")
SERIES_WARNING = Code("D10", PRIVATE_SCHEME, "Series geometry warning")

Group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations | hd.sr.MeasurementsAndQualitativeEvaluations


def measurements(item: ExportedFinding) -> list[hd.sr.Measurement]:
    """Volume, long and short axis (RECIST, axial plane), mean HU; the AI's probabilities."""
    finding = item.finding
    out = [
        hd.sr.Measurement(VOLUME, round(finding.volume_ml, 4), CUBIC_CM),
        hd.sr.Measurement(LONG_AXIS, round(finding.long_axis_mm, 2), MILLIMETER),
        hd.sr.Measurement(SHORT_AXIS, round(finding.short_axis_mm, 2), MILLIMETER),
        hd.sr.Measurement(ATTENUATION, round(finding.mean_hu, 1), HOUNSFIELD, derivation=MEAN),
    ]
    if item.model is not None:
        detection = round(finding.max_prob, 4)
        out.append(
            hd.sr.Measurement(AI_DETECTION_PROBABILITY, detection, NO_UNITS, algorithm_id=_algorithm(item.model))
        )
    if finding.top_class:
        probability = round(finding.class_probabilities[finding.top_class], 4)
        by = _algorithm(item.classifier) if item.classifier else None
        out.append(hd.sr.Measurement(AI_CLASS_PROBABILITY, probability, NO_UNITS, algorithm_id=by))
    return out


def evaluations(item: ExportedFinding) -> list[hd.sr.QualitativeEvaluation]:
    """The AI's lesion class, the review decision and a rejection's reason."""
    out = []
    if item.finding.top_class:
        out.append(hd.sr.QualitativeEvaluation(AI_CLASS, private_code("CLS", item.finding.top_class)))
    out.append(hd.sr.QualitativeEvaluation(REVIEW_DECISION, DECISION_CODES[item.decision]))
    if item.reject_reason:
        out.append(hd.sr.QualitativeEvaluation(REJECT_REASON, private_code("REJ", item.reject_reason)))
    return out


def _algorithm(model: ModelInfo) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name=model.id, version=model.version, manufacturer=APP_NAME)


def measurement_group(item: ExportedFinding, context: ReportContext, segment: hd.sr.ReferencedSegment | None) -> Group:
    """TID 1411 for a lesion (with its segment), TID 1501 for a rejected finding (no segment)."""
    common: dict[str, Any] = {
        "tracking_identifier": hd.sr.TrackingIdentifier(
            uid=tracking_uid(context.source_key, item.id), identifier=f"Lesion {item.id}"
        ),
        "finding_category": MORPHOLOGICALLY_ABNORMAL,
        "finding_type": finding_type(item.finding),
        "finding_sites": [hd.sr.FindingSite(LUNG)],
        "algorithm_id": _algorithm(item.model) if item.model else None,
        "measurements": measurements(item),
        "qualitative_evaluations": evaluations(item),
    }
    group: Group = (
        hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(referenced_segment=segment, **common)
        if segment is not None
        else hd.sr.MeasurementsAndQualitativeEvaluations(**common)
    )
    if item.note:
        note = hd.sr.TextContentItem(REVIEW_NOTE, item.note[:1024], relationship_type="CONTAINS")
        group[0].ContentSequence.append(note)
    return group


def input_check_items(item: ExportedFinding, request: ExportRequest) -> list[Dataset]:
    """The run's input check beside an AI finding; the series' geometry warnings beside every finding."""
    out: list[Dataset] = []
    if item.model is not None:
        check = request.input_check
        status = check.status if check is not None else CheckStatus.NOT_RECORDED
        out.extend(hd.sr.QualitativeEvaluation(INPUT_CHECK, private_code("OOD", status.value)))  # a one-item template
        if check is not None and check.override is not None:
            o = check.override
            out.append(_text_item(OVERRIDE_REASON, f"{o.reason} (by {o.who}, {o.time_utc})"))
        out += [_text_item(INPUT_ISSUE, issue.message) for issue in (check.soft if check is not None else ())]
    out += [_text_item(SERIES_WARNING, warning) for warning in request.series_warnings]
    return out


def _text_item(name: Code, text: str) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(name, text[:1024], relationship_type="CONTAINS")


def observation_context(context: ReportContext) -> hd.sr.ObservationContext:
    """The app as the device observer; the reviewer as the person observer once there is one."""
    device = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=DEVICE_UID, name=APP_NAME, manufacturer_name=APP_NAME, model_name=context.software_version
        ),
    )
    person = None
    if context.reviewer:
        person = hd.sr.ObserverContext(
            observer_type=hd.sr.CodedConcept("121006", "DCM", "Person"),
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=person_name(context.reviewer)
            ),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def referenced_segment(seg: Dataset, number: int) -> hd.sr.ReferencedSegment:
    """The segment with the CT images its frames were derived from (TID 1411 row 6).

    highdicom's ``ReferencedSegment.from_segmentation`` fails on a single-segment SEG, whose
    Segment Identification is in the shared functional groups (PS3.3 C.8.20.3).
    """
    shared = seg.SharedFunctionalGroupsSequence[0]
    sources: dict[str, str] = {}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        ident = (frame.get("SegmentIdentificationSequence") or shared.SegmentIdentificationSequence)[0]
        if int(ident.ReferencedSegmentNumber) == number:
            for item in frame.DerivationImageSequence[0].SourceImageSequence:
                sources[str(item.ReferencedSOPInstanceUID)] = str(item.ReferencedSOPClassUID)
    images = [hd.sr.SourceImageForSegmentation(cls, uid) for uid, cls in sources.items()]
    return hd.sr.ReferencedSegment(seg.SOPClassUID, seg.SOPInstanceUID, number, source_images=images)


def measurement_groups(request: ExportRequest, seg: Dataset | None) -> list[Group]:
    """One group per finding, lesions first in SEG segment order, then the rejected ones."""
    lesions = request.lesions
    groups: list[Group] = []
    if lesions:
        if seg is None:
            raise ExportError("The report's lesions need their segmentation to reference.")
        for number, item in enumerate(lesions, start=1):
            groups.append(measurement_group(item, request.context, referenced_segment(seg, number)))
    groups += [measurement_group(f, request.context, None) for f in request.findings if not f.decision.is_lesion]
    if not groups:
        raise ExportError("There are no findings to report.")
    ordered = [*lesions, *(f for f in request.findings if not f.decision.is_lesion)]
    for group, item in zip(groups, ordered, strict=True):
        group[0].ContentSequence.extend(input_check_items(item, request))
    return groups


def build_report(sources: Sequence[Dataset], seg: Dataset | None, request: ExportRequest) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 Comprehensive 3D SR of the request, referencing ``seg``'s segments.

    Raises
    ------
    ExportError
        There are no findings, or the lesions have no segmentation to reference.
    """
    context = request.context
    report = hd.sr.MeasurementReport(
        observation_context=observation_context(context),
        procedure_reported=CT_PROCEDURE,
        imaging_measurements=measurement_groups(request, seg),
    )
    evidence = [*sources, seg] if seg is not None else list(sources)
    verified = context.verified
    with quiet_source_names():
        sr = hd.sr.Comprehensive3DSR(
            evidence=evidence, content=report[0], series_instance_uid=generate_uid(), series_number=SR_SERIES_NUMBER,
            sop_instance_uid=generate_uid(), instance_number=1, manufacturer=APP_NAME, is_complete=verified,
            is_final=verified, is_verified=verified,
            verifying_observer_name=person_name(context.reviewer) if verified else None,
            verifying_organization=_organization(context, sources) if verified else None,
            coding_schemes=coding_schemes(), series_description="MedDiag lesion measurements SR",
            manufacturer_model_name=APP_NAME, software_versions=context.software_version,
        )  # fmt: skip
    if verified:
        sr.VerifyingObserverSequence[0].VerificationDateTime = _dicom_datetime(context.verified_utc)
    drop_broken_study_references(sr)
    return sr


def _organization(context: ReportContext, sources: Sequence[Dataset]) -> str:
    return context.organization or first_value(sources, "InstitutionName") or "Unknown organization"


def _dicom_datetime(iso: str) -> str:
    """ISO 8601 (with offset) -> DICOM DT, PS3.5 6.2."""
    try:
        value = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise ExportError(f"The sign-off time {iso!r} is not a valid time.") from exc
    return str(DT(value))
