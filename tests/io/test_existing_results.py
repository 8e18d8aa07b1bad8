"""Existing results: describing SEG / SR / RTSTRUCT objects, putting them on a series, reading TID 1500.

Generated objects on the bundled demo CT (never skipped) and the real corpus (skipped without it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.core.labels import LabelRole
from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.core.results import RegionKind, ResultKind, SrRegion
from meddiag_desktop.errors import DicomReadError, UnsupportedDicomError
from meddiag_desktop.io.existing_results import describe_result, load_overlay
from meddiag_desktop.io.export import export_results
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.rtstruct import read_structure_set, structure_labels
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series
from meddiag_desktop.io.sr_reports import read_report, region_index
from meddiag_desktop.ui.browser.snapshot import read_snapshot, result_entry, result_records
from tests.export_helpers import DemoSeries, demo_series, request
from tests.results_helpers import (
    NODE,
    TUMOUR,
    box_mask,
    deflated_copy,
    rle_1bit_copy,
    study_folder,
    write_rtstruct,
    write_seg,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


@pytest.fixture(scope="module")
def seg(demo: DemoSeries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seg(tmp_path_factory.mktemp("seg") / "seg.dcm", demo.volume, {"Nodule 1": TUMOUR, "Node": NODE})


def _full(mask: object, shape: tuple[int, int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    z, y, x = mask.offset  # type: ignore[attr-defined]
    d, h, w = mask.mask.shape  # type: ignore[attr-defined]
    out[z : z + d, y : y + h, x : x + w] = mask.mask  # type: ignore[attr-defined]
    return out


# -- SEG ------------------------------------------------------------------------------------------


def test_generated_seg_is_described_with_its_segments_colours_and_series(demo: DemoSeries, seg: Path) -> None:
    summary = describe_result(seg, ObjectKind.SEG, demo.study_uid)
    assert (summary.kind, summary.title, summary.count_text) == (ResultKind.SEG, "Reference nodules", "2 segments")
    assert [i.name for i in summary.items] == ["Nodule 1", "Node"]
    assert summary.items[0].role is LabelRole.LESION
    r, g, b = summary.items[0].colour  # magenta, through CIELab and back
    assert r > 200 and g < 60 and b > 200
    assert summary.referenced_series_uids == (demo.volume.series_instance_uid,)
    assert summary.problem == ""
    v = demo.volume
    assert summary.references(v.series_instance_uid, v.frame_of_reference_uid, demo.study_uid)
    assert not summary.references("1.2.3", v.frame_of_reference_uid, demo.study_uid)


def test_seg_overlay_holds_each_segment_cropped_where_it_was_drawn(demo: DemoSeries, seg: Path) -> None:
    summary = describe_result(seg, ObjectKind.SEG, demo.study_uid)
    overlay = load_overlay(summary, demo.volume)
    assert [m.item.name for m in overlay.masks] == ["Nodule 1", "Node"]
    nodule, node = overlay.masks
    assert np.array_equal(_full(nodule, demo.volume.shape), box_mask(demo.volume.shape, TUMOUR))
    assert np.array_equal(_full(node, demo.volume.shape), box_mask(demo.volume.shape, NODE))
    assert nodule.mask.shape == (5, 30, 35)  # cropped, not a full 64 x 512 x 512 array
    assert nodule.centroid_index() == pytest.approx((32.0, 284.5, 157.0))
    only_node = load_overlay(summary, demo.volume, numbers=frozenset({2}))
    assert [m.item.name for m in only_node.masks] == ["Node"]


@pytest.mark.parametrize(("encode", "words"), [(rle_1bit_copy, "1-bit frames compressed with RLE"),
                                               (deflated_copy, "Deflated Image Frame Compression")])  # fmt: skip
def test_undecodable_seg_is_listed_with_a_plain_reason_and_never_drawn(
    demo: DemoSeries, seg: Path, tmp_path: Path, encode: object, words: str
) -> None:
    path = encode(seg, tmp_path / "copy.dcm")  # type: ignore[operator]
    summary = describe_result(path, ObjectKind.SEG, demo.study_uid)
    assert words in summary.problem and "cannot decode" in summary.problem
    assert summary.count_text == "2 segments"  # the header is still read: it is listed with its segments
    with pytest.raises(UnsupportedDicomError, match="cannot decode"):
        load_overlay(summary, demo.volume)


def test_undecodable_pixels_are_refused_even_when_the_header_looks_fine(demo: DemoSeries, seg: Path,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    """The decoder's own failure is a typed error with the encoding named, not a crash."""
    path = rle_1bit_copy(seg, tmp_path / "rle.dcm")
    summary = describe_result(path, ObjectKind.SEG, demo.study_uid)
    with pytest.raises(UnsupportedDicomError, match="RLE Lossless"):
        load_overlay(replace(summary, problem=""), demo.volume)


