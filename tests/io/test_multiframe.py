"""Enhanced multi-frame images: each volume slice shows the frame whose functional groups give its position.

A synthetic enhanced CT (built here with pydicom, so this never skips) lists its frames out of
spatial order, each with its own position and rescale intercept, and pixels that name the frame.
The corpus's enhanced MR files are checked the same way when ../shared is present.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
FRAME_Z_MM = (10.0, 35.0, 0.0, 25.0, 5.0, 30.0, 15.0, 20.0)  # stored order is not the spatial order
STORED_STEP = 100  # frame k stores k * 100 everywhere
FIRST_INTERCEPT = -1000.0  # frame k's own intercept: -1000 + k, so a swapped rescale shows too
SIZE = 6


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _per_frame_group(k: int) -> Dataset:
    return _item(
        PlanePositionSequence=[_item(ImagePositionPatient=[-10.0, -20.0, FRAME_Z_MM[k]])],
        PixelValueTransformationSequence=[
            _item(RescaleIntercept=FIRST_INTERCEPT + k, RescaleSlope=1.0, RescaleType="HU")
        ],
        FrameContentSequence=[_item(InStackPositionNumber=k + 1)],
    )


def write_enhanced_ct(path: Path) -> Path:
    """An uncompressed Enhanced CT Image (PS3.3 A.38) whose per-frame groups carry position and rescale."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ENHANCED_CT, generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = ENHANCED_CT, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "Synthetic", "MF1", "CT", 1, 1
    ds.Rows = ds.Columns = SIZE
    ds.NumberOfFrames = len(FRAME_Z_MM)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.SharedFunctionalGroupsSequence = [
        _item(
            PlaneOrientationSequence=[_item(ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])],
            PixelMeasuresSequence=[_item(PixelSpacing=[0.5, 0.5], SliceThickness=5.0)],
        )
    ]
    ds.PerFrameFunctionalGroupsSequence = [_per_frame_group(k) for k in range(len(FRAME_Z_MM))]
    frames = np.stack([np.full((SIZE, SIZE), k * STORED_STEP, dtype=np.uint16) for k in range(len(FRAME_Z_MM))])
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def load_only(file: Path, tmp_path: Path) -> list[Volume]:
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(file, folder / file.name)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [series] = [s for s in index.series() if s.kind.value == "image"]
        return load_series(index, series.series_instance_uid)


def test_synthetic_enhanced_ct_slices_are_the_frames_at_their_positions(tmp_path: Path) -> None:
    [volume] = load_only(write_enhanced_ct(tmp_path / "enhanced_ct.dcm"), tmp_path)
    assert volume.shape == (len(FRAME_Z_MM), SIZE, SIZE)
    slice_z = [float(volume.index_to_lps((z, 0, 0))[2]) for z in range(volume.shape[0])]
    assert slice_z == pytest.approx(sorted(FRAME_Z_MM))  # sorted along the slice normal, 5 mm apart
    for z in range(volume.shape[0]):
        k = round((float(volume.array[z].max()) - FIRST_INTERCEPT) / (STORED_STEP + 1))
        np.testing.assert_array_equal(volume.array[z], k * STORED_STEP + FIRST_INTERCEPT + k)  # frame k, own rescale
        assert slice_z[z] == pytest.approx(FRAME_Z_MM[k]), f"slice {z} shows frame {k}, stored at z={FRAME_Z_MM[k]}"


def _rescaled_frames(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every frame of ``path`` in real-world values, and each frame's position, read with pydicom."""
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(np.float64)
    frames, positions = [], []
    for k, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        rescale = group.PixelValueTransformationSequence[0]
        frames.append(stored[k] * float(rescale.RescaleSlope) + float(rescale.RescaleIntercept))
        positions.append(np.array([float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]))
    return np.stack(frames), positions


@pytest.mark.parametrize("name", ["philips/IM_0027_fMAP.dcm", "siemens_xa10/6_1.dcm"])
def test_corpus_enhanced_mr_slices_are_the_frames_at_their_positions(corpus: Path, tmp_path: Path, name: str) -> None:
    path = corpus / "enhanced_mr" / name
    frames, positions = _rescaled_frames(path)
    volumes = load_only(path, tmp_path)
    assert sum(v.shape[0] for v in volumes) == len(frames)
    for volume in volumes:
        for z in range(volume.shape[0]):
            errors = np.abs(frames - volume.array[z].astype(np.float64)).max(axis=(1, 2))
            k = int(np.argmin(errors))
            assert errors[k] <= 1e-3 * max(1.0, float(np.abs(frames[k]).max())), f"slice {z} matches no frame"
            np.testing.assert_allclose(volume.index_to_lps((z, 0, 0)), positions[k], atol=1e-3)
