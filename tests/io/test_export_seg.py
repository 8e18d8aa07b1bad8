"""DICOM SEG export of reviewed findings on the bundled demo CT (hand-built sphere findings)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest

from meddiag_desktop.core.export_model import ExportDecision, ExportRequest, ObjectKind
from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.errors import ExportError
from meddiag_desktop.io.export import export_results
from meddiag_desktop.io.export_common import read_sources, tracking_uid
from meddiag_desktop.io.export_seg import build_segmentation
from meddiag_desktop.io.seg_labels import seg_labels
from tests.export_helpers import SEG_MODEL, DemoSeries, demo_series, request


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


@pytest.fixture(scope="module")
def seg(demo: DemoSeries) -> hd.seg.Segmentation:
    return build_segmentation(read_sources(demo.index, demo.volume), demo.volume, request(demo.volume))


def test_one_segment_per_lesion_and_rejected_findings_left_out(seg: hd.seg.Segmentation) -> None:
    labels = [item.SegmentLabel for item in seg.SegmentSequence]
    assert labels == ["F1 neoplasm", "F2 nodule", "R1 nodule"]  # F3 was rejected
    assert [int(i.SegmentNumber) for i in seg.SegmentSequence] == [1, 2, 3]
    assert seg.SegmentationType == "BINARY"
    referenced = {
        int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber) for f in seg.PerFrameFunctionalGroupsSequence
    }
    assert referenced == {1, 2, 3}


def test_segments_are_coded_lesions_with_who_drew_them(seg: hd.seg.Segmentation) -> None:
    items = list(seg.SegmentSequence)
    for item in items:
        assert item.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
        assert item.SegmentedPropertyCategoryCodeSequence[0].CodingSchemeDesignator == "SCT"
    assert [i.SegmentedPropertyTypeCodeSequence[0].CodeValue for i in items] == ["108369006", "27925004", "27925004"]
    assert [i.SegmentAlgorithmType for i in items] == ["AUTOMATIC", "SEMIAUTOMATIC", "MANUAL"]
    for item in items[:2]:
        algorithm = item.SegmentationAlgorithmIdentificationSequence[0]
        assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == (SEG_MODEL.id, SEG_MODEL.version)
    assert "SegmentationAlgorithmIdentificationSequence" not in items[2]


def test_segments_carry_stable_tracking_uids(seg: hd.seg.Segmentation) -> None:
    uids = [item.TrackingUID for item in seg.SegmentSequence]
    assert uids == [tracking_uid("review-7", fid) for fid in ("F1", "F2", "R1")]
    assert len(set(uids)) == 3
    assert [item.TrackingID for item in seg.SegmentSequence] == ["Lesion F1", "Lesion F2", "Lesion R1"]


def test_frames_reference_the_source_ct_of_their_slice(seg: hd.seg.Segmentation, demo: DemoSeries) -> None:
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == demo.volume.series_instance_uid
    assert seg.FrameOfReferenceUID == demo.volume.frame_of_reference_uid
    slice_of = {uid: z for z, uid in enumerate(demo.volume.source_sop_instance_uids)}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        z = slice_of[source]
        position = np.asarray(frame.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
        np.testing.assert_allclose(position, demo.volume.index_to_lps((z, 0, 0)), atol=1e-3)


def test_round_trip_through_our_loader_and_highdicom_gives_identical_masks(demo: DemoSeries, tmp_path: Path) -> None:
    req = request(demo.volume)
    written = export_results(demo.index, demo.volume, req, tmp_path)
    path = Path(written.of_kind(ObjectKind.SEG).path)
    expected = [f.finding.full_mask(demo.volume.shape) for f in req.lesions]
    labels = seg_labels(path, demo.volume)
    assert [label.name for label in labels] == ["F1 neoplasm", "F2 nodule", "R1 nodule"]
    for label, mask in zip(labels, expected, strict=True):
        assert np.array_equal(label.mask, mask)
    read = hd.seg.segread(path)
    pixels = read.get_pixels_by_source_instance(
        list(demo.volume.source_sop_instance_uids), segment_numbers=[1, 2, 3], assert_missing_frames_are_empty=True
    )
    for k, mask in enumerate(expected):
        assert np.array_equal(pixels[..., k] > 0, mask)


def _reversed(volume: Volume) -> Volume:
    """The same images with the slice axis running the other way (the loader's order is not file order)."""
    affine = volume.affine.copy()
    affine[:3, 3] = volume.index_to_lps((volume.shape[0] - 1, 0, 0))
    affine[:3, 0] = -affine[:3, 0]
    return replace(volume, array=volume.array[::-1], affine=affine,
                   source_sop_instance_uids=volume.source_sop_instance_uids[::-1])  # fmt: skip


def _flipped(finding: Finding, depth: int) -> Finding:
    z0, y0, x0, z1, y1, x1 = finding.bbox
    return replace(finding, bbox=(depth - z1, y0, x0, depth - z0, y1, x1), mask=finding.mask[::-1])


def test_mask_slices_go_to_their_source_instances_whatever_the_slice_order(demo: DemoSeries, tmp_path: Path) -> None:
    flipped_volume = _reversed(demo.volume)
    original = request(demo.volume)
    findings = tuple(replace(f, finding=_flipped(f.finding, demo.volume.shape[0])) for f in original.findings)
    written = export_results(demo.index, flipped_volume, ExportRequest(original.series_instance_uid, findings,
                             original.context), tmp_path)  # fmt: skip
    labels = seg_labels(Path(written.of_kind(ObjectKind.SEG).path), demo.volume)
    for label, item in zip(labels, original.lesions, strict=True):
        assert np.array_equal(label.mask, item.finding.full_mask(demo.volume.shape))


def test_only_rejected_findings_give_a_report_without_segmentation(demo: DemoSeries, tmp_path: Path) -> None:
    rejected = tuple(f for f in request(demo.volume).findings if f.decision is ExportDecision.REJECTED)
    req = request(demo.volume, findings=rejected)
    with pytest.raises(ExportError, match="no segmentation"):
        build_segmentation(read_sources(demo.index, demo.volume), demo.volume, req)
    written = export_results(demo.index, demo.volume, req, tmp_path)
    assert [o.kind for o in written.objects] == [ObjectKind.SR]


def test_a_finding_outside_the_volume_is_refused(demo: DemoSeries, tmp_path: Path) -> None:
    first = request(demo.volume).findings[1]
    z0, y0, x0, z1, y1, x1 = first.finding.bbox
    shifted = replace(first.finding, bbox=(z0 + 60, y0, x0, z1 + 60, y1, x1))
    with pytest.raises(ExportError, match="outside this series"):
        export_results(demo.index, demo.volume, request(demo.volume, findings=(replace(first, finding=shifted),)),
                       tmp_path)  # fmt: skip
    assert not list(tmp_path.iterdir())
