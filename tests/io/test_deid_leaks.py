"""No identifying value of the source survives a de-identified export (PS3.15 Annex E).

The bundled demo (always run) goes out as a reviewed series with its SEG and SR; real corpus
files with rich headers (names in several character sets, IDs, dates, institutions, UIDs,
private tags, nested sequences, overlays) go out one by one. ``tests/io/deid_leaks.py`` says
what counts as identifying and what the profile keeps on purpose.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from meddiag_desktop.core.deid_model import DeidentifyOptions, DeidentifyResult
from meddiag_desktop.io.deid_export import SEG_LABEL, SR_LABEL, deidentify_path, deidentify_results
from tests.export_helpers import DemoSeries, dciodvfy_errors, demo_series, request
from tests.io.deid_leaks import identifying_values, leaks, walk_values

OFFSET = -1234
PSEUDONYM = "Study^Subject-07"
REVIEWER = "Radiologist^Rita"  # the SR and SEG name the reviewer; staff are identifying too (Table E.1-1)
CORPUS_FILES = (
    "codec_zoo/pydicom_data/MR-SIEMENS-DICOM-WithOverlays.dcm",  # Siemens private groups, overlay planes
    "codec_zoo/pylibjpeg_data/JPEG2000Lossless/JPEG2KLossless_1s_1f_u_16_16.dcm",  # Cyrillic name, no charset
    "codec_zoo/pylibjpeg_data/JPEG2000Lossless/J2K_pixelrep_mismatch.dcm",  # Japanese ISO 2022 IR 87 name
    "codec_zoo/pydicom_data/eCT_Supplemental.dcm",  # enhanced CT: 26 nested sequences
    "codec_zoo/pylibjpeg_data/JPEGLS/CT1_JLSN.dcm",  # 179 GE private attributes
    "codec_zoo/pydicom_data/JPGLosslessP14SV1_1s_1f_8b.dcm",  # US with BurnedInAnnotation NO, nested
    "codec_zoo/pydicom_data/liver.dcm",  # a SEG with its references
    "codec_zoo/pydicom_data/explicit_VR-UN.dcm",  # attributes stored with VR UN
    "codec_zoo/pylibjpeg_data/JPEG2000/MAROTECH_CT_JP2Lossy.dcm",  # 64 private attributes, 15 sequences
    "lung_pet_ct_dx/A0001_philips_lungkernel_L/1-01.dcm",  # TCIA: private CTP group, method codes
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


@pytest.fixture(scope="module")
def exported(demo: DemoSeries, tmp_path_factory: pytest.TempPathFactory) -> DeidentifyResult:
    """The demo series with a signed review's SEG and SR, de-identified together."""
    options = DeidentifyOptions(PSEUDONYM, date_offset_days=OFFSET)
    out = tmp_path_factory.mktemp("deid")
    return deidentify_results(demo.index, demo.volume, request(demo.volume, signed=True), out, options)


def _sources(demo: DemoSeries) -> list[Dataset]:
    return [pydicom.dcmread(r.path) for r in demo.index.instances(demo.volume.series_instance_uid)]


def _read(result: DeidentifyResult, label: str) -> Dataset:
    item = result.from_source(label)
    assert item is not None, f"nothing written for {label}"
    return pydicom.dcmread(item.path)


def test_no_identifying_value_of_the_demo_survives_in_any_file(demo: DemoSeries, exported: DeidentifyResult) -> None:
    files = [Path(f.path) for f in exported.files]
    assert len(files) == demo.volume.shape[0] + 2 and not exported.skipped
    sources = _sources(demo)
    found = identifying_values(sources[0])
    assert {"Lung_Dx-A0001", "Lung-PET-CT-Dx", "20070404", str(sources[0].StudyInstanceUID)} <= found.keys()
    assert leaks(sources, files, extra={REVIEWER: "reviewer", "Rita": "reviewer"}) == []
    for path in files:
        ds = pydicom.dcmread(path)
        assert (str(ds.PatientName), ds.PatientID, ds.PatientIdentityRemoved) == (PSEUDONYM, PSEUDONYM, "YES")
        assert not [e for e in ds.iterall() if e.tag.is_private], path.name


