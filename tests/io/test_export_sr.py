"""TID 1500 Comprehensive 3D SR export: groups, decisions, segment references, verification."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import pytest

from meddiag_desktop.core.export_model import ExportDecision, ExportedFinding, ObjectKind
from meddiag_desktop.io.export import export_results
from meddiag_desktop.io.export_common import tracking_uid
from tests.export_helpers import CLS_MODEL, SEG_MODEL, DemoSeries, demo_series, request


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


@pytest.fixture(scope="module")
def written(demo: DemoSeries, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name, signed in (("open", False), ("signed", True)):
        result = export_results(demo.index, demo.volume, request(demo.volume, signed=signed), folder / name)
        out[name] = Path(result.of_kind(ObjectKind.SR).path)
        out[f"{name}-seg"] = Path(result.of_kind(ObjectKind.SEG).path)
    return out


def _report(path: Path) -> hd.sr.MeasurementReport:
    sr = hd.sr.srread(path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    return sr.content


def _evaluations(group: hd.sr.MeasurementsAndQualitativeEvaluations) -> dict[str, str]:
    return {e.name.meaning: e.value.meaning for e in group.get_qualitative_evaluations()}


def _texts(group: hd.sr.Template) -> dict[str, str]:
    """The TEXT children of a group or measurement (algorithm name and version, tracking id, note)."""
    items = group[0].get("ContentSequence", [])
    return {i.ConceptNameCodeSequence[0].CodeMeaning: i.TextValue for i in items if i.ValueType == "TEXT"}


def _measurements(group: hd.sr.MeasurementsAndQualitativeEvaluations) -> dict[str, tuple[float, str]]:
    return {m.name.meaning: (float(m.value), m.unit.value) for m in group.get_measurements()}


def test_report_before_signoff_is_unverified(written: dict[str, Path]) -> None:
    sr = hd.sr.srread(written["open"])
    assert (sr.VerificationFlag, sr.CompletionFlag, sr.PreliminaryFlag) == ("UNVERIFIED", "PARTIAL", "PRELIMINARY")
    assert "VerifyingObserverSequence" not in sr


def test_report_after_signoff_is_verified_by_the_reviewer_at_signoff_time(written: dict[str, Path]) -> None:
    sr = hd.sr.srread(written["signed"])
    assert (sr.VerificationFlag, sr.CompletionFlag, sr.PreliminaryFlag) == ("VERIFIED", "COMPLETE", "FINAL")
    observer = sr.VerifyingObserverSequence[0]
    assert str(observer.VerifyingObserverName) == "Radiologist^Rita"
    assert observer.VerificationDateTime == "20250304101112.345000+0000"
    assert observer.VerifyingOrganization


def test_each_lesion_group_references_its_segment(written: dict[str, Path]) -> None:
    groups = _report(written["open"]).get_volumetric_roi_measurement_groups()
    seg = hd.seg.segread(written["open-seg"])
    assert [g.tracking_identifier for g in groups] == ["Lesion F1", "Lesion F2", "Lesion R1"]
    for number, group in enumerate(groups, start=1):
        ref = group.referenced_segment
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert ref.referenced_segment_numbers == [number]
        assert group.tracking_uid == seg.get_segment_description(number).tracking_uid


def test_groups_hold_type_site_measurements_class_and_decision(written: dict[str, Path], demo: DemoSeries) -> None:
    groups = _report(written["open"]).get_volumetric_roi_measurement_groups()
    first = groups[0]
    assert first.finding_type.value == "108369006"
    assert [s.value.value for s in first.finding_sites] == ["39607008"]
    assert first.tracking_uid == tracking_uid("review-7", "F1")
    finding = request(demo.volume).findings[0].finding
    values = _measurements(first)
    assert values["Volume"] == (pytest.approx(finding.volume_ml, abs=1e-4), "cm3")
    assert values["Long Axis"] == (44.0, "mm")
    assert values["Short Axis"] == (pytest.approx(39.6), "mm")
    assert values["Attenuation Coefficient"] == (25.0, "[hnsf'U]")
    assert values["AI lesion class probability"] == (pytest.approx(0.8), "1")
    assert values["AI detection probability (maximum)"] == (pytest.approx(0.93), "1")
    assert [_evaluations(g)["Review decision"] for g in groups] == [
        "Accepted", "Accepted with an edited outline", "Added by the radiologist"
    ]  # fmt: skip
    assert _evaluations(first)["AI lesion class"] == "solid"
    assert "AI lesion class" not in _evaluations(groups[2])  # drawn by hand: no AI class, no AI probability
    assert "AI detection probability (maximum)" not in _measurements(groups[2])


def test_the_algorithm_is_named_for_ai_findings_only(written: dict[str, Path]) -> None:
    texts = [_texts(g) for g in _report(written["open"]).get_volumetric_roi_measurement_groups()]
    for text in texts[:2]:
        assert (text["Algorithm Name"], text["Algorithm Version"]) == (SEG_MODEL.id, SEG_MODEL.version)
    assert "Algorithm Name" not in texts[2]
    assert CLS_MODEL.id not in {t.get("Algorithm Name") for t in texts}
    first = _report(written["open"]).get_volumetric_roi_measurement_groups()[0]
    by_measurement = {m.name.meaning: _texts(m).get("Algorithm Name") for m in first.get_measurements()}
    assert by_measurement["AI lesion class probability"] == CLS_MODEL.id
    assert by_measurement["AI detection probability (maximum)"] == SEG_MODEL.id
    assert by_measurement["Volume"] is None


def test_rejected_finding_is_reported_with_its_reason_and_no_segment(written: dict[str, Path]) -> None:
    report = _report(written["open"])
    rejected = report.get_image_measurement_groups()
    assert [g.tracking_identifier for g in rejected] == ["Lesion F3"]
    evaluations = _evaluations(rejected[0])
    assert evaluations["Review decision"] == "Rejected"
    assert evaluations["Reason for rejection"] == "other"
    assert _texts(rejected[0])["Review note"] == "calcified granuloma"


def test_a_single_lesion_references_its_segment_and_source_images(demo: DemoSeries, tmp_path: Path) -> None:
    only = request(demo.volume).findings[1:2]
    result = export_results(demo.index, demo.volume, request(demo.volume, findings=only), tmp_path)
    (group,) = _report(Path(result.of_kind(ObjectKind.SR).path)).get_volumetric_roi_measurement_groups()
    ref = group.referenced_segment
    assert ref.referenced_segment_numbers == [1]
    sources = {i.referenced_sop_instance_uid for i in ref.source_images_for_segmentation}
    finding = only[0].finding
    slices = [finding.bbox[0] + k for k, plane in enumerate(finding.mask) if plane.any()]
    assert sources == {demo.volume.source_sop_instance_uids[z] for z in slices}


def test_unreviewed_findings_say_so(demo: DemoSeries, tmp_path: Path) -> None:
    from dataclasses import replace

    items = tuple(replace(f, decision=ExportDecision.NOT_REVIEWED) for f in request(demo.volume).findings[:2])
    result = export_results(demo.index, demo.volume, request(demo.volume, findings=items), tmp_path)
    groups = _report(Path(result.of_kind(ObjectKind.SR).path)).get_volumetric_roi_measurement_groups()
    assert [_evaluations(g)["Review decision"] for g in groups] == ["Not yet reviewed"] * 2


def test_a_rejection_needs_a_reason(demo: DemoSeries) -> None:
    finding = request(demo.volume).findings[3]
    with pytest.raises(ValueError, match="without a reason"):
        ExportedFinding(finding.finding, ExportDecision.REJECTED, finding.algorithm, finding.model)