def test_not_dicom_is_described_not_raised(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").write_bytes(b"junk")
    summary = describe_result(tmp_path / "x.dcm", ObjectKind.SEG, "1.2")
    assert summary.problem.startswith("cannot be read")


# -- RT structure sets ---------------------------------------------------------------------------


def test_generated_rtstruct_is_described_with_names_colours_roles_and_points(demo: DemoSeries, tmp_path: Path) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", demo.volume)
    summary = describe_result(path, ObjectKind.RTSTRUCT, demo.study_uid)
    assert (summary.title, summary.count_text) == ("Planning contours", "4 structures")
    items = {i.name: i for i in summary.items}
    assert items["GTV-1"].colour == (255, 0, 0) and items["GTV-1"].role is LabelRole.LESION
    assert items["Lung R"].role is LabelRole.ORGAN and items["PTV-1"].role is LabelRole.OTHER
    assert not items["Isocenter"].drawable and "nothing to outline" in items["Isocenter"].note
    assert summary.referenced_series_uids == (demo.volume.series_instance_uid,)
    assert summary.frame_of_reference_uid == demo.volume.frame_of_reference_uid


def test_rtstruct_overlay_fills_each_contour_on_its_slice(demo: DemoSeries, tmp_path: Path) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", demo.volume)
    summary = describe_result(path, ObjectKind.RTSTRUCT, demo.study_uid)
    overlay = load_overlay(summary, demo.volume)
    assert [m.item.name for m in overlay.masks] == ["GTV-1", "Lung R", "PTV-1"]  # the point has nothing to fill
    gtv = overlay.mask_of(1)
    assert gtv is not None
    assert np.array_equal(_full(gtv, demo.volume.shape), box_mask(demo.volume.shape, TUMOUR))
    lung = overlay.mask_of(2)
    assert lung is not None and lung.voxels == 2 * 160 * 140


def test_structures_drawn_on_another_frame_of_reference_get_a_clear_message(demo: DemoSeries, tmp_path: Path) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", demo.volume, frame="1.2.826.0.1.3680043.8.498.999")
    summary = describe_result(path, ObjectKind.RTSTRUCT, demo.study_uid)
    with pytest.raises(DicomReadError, match="another frame of reference"):
        load_overlay(summary, demo.volume)
    folder = study_folder(tmp_path / "study", path)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [(study, record)] = result_records(read_snapshot(index))
        entry = result_entry(index, study, record)
    assert "another frame of reference" in entry.summary.problem and "cannot be placed" in entry.summary.problem
    assert [t.series_instance_uid for t in entry.targets] == [demo.volume.series_instance_uid]


# -- TID 1500 measurement reports ----------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(demo: DemoSeries, tmp_path_factory: pytest.TempPathFactory) -> dict[ObjectKind, Path]:
    """The app's own SEG + SR export of hand-made findings on the demo (SR groups reference SEG segments)."""
    result = export_results(demo.index, demo.volume, request(demo.volume), tmp_path_factory.mktemp("export"))
    return {ObjectKind(o.kind.value.lower()): Path(o.path) for o in result.objects}


def test_measurement_report_groups_measurements_units_and_segment_regions(
    demo: DemoSeries, exported: dict[ObjectKind, Path]
) -> None:
    summary = describe_result(exported[ObjectKind.SR], ObjectKind.SR, demo.study_uid)
    assert (summary.kind, summary.count_text, summary.problem) == (ResultKind.SR, "4 measurement groups", "")
    assert demo.volume.series_instance_uid in summary.referenced_series_uids
    report = read_report(exported[ObjectKind.SR])
    groups = {g.tracking_id: g for g in report.groups}
    assert set(groups) == {"Lesion F1", "Lesion F2", "Lesion R1", "Lesion F3"}
    f1 = groups["Lesion F1"]
    assert f1.finding == "Neoplasm"
    values = {m.name: m.text for m in f1.measurements}
    assert values["Long Axis"] == "44 mm" and values["Attenuation Coefficient"] == "25 HU"
    assert values["Volume"].endswith("cm³")
    seg_uid = describe_result(exported[ObjectKind.SEG], ObjectKind.SEG, demo.study_uid).sop_instance_uid
    assert f1.region.kind is RegionKind.SEGMENT and f1.region.sop_instance_uid == seg_uid
    assert {groups[t].region.segment_number for t in ("Lesion F1", "Lesion F2", "Lesion R1")} == {1, 2, 3}
    assert groups["Lesion F3"].region.kind is not RegionKind.SEGMENT  # rejected: no segment


def test_image_regions_map_to_their_slice_and_pixel(demo: DemoSeries) -> None:
    volume = demo.volume
    uid = volume.source_sop_instance_uids[12]
    circle = SrRegion(RegionKind.IMAGE_REGION, uid, ((100.5, 200.5), (110.5, 200.5)), "CIRCLE")
    assert region_index(circle, volume) == (12.0, 200.0, 100.0)  # centre pixel (column 100, row 200)
    polygon = SrRegion(RegionKind.IMAGE_REGION, uid, ((10.5, 20.5), (30.5, 20.5), (30.5, 40.5), (10.5, 40.5)))
    assert region_index(polygon, volume) == (12.0, 30.0, 20.0)
    assert region_index(SrRegion(RegionKind.IMAGE_REGION, "1.2.3", ((1.0, 1.0),)), volume) is None
    point = volume.index_to_lps((20.0, 100.0, 300.0))
    lps = SrRegion(RegionKind.POINTS_3D, points=(tuple(float(v) for v in point),), graphic_type="POINT")
    assert region_index(lps, volume) == pytest.approx((20.0, 100.0, 300.0))


# -- index ------------------------------------------------------------------------------------------


def test_structure_sets_are_results_and_old_indexes_are_migrated(demo: DemoSeries, tmp_path: Path) -> None:
    folder = study_folder(tmp_path / "study", write_rtstruct(tmp_path / "rs.dcm", demo.volume))
    path = tmp_path / "index.sqlite"
    with SeriesIndex(path) as index:
        scan(folder, index)
        [(study, record)] = index.result_instances()
        assert record.kind is ObjectKind.RTSTRUCT and study == demo.study_uid
    with sqlite3.connect(path) as db:  # what schema 1 wrote for a structure set
        db.execute("UPDATE instances SET kind='other' WHERE kind='rtstruct'")
        db.execute("UPDATE series SET kind='other' WHERE kind='rtstruct'")
        db.execute("UPDATE meta SET value='1' WHERE key='schema'")
    db.close()
    with SeriesIndex(path) as index:
        [(_, record)] = index.result_instances()
        assert record.kind is ObjectKind.RTSTRUCT
        assert {s.kind for s in index.series()} == {ObjectKind.IMAGE, ObjectKind.RTSTRUCT}


# -- the real corpus ------------------------------------------------------------------------------


@pytest.mark.corpus
def test_nsclc_structure_set_on_its_ct(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / "nsclc_radiomics" / "LUNG1-001"
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [(study, record)] = index.result_instances()
        summary = describe_result(Path(record.path), record.kind, study)
        [uid] = summary.referenced_series_uids
        volume = load_series(index, uid, threads=2)[0]
    assert (summary.title, summary.count_text) == ("RCCT020209", "17 structures")
    items = {i.name: i for i in summary.items}
    assert items["GTV-1"].colour == (64, 64, 255) and items["GTV-1"].role is LabelRole.LESION
    assert items["Patient"].role is LabelRole.OTHER and not items["I1"].drawable
    overlay = load_overlay(summary, volume, numbers=frozenset({items["GTV-1"].number}))
    [gtv] = overlay.masks
    [reference] = [label for label in structure_labels(read_structure_set(Path(record.path)), volume)
                   if label.name == "GTV-1"]  # fmt: skip
    assert np.array_equal(_full(gtv, volume.shape), reference.mask)
    assert 150 < gtv.voxels * float(np.prod(volume.spacing)) / 1000 < 170  # about 160 mL


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "words"), [("liver_rle.dcm", "RLE"), ("liver_deflate.dcm", "Deflated"),
                                             ("liver_nonbyte_aligned_rle.dcm", "RLE"), ("liver.dcm", "")])  # fmt: skip
