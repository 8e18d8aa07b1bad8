"""Existing results generated on the bundled demo CT (resources/demo): a SEG written with highdicom,
an RT structure set written with pydicom, undecodable re-encodings of the SEG (1-bit RLE and the
Deflated Image Frame syntax), and study folders holding them next to the demo images."""

from __future__ import annotations

import copy
import warnings
import zlib
from functools import lru_cache
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

from meddiag_desktop.core.volume import Volume

DEMO_CT = Path(__file__).resolve().parents[1] / "resources" / "demo" / "lung_ct_A0001"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
LESION = Code("49755003", "SCT", "Morphologically Altered Structure")
NODULE = Code("27925004", "SCT", "Nodule")
ANATOMY = Code("123037004", "SCT", "Anatomical Structure")
LUNG = Code("39607008", "SCT", "Lung")
DEFLATED_IMAGE_FRAME = b"1.2.840.10008.1.2.8.1\x00"  # 22 bytes, as long as JPEG Baseline's UID below
JPEG_BASELINE = b"1.2.840.10008.1.2.4.50"

Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]  # (low, high) index ranges along z, y, x
TUMOUR: Box = ((30, 35), (270, 300), (140, 175))
NODE: Box = ((20, 24), (240, 256), (330, 346))


def box_mask(shape: tuple[int, int, int], box: Box) -> np.ndarray:
    (z0, z1), (y0, y1), (x0, x1) = box
    mask = np.zeros(shape, dtype=bool)
    mask[z0:z1, y0:y1, x0:x1] = True
    return mask


@lru_cache(maxsize=1)
def _demo_datasets() -> tuple[Dataset, ...]:
    return tuple(pydicom.dcmread(path) for path in sorted(DEMO_CT.glob("*.dcm")))


def demo_datasets(volume: Volume) -> list[Dataset]:
    """The demo files in the volume's slice order (copies: highdicom may keep references)."""
    by_uid = {str(ds.SOPInstanceUID): ds for ds in _demo_datasets()}
    return [copy.deepcopy(by_uid[uid]) for uid in volume.source_sop_instance_uids]


def write_seg(path: Path, volume: Volume, boxes: dict[str, Box], description: str = "Reference nodules") -> Path:
    """A binary SEG with one segment per box (first: a nodule, others: lung), with display colours."""
    pixels = np.stack([box_mask(volume.shape, b) for b in boxes.values()], axis=-1).astype(np.uint8)
    colours = [(255, 0, 255), (0, 255, 0), (255, 255, 0)]
    segments = [
        hd.seg.SegmentDescription(n, name, LESION if n == 1 else ANATOMY, NODULE if n == 1 else LUNG, "MANUAL",
                                  display_color=hd.color.CIELabColor.from_rgb(*colours[(n - 1) % 3]))
        for n, name in enumerate(boxes, start=1)
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the demo's one-component patient name
        seg = hd.seg.Segmentation(demo_datasets(volume), pixels, "BINARY", segments, generate_uid(), 300,
                                  generate_uid(), 1, "ACME", "RefSeg", "1", "1")  # fmt: skip
    seg.SeriesDescription = description
    seg.save_as(path)
    return path


def square_contour(volume: Volume, z: int, box: tuple[tuple[int, int], tuple[int, int]]) -> Dataset:
    """A closed contour around pixels ``rows y0..y1-1, cols x0..x1-1`` of slice ``z`` (LPS mm)."""
    (y0, y1), (x0, x1) = box
    corners = [(y0 - 0.5, x0 - 0.5), (y0 - 0.5, x1 - 0.5), (y1 - 0.5, x1 - 0.5), (y1 - 0.5, x0 - 0.5)]
    points = volume.index_to_lps(np.asarray([(float(z), r, c) for r, c in corners]))
    item = Dataset()
    item.ContourGeometricType = "CLOSED_PLANAR"
    item.NumberOfContourPoints = len(points)
    item.ContourData = [round(float(v), 4) for v in points.ravel()]
    return item


def point_contour(volume: Volume, z: int) -> Dataset:
    item = Dataset()
    item.ContourGeometricType = "POINT"
    item.NumberOfContourPoints = 1
    item.ContourData = [float(v) for v in volume.index_to_lps((float(z), 256.0, 256.0))]
    return item


def write_rtstruct(path: Path, volume: Volume, frame: str | None = None, series: str | None = None) -> Path:
    """An RT structure set on the demo series: "GTV-1" (the tumour box, red), "Lung R" (blue), a "PTV"
    margin and an "Isocenter" point. ``frame`` / ``series`` override what it claims to be drawn on."""
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = series or volume.series_instance_uid
    ref_study = Dataset()
    ref_study.RTReferencedSeriesSequence = Sequence([ref_series])
    ref_frame = Dataset()
    ref_frame.FrameOfReferenceUID = frame or volume.frame_of_reference_uid
    ref_frame.RTReferencedStudySequence = Sequence([ref_study])
    (tz0, tz1), ty, tx = TUMOUR
    rois = {
        "GTV-1": ("GTV", (255, 0, 0), [square_contour(volume, z, (ty, tx)) for z in range(tz0, tz1)]),
        "Lung R": ("ORGAN", (0, 0, 255), [square_contour(volume, z, ((200, 360), (90, 230))) for z in (31, 32)]),
        "PTV-1": ("PTV", (255, 255, 0), [square_contour(volume, 32, ((260, 310), (130, 185)))]),
        "Isocenter": ("ISOCENTER", (0, 255, 255), [point_contour(volume, 32)]),
    }
    ds = _rtstruct_header(volume)
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_frame])
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = Sequence(), Sequence(), Sequence()
    for number, (name, (kind, colour, contours)) in enumerate(rois.items(), start=1):
        roi, rc, obs = Dataset(), Dataset(), Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, ref_frame.FrameOfReferenceUID
        rc.ReferencedROINumber, rc.ROIDisplayColor, rc.ContourSequence = number, list(colour), Sequence(contours)
        obs.ObservationNumber, obs.ReferencedROINumber, obs.RTROIInterpretedType = number, number, kind
        ds.StructureSetROISequence.append(roi)
        ds.ROIContourSequence.append(rc)
        ds.RTROIObservationsSequence.append(obs)
    ds.save_as(path, enforce_file_format=True)
    return path


