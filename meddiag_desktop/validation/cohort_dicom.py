"""Writing one generated study: a CT Image Storage series (PS3.3 A.3) and its NIfTI label volume.

UIDs are derived from the cohort seed and the study number (``pydicom.uid.generate_uid`` with
entropy sources), so the same seed writes the same UIDs. The patient is a made-up one
(``COHORT^S0001``); Image Type is DERIVED\\SECONDARY and the Derivation Description names the
real series the background was cut from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from meddiag_desktop.io._sitk import sitk

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from meddiag_desktop.validation.cohort_headers import StudyHeaders

STUDY_DATE = "20250601"
HU_RANGE = (-1024, 3071)


@dataclass(frozen=True)
class StudyUids:
    """The UIDs of one generated study, derived from ``seeds`` (e.g. the cohort seed and study number)."""

    study: str
    series: str
    frame_of_reference: str
    seeds: tuple[str, ...]

    @classmethod
    def of(cls, *seeds: str) -> StudyUids:
        def uid(kind: str) -> str:
            return str(generate_uid(entropy_srcs=["meddiag-cohort", *seeds, kind]))

        return cls(uid("study"), uid("series"), uid("frame"), seeds)

    def instance(self, number: int) -> str:
        return str(generate_uid(entropy_srcs=["meddiag-cohort", *self.seeds, "instance", str(number)]))


def _patient(ds: Dataset, study_id: str, headers: StudyHeaders) -> None:
    ds.PatientName, ds.PatientID = f"COHORT^{study_id}", f"COHORT-{study_id}"
    ds.PatientSex, ds.PatientAge = headers.sex, f"{headers.age_years:03d}Y"
    ds.PatientBirthDate = f"{int(STUDY_DATE[:4]) - headers.age_years}0101"


def _acquisition(ds: Dataset, headers: StudyHeaders) -> None:
    ds.Manufacturer, ds.ManufacturerModelName = headers.manufacturer, headers.model_name
    ds.ConvolutionKernel, ds.KVP, ds.BodyPartExamined = headers.kernel, 120, "CHEST"
    ds.SliceThickness = ds.SpacingBetweenSlices = f"{headers.slice_thickness_mm:g}"
    if headers.contrast_agent:  # the Contrast/Bolus module is present only when contrast was given (C.7.6.4)
        ds.ContrastBolusAgent, ds.ContrastBolusRoute = headers.contrast_agent, "IV"


def _base(study_id: str, headers: StudyHeaders, uids: StudyUids, source: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.Modality = CTImageStorage, "CT"
    _patient(ds, study_id, headers)
    _acquisition(ds, headers)
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = uids.study, uids.series, uids.frame_of_reference
    ds.StudyDate = ds.SeriesDate = STUDY_DATE
    ds.StudyTime, ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "120000", "", study_id, ""
    ds.StudyDescription, ds.SeriesDescription = "Generated chest CT cohort", f"generated {study_id}"
    ds.SeriesNumber, ds.PositionReferenceIndicator = 1, ""
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.DerivationDescription = f"Cut from {source}; lung nodules planted by MedDiag Desktop"[:1024]
    ds.ImageComments = "Generated test data, not a patient: real CT background with planted lesions."
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = -600, 1600
    return ds


def write_series(
    folder: Path, hu: NDArray[np.float32], affine: NDArray[np.float64], study_id: str, headers: StudyHeaders,
    uids: StudyUids, source: str,
) -> None:  # fmt: skip
    """One file per slice of ``hu`` (``(z, y, x)``) at the positions ``affine`` gives (Volume convention)."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(np.rint(hu), *HU_RANGE).astype(np.int16)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    row_cosine, column_cosine = affine[:3, 2] / spacing[2], affine[:3, 1] / spacing[1]
    for z, plane in enumerate(pixels):
        ds = _base(study_id, headers, uids, source)
        ds.SOPInstanceUID = uids.instance(z + 1)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        position = affine[:3, 3] + z * affine[:3, 0]
        ds.InstanceNumber, ds.SliceLocation = z + 1, f"{position[2]:.3f}"
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_cosine, *column_cosine)]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[2]:.6f}"]
        ds.Rows, ds.Columns = plane.shape
        ds.PixelData = np.ascontiguousarray(plane).tobytes()
        ds.save_as(folder / f"{z + 1:04d}.dcm", enforce_file_format=True)


def write_labels(path: Path, labels: NDArray[np.uint8], affine: NDArray[np.float64]) -> None:
    """The reference lesions (``0`` background, ``k`` lesion k) as a NIfTI volume on the series' grid."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    image = sitk.GetImageFromArray(labels)
    image.SetOrigin(tuple(float(v) for v in affine[:3, 3]))
    image.SetSpacing(tuple(float(v) for v in spacing[::-1]))
    image.SetDirection(tuple(float(v) for v in (affine[:3, :3] / spacing)[:, ::-1].ravel()))
    sitk.WriteImage(image, str(path), useCompression=True)