def test_codec_zoo_segs_say_which_cannot_be_decoded(corpus: Path, name: str, words: str) -> None:
    summary = describe_result(corpus / "codec_zoo" / "pydicom_data" / name, ObjectKind.SEG, "1.2")
    assert (summary.title, summary.count_text) == ("Liver Segmentation", "1 segment")
    if words:
        assert words in summary.problem and "cannot decode" in summary.problem
    else:
        assert summary.problem == ""


@pytest.mark.corpus
def test_highdicom_reports_and_segs_in_their_study(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / "seg_sr_highdicom"
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        found = {Path(r.path).name: (study, r) for study, r in index.result_instances()}
        ct = next(s for s in index.series() if s.modality == "CT")
        volume = load_series(index, ct.series_instance_uid, threads=1)[0]
    assert "sr_document.dcm" in found  # it shares the CT's series UID, and is still listed
    assert found["sr_document.dcm"][1].series_instance_uid == ct.series_instance_uid
    report = read_report(folder / "sr_document_with_multiple_groups.dcm")
    groups = {g.tracking_id: g for g in report.groups}
    assert set(groups) == {"LungNodule0001", "Aorta0001", "Vertebra0001", "Image0001"}
    nodule = groups["LungNodule0001"]
    assert (nodule.finding, nodule.site) == ("Nodule", "Lung")
    assert (nodule.measurements[0].name, nodule.measurements[0].text) == ("Diameter", "10 mm")
    assert nodule.region.graphic_type == "CIRCLE"
    assert region_index(nodule.region, volume) == (0.0, 54.5, 44.5)  # the circle's centre pixel
    assert groups["Image0001"].region.kind is RegionKind.IMAGE
    seg = describe_result(folder / "seg_image_ct_binary_single_frame.dcm", ObjectKind.SEG, ct.study_instance_uid)
    overlay = load_overlay(seg, volume)
    assert overlay.masks and overlay.masks[0].voxels > 0
