"""RT Structure Set reading: contours -> masks, on generated structure sets and the real corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from meddiag_desktop.core.labels import LabelRole, role_from_name
from meddiag_desktop.core.volume import Volume, affine_from_dicom
from meddiag_desktop.errors import DicomReadError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.rtstruct import (
    RT_STRUCTURE_SET_STORAGE,
    polygon_mask,
    read_structure_set,
    structure_labels,
)
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

FRAME = "1.2.826.0.1.3680043.8.498.1"


def grid_volume(shape: tuple[int, int, int] = (5, 40, 40), frame: str = FRAME) -> Volume:
    affine = affine_from_dicom((-20.0, -20.0, 0.0), (1, 0, 0, 0, 1, 0), (1.0, 1.0), np.array([0.0, 0.0, 2.5]))
    return Volume(np.zeros(shape, dtype=np.int16), affine, frame_of_reference_uid=frame, modality="CT")


def contour(points_xy: list[tuple[float, float]], z_mm: float, kind: str = "CLOSED_PLANAR") -> Dataset:
    item = Dataset()
    item.ContourGeometricType = kind
    item.NumberOfContourPoints = len(points_xy)
    item.ContourData = [v for x, y in points_xy for v in (x, y, z_mm)]
    return item


def square(x0: float, y0: float, size: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size)]


def write_structure_set(path: Path, rois: dict[str, tuple[str, list[Dataset]]], frame: str = FRAME) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RT_STRUCTURE_SET_STORAGE, generate_uid(), "RTSTRUCT"
    ref = Dataset()
    ref.FrameOfReferenceUID = frame
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref])
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = Sequence(), Sequence(), Sequence()
    for number, (name, (kind, contours)) in enumerate(rois.items(), start=1):
        roi, rc, obs = Dataset(), Dataset(), Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, frame
        rc.ReferencedROINumber, rc.ContourSequence = number, Sequence(contours)
        obs.ObservationNumber, obs.ReferencedROINumber, obs.RTROIInterpretedType = number, number, kind
        ds.StructureSetROISequence.append(roi)
        ds.ROIContourSequence.append(rc)
        ds.RTROIObservationsSequence.append(obs)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_polygon_mask_counts_pixel_centres_inside() -> None:
    # a 10 x 10 square from (2.5, 2.5) to (12.5, 12.5) holds pixel centres 3..12 in each direction
    mask = polygon_mask(np.array([[2.5, 2.5], [2.5, 12.5], [12.5, 12.5], [12.5, 2.5]]), (20, 20))
    assert mask.sum() == 100
    assert mask[3:13, 3:13].all()
    # a triangle: half of a 20 x 20 square, within a pixel row of the exact area
    tri = polygon_mask(np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]]), (30, 30))
    assert abs(int(tri.sum()) - 200) <= 20
    assert tri[1, 1] and not tri[15, 15]


def test_polygon_mask_clips_at_the_image_border() -> None:
    mask = polygon_mask(np.array([[-5.0, -5.0], [-5.0, 4.5], [4.5, 4.5], [4.5, -5.0]]), (10, 10))
    assert mask.sum() == 25 and mask[:5, :5].all()


def test_structures_become_masks_with_holes_and_roles(tmp_path: Path) -> None:
    volume = grid_volume()
    ring = [contour(square(-15, -15, 20), 5.0), contour(square(-10, -10, 10), 5.0)]  # hole cut by even-odd
    path = write_structure_set(
        tmp_path / "rs.dcm",
        {
            "GTV-1": ("ORGAN", [contour(square(-5, -5, 10), z) for z in (2.5, 5.0, 7.5)]),
            "Lung R": ("ORGAN", ring),
            "PTV-1": ("PTV", [contour(square(-8, -8, 16), 5.0)]),
            "Isocenter": ("ISOCENTER", [contour([(0.0, 0.0)], 5.0, kind="POINT")]),
        },
    )
    structure_set = read_structure_set(path)
    labels = {label.name: label for label in structure_labels(structure_set, volume)}
    assert set(labels) == {"GTV-1", "Lung R"}  # PTV is a planning margin, a point encloses nothing
    gtv, lung = labels["GTV-1"], labels["Lung R"]
    assert gtv.role is LabelRole.LESION and lung.role is LabelRole.ORGAN
    assert gtv.mask.sum() == 3 * 100 and gtv.mask[1:4].any(axis=(1, 2)).all() and not gtv.mask[0].any()
    assert lung.mask[2].sum() == 400 - 100
    assert not lung.mask[2, 15, 15] and lung.mask[2, 8, 8]  # the ring's centre is its hole
    assert gtv.volume_ml(2.5 / 1000) == pytest.approx(0.75)


def test_a_contour_stored_twice_is_filled_once(tmp_path: Path) -> None:
    twice = [contour(square(-5, -5, 10), 5.0), contour(square(-5, -5, 10), 5.0)]
    path = write_structure_set(tmp_path / "rs.dcm", {"Lung L": ("ORGAN", twice)})
    [label] = structure_labels(read_structure_set(path), grid_volume())
    assert label.mask.sum() == 100


def test_contours_off_the_slice_planes_are_named_not_guessed(tmp_path: Path) -> None:
    path = write_structure_set(tmp_path / "rs.dcm", {"GTV": ("GTV", [contour(square(-5, -5, 10), 3.75)])})
    [label] = structure_labels(read_structure_set(path), grid_volume())
    assert not label.mask.any()
    assert "1 of 1 contours of GTV lie off" in label.warnings[0]


def test_other_frame_of_reference_is_refused(tmp_path: Path) -> None:
    path = write_structure_set(tmp_path / "rs.dcm", {"GTV": ("GTV", [contour(square(-5, -5, 10), 5.0)])})
    with pytest.raises(DicomReadError, match="another frame of reference"):
        structure_labels(read_structure_set(path), grid_volume(frame="1.2.3.4"))


def test_not_a_structure_set_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(DicomReadError, match="could not be read as DICOM"):
        read_structure_set(tmp_path / "x.dcm")


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("GTV-1", "lesion"),
        ("GTVp", "lesion"),
        ("Tumour", "lesion"),
        ("Lung L", "organ"),
        ("Heart", "organ"),
        ("CTV-1", "other"),
        ("PTV-1", "other"),
        ("Patient", "other"),
        ("contrast", "other"),
        ("1,SUV_primair", "other"),
    ],
)
def test_role_from_name(name: str, role: str) -> None:
    assert role_from_name(name).value == role


# The corpus README's volumes (even-odd rasterisation) and the planning system's own ROI Volume
# (3006,002C) stored in each file; ours must agree with the latter within 2 % (1.3 % on the
# 8.7 mL GTV-3, where the planning system's own boundary rule matters most).
NSCLC = {
    "LUNG1-001": {"GTV-1": 163.0},
    "LUNG1-002": {"GTV-1": 368.0},
    "LUNG1-003": {"GTV-1": 37.0, "GTV-2": 41.0, "GTV-3": 10.0},
}


@pytest.mark.corpus
@pytest.mark.parametrize("patient", sorted(NSCLC))
def test_real_structure_sets_match_reference_volumes(corpus: Path, tmp_path: Path, patient: str) -> None:
    folder = corpus / "nsclc_radiomics" / patient
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder / "ct", index)
        [series] = index.series()
        [volume] = load_series(index, series.series_instance_uid)
    structure_set = read_structure_set(folder / "rtstruct.dcm")
    assert volume.series_instance_uid in structure_set.series_instance_uids
    labels = {label.name: label for label in structure_labels(structure_set, volume)}
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    stored = {
        str(r.ROIName): float(r.ROIVolume)
        for r in pydicom.dcmread(folder / "rtstruct.dcm").StructureSetROISequence
        if "ROIVolume" in r
    }
    lesions = {n for n, label in labels.items() if label.role is LabelRole.LESION}
    assert lesions == set(NSCLC[patient])
    for name, readme_ml in NSCLC[patient].items():
        ours = labels[name].volume_ml(voxel_ml)
        assert ours == pytest.approx(stored[name], rel=0.02)
        assert ours == pytest.approx(readme_ml, rel=0.15)
        assert labels[name].warnings == ()
    assert {"Lung L", "Lung R"} <= {n for n, label in labels.items() if label.role is LabelRole.ORGAN}
    left, right = labels["Lung L"].mask, labels["Lung R"].mask
    assert not (left & right).any()
    # patient left is +x in LPS: the left lung's centre lies at a larger x than the right's
    assert np.argwhere(left)[:, 2].mean() > np.argwhere(right)[:, 2].mean()
