"""DICOM Segmentation (SEG) -> reference labels on a series' grid.

PS3.3 A.51 and C.8.20: a SEG holds one frame per (segment, source slice). BINARY frames are
1-bit masks, FRACTIONAL frames hold 0..MaximumFractionalValue (a voxel is inside at half the
maximum or more), LABELMAP frames (Label Map Segmentation Storage) hold segment numbers.
Each frame is put on the slice named by its source image (Derivation Image Sequence ->
ReferencedSOPInstanceUID, C.7.6.16.2.6); when that slice is not in the series, on the slice
whose plane holds its Plane Position (C.7.6.16.2.3). In-plane placement uses the frame's
position, orientation and pixel spacing (nearest neighbour), or copies the frame as is when
it has no geometry and the same matrix as the series.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from meddiag_desktop.core.labels import LabelRole, LabelShape, ReferenceLabel, role_from_name
from meddiag_desktop.errors import DicomReadError, UnsupportedDicomError
from meddiag_desktop.io.label_grid import nearest_slice, sample_plane

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from numpy.typing import NDArray
    from pydicom import Dataset

    from meddiag_desktop.core.volume import Volume

logger = logging.getLogger(__name__)

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
MORPHOLOGICALLY_ALTERED = "49755003"  # SCT, CID 7150 category of lesions
LESION_TYPES = {"108369006", "4147007", "27925004", "52988006", "86049000"}  # neoplasm, mass, nodule, lesion
ANATOMICAL_STRUCTURE = "123037004"  # SCT, CID 7150 category of organs
_SYNTAX_NAMES = {"1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression"}  # newer than pydicom 3.0's table


@dataclass(frozen=True)
class SegReferences:
    """What a SEG was drawn on: used to find the series it belongs to."""

    path: str
    frame_of_reference_uid: str
    series_instance_uids: tuple[str, ...]
    sop_instance_uids: tuple[str, ...]


@dataclass(frozen=True)
class Segment:
    """One segment's description (PS3.3 C.8.20.2, Segment Sequence)."""

    number: int
    label: str
    role: LabelRole
    algorithm_type: str  # MANUAL, SEMIAUTOMATIC or AUTOMATIC


@dataclass(frozen=True)
class _Frame:
    segment: int | None
    source_uid: str
    position: NDArray[np.float64] | None


def _read(path: Path, *, pixels: bool) -> Dataset:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=not pixels)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DicomReadError(f"{path.name} could not be read as DICOM: {exc}") from exc
    if str(ds.get("SOPClassUID", "")) not in (SEG_STORAGE, LABELMAP_SEG_STORAGE) and ds.get("Modality") != "SEG":
        raise DicomReadError(f"{path.name} is not a DICOM Segmentation (modality {ds.get('Modality', 'unknown')}).")
    return ds


def read_seg_references(path: Path) -> SegReferences:
    """The frame of reference, series and instances a SEG references (header only)."""
    ds = _read(path, pixels=False)
    series, instances = [], []
    for item in ds.get("ReferencedSeriesSequence", []):
        series.append(str(item.get("SeriesInstanceUID", "")))
        instances += [str(i.ReferencedSOPInstanceUID) for i in item.get("ReferencedInstanceSequence", [])]
    instances += [f.source_uid for f in _frames(ds) if f.source_uid]
    return SegReferences(
        str(path),
        str(ds.get("FrameOfReferenceUID", "")),
        tuple(s for s in series if s),
        tuple(dict.fromkeys(instances)),
    )


def read_segments(path: Path) -> list[Segment]:
    """The segments a SEG file describes (header only)."""
    return segments(_read(path, pixels=False))


def segments(ds: Dataset) -> list[Segment]:
    """The segments a SEG describes, with a role guessed from their codes and labels."""
    out = []
    for item in ds.get("SegmentSequence", []):
        label = str(item.get("SegmentLabel", "") or f"segment {item.SegmentNumber}")
        out.append(
            Segment(int(item.SegmentNumber), label, _role(item, label), str(item.get("SegmentAlgorithmType", "")))
        )
    return out


def _code(item: Dataset, keyword: str) -> tuple[str, str]:
    codes = item.get(keyword, [])
    return (str(codes[0].get("CodeValue", "")), str(codes[0].get("CodeMeaning", ""))) if codes else ("", "")


