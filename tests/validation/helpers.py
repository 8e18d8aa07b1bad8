"""Generated test data for validation: CT series on disk, label images, findings with known masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.volume import Volume, affine_from_dicom

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "PID-987654"
BIRTH_DATE = "19610203"
FRAME = "1.2.826.0.1.3680043.8.498.77"


def finding_from_mask(fid: str, mask: np.ndarray, max_prob: float = 0.9, voxel_ml: float = 0.001) -> Finding:
    """A finding whose cropped mask, bbox and centroid come from a full-volume mask."""
    idx = np.argwhere(mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    crop = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].copy()
    c = idx.mean(axis=0)
    return Finding(
        fid, (float(c[0]), float(c[1]), float(c[2])), (0.0, 0.0, 0.0),
        (int(lo[0]), int(lo[1]), int(lo[2]), int(hi[0]), int(hi[1]), int(hi[2])),
        float(mask.sum()) * voxel_ml, 0.0, 0.0, 0.0, 0.0, max_prob, max_prob, crop,
    )  # fmt: skip


def box(shape: tuple[int, int, int], lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = True
    return mask


def ct_datasets(
    hu: np.ndarray,
    spacing: tuple[float, float, float] = (2.5, 0.8, 0.8),
    origin: tuple[float, float, float] = (-20.0, -16.0, 50.0),
    manufacturer: str = "ACME Medical",
) -> list[Dataset]:
    """One CT Image Storage dataset per slice of ``hu`` (z, y, x), axial, with patient identity set."""
    series, study = generate_uid(), generate_uid()
    out = []
    for z, plane in enumerate(hu):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.Manufacturer = "CT", manufacturer
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = PATIENT_NAME, PATIENT_ID, BIRTH_DATE, "F"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, FRAME
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20240101", "120000", "", "1"
        ds.SeriesNumber, ds.InstanceNumber, ds.PositionReferenceIndicator = 1, z + 1, ""
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + z * spacing[0]]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [spacing[1], spacing[2]], spacing[0]
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        ds.PixelData = plane.astype(np.int16).tobytes()
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        out.append(ds)
    return out


def write_series(folder: Path, datasets: list[Dataset]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, ds in enumerate(datasets):
        ds.save_as(folder / f"{i:04d}.dcm", enforce_file_format=True)
    return folder


def volume_of(datasets: list[Dataset]) -> Volume:
    """The Volume the loader builds from :func:`ct_datasets` (same geometry and UIDs)."""
    first, second = datasets[0], datasets[1]
    step = np.asarray(second.ImagePositionPatient, float) - np.asarray(first.ImagePositionPatient, float)
    affine = affine_from_dicom(
        tuple(float(v) for v in first.ImagePositionPatient), tuple(float(v) for v in first.ImageOrientationPatient),
        (float(first.PixelSpacing[0]), float(first.PixelSpacing[1])), step,
    )  # fmt: skip
    array = np.stack([np.frombuffer(ds.PixelData, dtype=np.int16).reshape(ds.Rows, ds.Columns) for ds in datasets])
    return Volume(
        array.astype(np.float32), affine, frame_of_reference_uid=str(first.FrameOfReferenceUID),
        series_instance_uid=str(first.SeriesInstanceUID), modality="CT",
        source_sop_instance_uids=tuple(str(ds.SOPInstanceUID) for ds in datasets),
    )  # fmt: skip


def label_image_on(volume: Volume, labels: np.ndarray) -> sitk.Image:
    """A SimpleITK image of ``labels`` (z, y, x) on ``volume``'s physical grid."""
    image = sitk.GetImageFromArray(labels)
    image.SetOrigin(tuple(float(v) for v in volume.origin))
    image.SetSpacing(tuple(float(v) for v in volume.spacing[::-1]))
    image.SetDirection(tuple(float(v) for v in volume.direction[:, ::-1].ravel()))
    return image


def chest_hu(shape: tuple[int, int, int] = (12, 40, 40)) -> np.ndarray:
    """Air-filled 'lung' with a soft-tissue body rim; lesions are painted in by the tests."""
    hu = np.full(shape, -850, dtype=np.int16)
    hu[:, :3, :] = hu[:, -3:, :] = hu[:, :, :3] = hu[:, :, -3:] = 40
    return hu


def write_rtstruct(path: Path, series: list[Dataset], name: str = "GTV-1") -> Path:
    """An RT Structure Set referencing ``series`` by its Series Instance UID, with one square contour."""
    from pydicom.sequence import Sequence

    from meddiag_desktop.io.rtstruct import RT_STRUCTURE_SET_STORAGE

    first = series[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RT_STRUCTURE_SET_STORAGE, generate_uid(), "RTSTRUCT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = first.StudyInstanceUID, generate_uid()
    ds.PatientName, ds.PatientID = first.PatientName, first.PatientID
    referenced_series = Dataset()
    referenced_series.SeriesInstanceUID = first.SeriesInstanceUID
    study = Dataset()
    study.RTReferencedSeriesSequence = Sequence([referenced_series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    x, y, z = (float(v) for v in series[2].ImagePositionPatient)
    contour = Dataset()
    contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", 4
    contour.ContourData = [x + 4, y + 4, z, x + 10, y + 4, z, x + 10, y + 10, z, x + 4, y + 10, z]
    roi, roi_contour, observation = Dataset(), Dataset(), Dataset()
    roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = 1, name, first.FrameOfReferenceUID
    roi_contour.ReferencedROINumber, roi_contour.ContourSequence = 1, Sequence([contour])
    observation.ObservationNumber, observation.ReferencedROINumber, observation.RTROIInterpretedType = 1, 1, "GTV"
    ds.StructureSetROISequence = Sequence([roi])
    ds.ROIContourSequence = Sequence([roi_contour])
    ds.RTROIObservationsSequence = Sequence([observation])
    ds.save_as(path, enforce_file_format=True)
    return path