def _rtstruct_header(volume: Volume) -> Dataset:
    source = demo_datasets(volume)[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = RT_STRUCTURE_SET_STORAGE, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 77
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                    "StudyTime", "AccessionNumber", "StudyDescription"):  # fmt: skip
        if keyword in source:
            setattr(ds, keyword, source.data_element(keyword).value)
    ds.StructureSetLabel = "Planning contours"
    return ds


def _rle_segment(frame: bytes) -> bytes:
    """One RLE frame (PS3.5 G.3) of one segment, as PackBits literal runs."""
    body = bytearray()
    for start in range(0, len(frame), 128):
        chunk = frame[start : start + 128]
        body += bytes([len(chunk) - 1]) + chunk
    if len(body) % 2:
        body += b"\x00"
    header = np.zeros(16, dtype="<u4")
    header[0], header[1] = 1, 64
    return header.tobytes() + bytes(body)


def _frames(ds: Dataset) -> list[bytes]:
    size = int(ds.Rows) * int(ds.Columns) // 8
    data = bytes(ds.PixelData)
    return [data[i * size : (i + 1) * size] for i in range(int(ds.NumberOfFrames))]


def rle_1bit_copy(seg: Path, out: Path) -> Path:
    """The SEG with its 1-bit frames RLE-compressed: valid DICOM that pydicom 3.0 cannot decode."""
    ds = pydicom.dcmread(seg)
    ds.PixelData = encapsulate([_rle_segment(f) for f in _frames(ds)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(out, enforce_file_format=True)
    return out


def deflated_copy(seg: Path, out: Path) -> Path:
    """The SEG with deflate-compressed frames under the Deflated Image Frame Compression syntax.

    pydicom 3.0 cannot write that syntax, so the file is written as JPEG Baseline (also
    encapsulated, same UID length) and the UID bytes are swapped afterwards.
    """
    ds = pydicom.dcmread(seg)
    ds.PixelData = encapsulate([zlib.compress(f) for f in _frames(ds)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG_BASELINE.decode()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(out, enforce_file_format=True)
    data = out.read_bytes()
    assert data.count(JPEG_BASELINE) == 1
    out.write_bytes(data.replace(JPEG_BASELINE, DEFLATED_IMAGE_FRAME))
    return out


def study_folder(root: Path, *extras: Path) -> Path:
    """``root`` holding the demo CT (symlinked) and copies of ``extras``."""
    images = root / "ct"
    images.mkdir(parents=True)
    for path in sorted(DEMO_CT.glob("*.dcm")):
        (images / path.name).symlink_to(path)
    for extra in extras:
        (root / extra.name).write_bytes(extra.read_bytes())
    return root