def _role(item: Dataset, label: str) -> LabelRole:
    category = _code(item, "SegmentedPropertyCategoryCodeSequence")[0]
    type_value, type_meaning = _code(item, "SegmentedPropertyTypeCodeSequence")
    if category == MORPHOLOGICALLY_ALTERED or type_value in LESION_TYPES:
        return LabelRole.LESION
    by_name = role_from_name(label)
    if by_name is not LabelRole.OTHER:
        return by_name
    by_type = role_from_name(type_meaning)
    if by_type is LabelRole.OTHER and category == ANATOMICAL_STRUCTURE:
        return LabelRole.ORGAN
    return by_type


def _group(frame: Dataset | None, shared: Dataset | None, keyword: str) -> Dataset | None:
    """A functional group macro's item: per-frame values win over shared ones (C.7.6.16)."""
    for source in (frame, shared):
        if source is not None and source.get(keyword):
            item: Dataset = source.get(keyword)[0]
            return item
    return None


def _frames(ds: Dataset) -> list[_Frame]:
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [])
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if not per_frame and count > 1:
        raise UnsupportedDicomError(
            "This segmentation has no per-frame geometry (tiled, as for slide microscopy); "
            "only segmentations of CT/MR slices can be placed on a series."
        )
    return [_frame(per_frame[i] if per_frame else None, shared) for i in range(count)]


def _frame(item: Dataset | None, shared: Dataset | None) -> _Frame:
    ident = _group(item, shared, "SegmentIdentificationSequence")
    segment = int(ident.ReferencedSegmentNumber) if ident is not None else None
    source = ""
    derivation = _group(item, None, "DerivationImageSequence")
    if derivation is not None and derivation.get("SourceImageSequence"):
        source = str(derivation.SourceImageSequence[0].get("ReferencedSOPInstanceUID", ""))
    plane = _group(item, shared, "PlanePositionSequence")
    position = None
    if plane is not None and plane.get("ImagePositionPatient"):
        position = np.asarray([float(v) for v in plane.ImagePositionPatient], dtype=np.float64)
    return _Frame(segment, source, position)


def _pixels(ds: Dataset, path: Path) -> NDArray[np.generic]:
    try:
        array = np.asarray(ds.pixel_array)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError) as exc:
        uid = str(ds.file_meta.get("TransferSyntaxUID", ""))
        syntax = _SYNTAX_NAMES.get(uid) or getattr(ds.file_meta.get("TransferSyntaxUID"), "name", uid or "unknown")
        raise UnsupportedDicomError(
            f"{path.name}: the segmentation's pixel data ({syntax}, {ds.get('BitsAllocated', '?')}-bit) cannot be "
            "decoded here. Convert it to an uncompressed transfer syntax (e.g. dcmconv +te) and try again."
        ) from exc
    return array.reshape(-1, *array.shape[-2:])


@dataclass(frozen=True)
class _Geometry:
    row_step: NDArray[np.float64] | None
    col_step: NDArray[np.float64] | None


def _geometry(ds: Dataset) -> _Geometry:
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [None])
    orientation = _group(per_frame[0], shared, "PlaneOrientationSequence")
    measures = _group(per_frame[0], shared, "PixelMeasuresSequence")
    if orientation is None or measures is None or not measures.get("PixelSpacing"):
        return _Geometry(None, None)
    iop = np.asarray([float(v) for v in orientation.ImageOrientationPatient], dtype=np.float64)
    spacing = [float(v) for v in measures.PixelSpacing]
    return _Geometry(iop[3:] * spacing[0], iop[:3] * spacing[1])


def _inside(ds: Dataset, frame: NDArray[np.generic]) -> NDArray[np.bool_]:
    if str(ds.get("SegmentationType", "BINARY")).upper() == "FRACTIONAL":
        maximum = float(ds.get("MaximumFractionalValue", 255) or 255)
        return np.asarray(frame.astype(np.float32) >= maximum / 2.0)
    return np.asarray(np.not_equal(frame, 0))