def test_the_seg_and_sr_reference_the_exported_images_and_each_other(
    demo: DemoSeries, exported: DeidentifyResult
) -> None:
    images = [pydicom.dcmread(f.path) for f in exported.files if f.source not in (SEG_LABEL, SR_LABEL)]
    seg, sr = _read(exported, SEG_LABEL), _read(exported, SR_LABEL)
    image_uids = {str(ds.SOPInstanceUID) for ds in images}
    original = {r.sop_instance_uid for r in demo.index.instances(demo.volume.series_instance_uid)}
    assert len(image_uids) == len(images) and not image_uids & original
    study = {str(ds.StudyInstanceUID) for ds in [*images, seg, sr]}
    frame = {str(ds.FrameOfReferenceUID) for ds in [*images, seg]}
    assert len(study) == 1 and len(frame) == 1 and len({str(ds.SeriesInstanceUID) for ds in images}) == 1
    series = seg.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == images[0].SeriesInstanceUID
    assert {str(i.ReferencedSOPInstanceUID) for i in series.ReferencedInstanceSequence} <= image_uids
    derived = {
        str(src.ReferencedSOPInstanceUID)
        for frame_item in seg.PerFrameFunctionalGroupsSequence
        for src in frame_item.DerivationImageSequence[0].SourceImageSequence
    }
    assert derived and derived <= image_uids
    evidence = {
        str(i.ReferencedSOPInstanceUID)
        for study_item in sr.CurrentRequestedProcedureEvidenceSequence
        for s in study_item.ReferencedSeriesSequence
        for i in s.ReferencedSOPSequence
    }
    assert evidence == image_uids | {str(seg.SOPInstanceUID)}
    sr_values = {text for where, vr, text in walk_values(sr) if vr == "UI"}
    assert str(seg.SOPInstanceUID) in sr_values  # the lesions' Referenced Segment
    tracking = {str(s.TrackingUID) for s in seg.SegmentSequence}
    assert tracking and tracking <= sr_values  # the same Tracking UIDs in both objects


def test_dates_move_by_one_offset_and_times_stay(demo: DemoSeries, exported: DeidentifyResult) -> None:
    by_position = {str(ds.ImagePositionPatient): ds for ds in _sources(demo)}
    for item in exported.files:
        ds = pydicom.dcmread(item.path)
        if item.source in (SEG_LABEL, SR_LABEL):
            continue
        source = by_position[str(ds.ImagePositionPatient)]
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "InstanceCreationDate"):
            assert ds.get(keyword) == _shift(source.get(keyword)), keyword
        assert (ds.StudyTime, ds.AcquisitionTime) == (source.StudyTime, source.AcquisitionTime)
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
        assert ds.get("PatientBirthDate", "") == ""
    seg, sr = _read(exported, SEG_LABEL), _read(exported, SR_LABEL)
    first = next(iter(by_position.values()))
    assert seg.StudyDate == sr.StudyDate == _shift(first.StudyDate)
    today = {_shift(f"{d:%Y%m%d}") for d in (date.today() - timedelta(days=1), date.today())}
    assert seg.ContentDate in today and sr.ContentDate in today  # made today, moved like every other date
    signed = sr.VerifyingObserverSequence[0].VerificationDateTime
    assert signed.startswith(_shift("20250304")) and signed[8:14] == "101112"  # tests.export_helpers.SIGNED_UTC


def test_method_and_options_are_recorded(exported: DeidentifyResult) -> None:
    for label in (SEG_LABEL, SR_LABEL):
        ds = _read(exported, label)
        codes = [(c.CodingSchemeDesignator, c.CodeValue) for c in ds.DeidentificationMethodCodeSequence]
        assert codes[:2] == [("DCM", "113100"), ("DCM", "113107")]
        assert ("DCM", "113104") in codes if label == SR_LABEL else len(codes) == 2


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_FILES, ids=lambda n: Path(n).name)
def test_no_identifying_value_of_a_corpus_file_survives(corpus: Path, tmp_path: Path, name: str) -> None:
    source_path = corpus / name
    result = deidentify_path(source_path, tmp_path, DeidentifyOptions(PSEUDONYM, date_offset_days=OFFSET))
    assert result.skipped == () and len(result.files) == 1
    source = pydicom.dcmread(source_path)
    assert identifying_values(source), "the test file should hold identifying values"
    exported = Path(result.files[0].path)
    assert leaks([source], [exported]) == []
    ds = pydicom.dcmread(exported)
    assert not [e for e in ds.iterall() if e.tag.is_private or 0x6000 <= e.tag.group <= 0x601E]
    kept = {e.keyword for e in ds if e.VR == "SQ"}
    assert kept <= {e.keyword for e in source if e.VR == "SQ"} | {"DeidentificationMethodCodeSequence"}
    functional_groups = {"SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"}
    assert functional_groups & set(source.dir()) <= kept  # nested content is cleaned, not dropped
    assert ds.SOPClassUID == source.SOPClassUID and ds.SOPInstanceUID != source.SOPInstanceUID


def _shift(value: str | None) -> str | None:
    if not value:
        return value
    moved = date(int(value[:4]), int(value[4:6]), int(value[6:8])) + timedelta(days=OFFSET)
    return f"{moved:%Y%m%d}"


def test_the_deidentified_seg_and_sr_still_pass_dciodvfy(exported: DeidentifyResult) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed; run packaging/ensure_system_packages.sh")
    for label in (SEG_LABEL, SR_LABEL):
        item = exported.from_source(label)
        assert item is not None
        errors, output = dciodvfy_errors(Path(item.path))
        assert not errors, f"{label}:\n{output}"
