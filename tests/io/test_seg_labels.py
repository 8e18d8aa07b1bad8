"""DICOM SEG -> reference labels: highdicom-written SEGs on generated CT, and the real corpus files."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from meddiag_desktop.core.labels import LabelRole
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.errors import DicomReadError, UnsupportedDicomError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.seg_labels import read_seg_references, read_segments, seg_labels
from meddiag_desktop.io.series_loader import load_series
from tests.validation.helpers import chest_hu, ct_datasets, volume_of

LESION_CATEGORY = Code("49755003", "SCT", "Morphologically Altered Structure")
NODULE = Code("27925004", "SCT", "Nodule")
ANATOMY = Code("123037004", "SCT", "Anatomical Structure")
LUNG = Code("39607008", "SCT", "Lung")
SEG_CT = "seg_sr_highdicom"
PYDICOM_CT2 = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests" / "77654033" / "CT2"


def describe(
    number: int, label: str, category: Code, kind: Code, algorithm: str = "MANUAL"
) -> hd.seg.SegmentDescription:
    ident = None
    if algorithm == "AUTOMATIC":
        ident = hd.AlgorithmIdentificationSequence("test", Code("123110", "DCM", "Artificial Intelligence"), "1")
    return hd.seg.SegmentDescription(number, label, category, kind, algorithm, ident)


def write_seg(path: Path, sources: list, pixels: np.ndarray, kind: str, segments: list, **kw: object) -> Path:
    seg = hd.seg.Segmentation(
        sources, pixels, kind, segments, generate_uid(), 300, generate_uid(), 1, "ACME", "Seg", "1", "1", **kw
    )  # type: ignore[arg-type]
    seg.save_as(path)
    return path


@pytest.fixture
def ct() -> tuple[list, Volume]:
    datasets = ct_datasets(chest_hu((6, 32, 32)))
    return datasets, volume_of(datasets)


def masks(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    nodule = np.zeros(shape, dtype=bool)
    nodule[2:4, 10:15, 12:18] = True
    lung = np.zeros(shape, dtype=bool)
    lung[1:5, 5:25, 5:12] = True
    return nodule, lung


def test_binary_seg_segments_land_on_their_slices_with_roles(ct: tuple[list, Volume], tmp_path: Path) -> None:
    datasets, volume = ct
    nodule, lung = masks(volume.shape)
    pixels = np.stack([nodule, lung], axis=-1).astype(np.uint8)
    segs = [describe(1, "Nodule 1", LESION_CATEGORY, NODULE), describe(2, "Right lung", ANATOMY, LUNG)]
    path = write_seg(tmp_path / "seg.dcm", datasets, pixels, "BINARY", segs)
    labels = {label.name: label for label in seg_labels(path, volume)}
    assert np.array_equal(labels["Nodule 1"].mask, nodule) and labels["Nodule 1"].role is LabelRole.LESION
    assert np.array_equal(labels["Right lung"].mask, lung) and labels["Right lung"].role is LabelRole.ORGAN
    refs = read_seg_references(path)
    assert refs.series_instance_uids == (volume.series_instance_uid,)
    assert set(refs.sop_instance_uids) <= set(volume.source_sop_instance_uids)


def test_fractional_seg_is_inside_from_half_the_maximum(ct: tuple[list, Volume], tmp_path: Path) -> None:
    datasets, volume = ct
    prob = np.zeros(volume.shape, dtype=np.float32)
    prob[2, 10:20, 10:20] = 0.4
    prob[2, 12:16, 12:16] = 0.9
    prob[3, 12:14, 12:14] = 0.5
    segs = [describe(1, "GTV", LESION_CATEGORY, NODULE)]
    path = write_seg(tmp_path / "frac.dcm", datasets, prob, "FRACTIONAL", segs, max_fractional_value=200)
    [label] = seg_labels(path, volume)
    assert np.array_equal(label.mask, prob >= 0.5)


def test_labelmap_seg_gives_one_label_per_segment_number(ct: tuple[list, Volume], tmp_path: Path) -> None:
    datasets, volume = ct
    nodule, lung = masks(volume.shape)
    labelmap = np.zeros(volume.shape, dtype=np.uint8)
    labelmap[lung] = 2
    labelmap[nodule] = 1  # painted last: the nodule wins where they touch
    segs = [describe(1, "mass", LESION_CATEGORY, NODULE), describe(2, "lung", ANATOMY, LUNG)]
    path = write_seg(tmp_path / "lm.dcm", datasets, labelmap, "LABELMAP", segs)
    labels = {label.name: label for label in seg_labels(path, volume)}
    assert np.array_equal(labels["mass"].mask, nodule)
    assert np.array_equal(labels["lung"].mask, lung & ~nodule)


def test_frames_are_placed_by_plane_position_when_the_slices_are_another_series(
    ct: tuple[list, Volume], tmp_path: Path
) -> None:
    """Same positions, other SOP Instance UIDs (e.g. a re-export): the plane positions decide."""
    datasets, volume = ct
    nodule, _ = masks(volume.shape)
    path = write_seg(tmp_path / "seg.dcm", datasets, nodule[..., None].astype(np.uint8), "BINARY",
                     [describe(1, "Nodule", LESION_CATEGORY, NODULE)])  # fmt: skip
    other = replace(volume, source_sop_instance_uids=tuple(generate_uid() for _ in range(volume.shape[0])))
    [label] = seg_labels(path, other)
    assert np.array_equal(label.mask, nodule)
    # a grid shifted by 2 rows (origin moved down): the nodule appears 2 rows higher
    affine = volume.affine.copy()
    affine[:3, 3] += 2 * volume.affine[:3, 1]
    [label] = seg_labels(path, replace(other, affine=affine))
    assert np.array_equal(label.mask[:, 8:13, 12:18], nodule[:, 10:15, 12:18]) and label.mask.sum() == nodule.sum()
    # a grid with two slices fewer at the top: the frames on missing slices are counted, not dropped silently
    cropped = replace(other, array=other.array[:3], source_sop_instance_uids=other.source_sop_instance_uids[:3])
    [label] = seg_labels(path, cropped)
    assert label.mask.sum() == nodule[:3].sum() and "1 frames" in label.warnings[0]


def test_automatic_segments_can_be_left_out_and_another_frame_is_refused(
    ct: tuple[list, Volume], tmp_path: Path
) -> None:
    datasets, volume = ct
    nodule, lung = masks(volume.shape)
    pixels = np.stack([nodule, lung], axis=-1).astype(np.uint8)
    segs = [describe(1, "Nodule", LESION_CATEGORY, NODULE), describe(2, "AI lung", ANATOMY, LUNG, "AUTOMATIC")]
    path = write_seg(tmp_path / "seg.dcm", datasets, pixels, "BINARY", segs)
    assert [s.algorithm_type for s in read_segments(path)] == ["MANUAL", "AUTOMATIC"]
    assert [label.name for label in seg_labels(path, volume, include_automatic=False)] == ["Nodule"]
    with pytest.raises(DicomReadError, match="another frame of reference"):
        seg_labels(path, replace(volume, frame_of_reference_uid="1.2.3.4"))
    with pytest.raises(DicomReadError, match="not a DICOM Segmentation"):
        seg_labels(_ct_file(datasets, tmp_path), volume)


def _ct_file(datasets: list, tmp_path: Path) -> Path:
    path = tmp_path / "ct.dcm"
    datasets[0].save_as(path, enforce_file_format=True)
    return path


def _load(folder: Path, tmp_path: Path, uid: str) -> Volume:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        return max(load_series(index, uid), key=lambda v: v.shape[0])


def test_real_single_frame_seg_on_the_real_ct_image(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ct"
    folder.mkdir()
    shutil.copy(corpus / SEG_CT / "ct_image.dcm", folder)
    source = pydicom.dcmread(folder / "ct_image.dcm")
    volume = _load(folder, tmp_path, str(source.SeriesInstanceUID))
    path = corpus / SEG_CT / "seg_image_ct_binary_single_frame.dcm"
    [label] = seg_labels(path, volume)
    expected = pydicom.dcmread(path).pixel_array > 0
    assert label.mask.shape == (1, 128, 128) and np.array_equal(label.mask[0], expected)
    assert label.role is LabelRole.OTHER  # "first segment", tissue / bone: not a lesion


@pytest.mark.parametrize(
    "name", ["seg_image_ct_binary", "seg_image_ct_binary_fractional", "seg_image_ct_binary_overlap"]
)
def test_real_multi_frame_segs_on_the_pydicom_ct_series(corpus: Path, tmp_path: Path, name: str) -> None:
    """The highdicom test SEGs reference pydicom's 4-slice CT2 series (uneven spacing: 1 slice is 200 mm away)."""
    if not PYDICOM_CT2.is_dir():
        pytest.skip("pydicom's test CT series is not installed")
    volume = _load(PYDICOM_CT2, tmp_path, "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2")
    path = corpus / SEG_CT / f"{name}.dcm"
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.reshape(-1, 16, 16).astype(float) >= (ds.get("MaximumFractionalValue", 1) / 2)
    labels = seg_labels(path, volume)
    slice_of = {uid: z for z, uid in enumerate(volume.source_sop_instance_uids)}
    for frame, item in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        z = slice_of[item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]
        segment = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        assert np.array_equal(labels[segment - 1].mask[z], frame)
    assert sum(int(label.mask.sum()) for label in labels) == int(frames.sum())


@pytest.mark.parametrize(
    ("name", "what"), [("liver_rle", "RLE Lossless, 1-bit"), ("liver_deflate", "Deflated Image Frame")]
)
def test_encodings_pydicom_cannot_decode_are_a_clear_error(corpus: Path, name: str, what: str) -> None:
    path = corpus / "codec_zoo" / "pydicom_data" / f"{name}.dcm"
    volume = Volume(np.zeros((3, 512, 512), dtype=np.int16), np.eye(4), modality="CT")
    with pytest.raises(UnsupportedDicomError, match="cannot be decoded here") as info:
        seg_labels(path, volume)
    assert what in str(info.value)