class _Placer:
    """Puts one SEG's frames on a volume's slices."""

    def __init__(self, ds: Dataset, volume: Volume) -> None:
        self.volume = volume
        self.geometry = _geometry(ds)
        self.slice_of = {uid: z for z, uid in enumerate(volume.source_sop_instance_uids)}
        self.off_series = 0

    def slice_for(self, frame: _Frame) -> int | None:
        if frame.source_uid in self.slice_of:
            return self.slice_of[frame.source_uid]
        return nearest_slice(self.volume, frame.position) if frame.position is not None else None

    def place(self, frame: _Frame, pixels: NDArray[np.generic]) -> tuple[int, NDArray[np.generic]] | None:
        z = self.slice_for(frame)
        g = self.geometry
        if z is not None and frame.position is not None and g.row_step is not None and g.col_step is not None:
            return z, sample_plane(self.volume, z, pixels, frame.position, g.row_step, g.col_step)
        if z is not None and pixels.shape == self.volume.shape[1:]:
            return z, pixels
        self.off_series += 1
        return None


def _paint(
    ds: Dataset,
    masks: dict[int, NDArray[np.bool_]],
    frame: _Frame,
    z: int,
    plane: NDArray[np.generic],
    *,
    labelmap: bool,
) -> None:
    """Add one placed frame to the masks of the segments it holds."""
    for number, mask in masks.items():
        if labelmap:
            mask[z] |= plane == number
        elif frame.segment == number or (frame.segment is None and len(masks) == 1):
            mask[z] |= _inside(ds, plane)


def seg_labels(path: Path, volume: Volume, *, include_automatic: bool = True) -> list[ReferenceLabel]:
    """Every segment of a SEG file as a label on ``volume``'s grid.

    Parameters
    ----------
    include_automatic
        Also return segments whose Segment Algorithm Type is AUTOMATIC (an algorithm's
        output rather than a person's outline).

    Raises
    ------
    DicomReadError
        Not a readable SEG, or drawn on another frame of reference than the volume's.
    UnsupportedDicomError
        The pixel data uses an encoding pydicom cannot decode (e.g. 1-bit RLE, deflated frames).
    """
    ds = _read(path, pixels=True)
    wanted = [s for s in segments(ds) if s.number > 0 and (include_automatic or s.algorithm_type != "AUTOMATIC")]
    return _labels(ds, path, volume, wanted)


def seg_labels_of(path: Path, volume: Volume, numbers: Collection[int]) -> dict[int, ReferenceLabel]:
    """The segments numbered ``numbers`` (whatever their algorithm type) as labels on ``volume``'s grid.

    Callers showing a SEG with many segments ask for a few at a time, so only those masks are
    held in memory. Raises as ``seg_labels`` does.
    """
    ds = _read(path, pixels=True)
    wanted = [s for s in segments(ds) if s.number > 0 and s.number in numbers]
    return {s.number: label for s, label in zip(wanted, _labels(ds, path, volume, wanted), strict=True)}


def _labels(ds: Dataset, path: Path, volume: Volume, wanted: list[Segment]) -> list[ReferenceLabel]:
    frame_uid = str(ds.get("FrameOfReferenceUID", ""))
    if frame_uid and volume.frame_of_reference_uid and frame_uid != volume.frame_of_reference_uid:
        raise DicomReadError(f"{path.name} was drawn on another frame of reference than this series.")
    pixels, frames = _pixels(ds, path), _frames(ds)
    if len(pixels) != len(frames):
        raise DicomReadError(f"{path.name} has {len(pixels)} frames of pixels for {len(frames)} described frames.")
    labelmap = str(ds.get("SOPClassUID", "")) == LABELMAP_SEG_STORAGE or ds.get("SegmentationType") == "LABELMAP"
    masks = {s.number: np.zeros(volume.shape, dtype=bool) for s in wanted}
    placer = _Placer(ds, volume)
    for frame, frame_pixels in zip(frames, pixels, strict=True):
        placed = placer.place(frame, frame_pixels) if frame_pixels.any() else None
        if placed is not None:
            _paint(ds, masks, frame, *placed, labelmap=labelmap)
    warnings = (f"{placer.off_series} frames of {path.name} lie off this series' slices",) if placer.off_series else ()
    return [ReferenceLabel(s.label, masks[s.number], s.role, LabelShape.OUTLINE, "SEG", warnings) for s in wanted]
