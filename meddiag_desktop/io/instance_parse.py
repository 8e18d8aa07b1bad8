"""Turn one file's header into an ``InstanceRecord`` (or a ``ScanProblem`` saying why not)."""

from __future__ import annotations

import hashlib
import logging
import math
import struct
from typing import TYPE_CHECKING

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import BytesLengthException, InvalidDicomError

from meddiag_desktop.core.records import InstanceRecord, ObjectKind, ScanProblem
from meddiag_desktop.io.header import (
    FLOAT_PIXEL_TAGS,
    WANTED_TAGS,
    HeaderParseError,
    NotDicomError,
    RawHeader,
    UnsafeHeaderError,
    read_header,
)
from meddiag_desktop.io.index import StudyContext

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

SEG_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"})
KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
PRESENTATION_PREFIX = "1.2.840.10008.5.1.4.1.1.11."
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"

_KIND_WORDS = {
    ObjectKind.SEG: "a segmentation (SEG), listed under its study",
    ObjectKind.SR: "a structured report (SR), listed under its study",
    ObjectKind.KOS: "a key-object selection (KOS), listed under its study",
    ObjectKind.PRESENTATION: "a presentation state, listed under its study",
    ObjectKind.RTSTRUCT: "an RT structure set (contours), listed under its study",
    ObjectKind.OTHER: "a DICOM object without images",
}


ParsedInstance = tuple[InstanceRecord, StudyContext]
_PYDICOM_VALUE_ERRORS = (
    NotImplementedError, ValueError, TypeError, KeyError, OverflowError, struct.error, BytesLengthException,
)  # fmt: skip
# pydicom reads a value's declared length in one go (CPython allocates all of it, even past the end of the
# file): larger values stay in the file, and none of the indexed values is ever this large.
DEFER_BYTES = 1 << 16
# A frame larger than this (16384 x 16384) is refused before anything is allocated for it.
MAX_FRAME_PIXELS = 16384 * 16384
# PS3.5 A.4: each frame of encapsulated Pixel Data fills at least one item (8-byte header, even length > 0).
MIN_ENCAPSULATED_FRAME_BYTES = 10
NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
# PS3.5 G.3.1: an RLE Replicate Run is 2 bytes for at most 128 decoded bytes, so no RLE frame decodes
# to more than 64 times its encoded size.
RLE_MAX_EXPANSION = 64
PYDICOM_DECODES = -2  # pixel_offset of pixels the fast native path must not read (pydicom decodes them)


def parse_instance(path: Path, size: int, mtime_ns: int) -> ParsedInstance | ScanProblem:
    """Read one file's header. Never raises for bad input: returns a ``ScanProblem``."""
    try:
        header = read_header(path)
    except NotDicomError:
        return ScanProblem(str(path), "not a DICOM file")
    except UnsafeHeaderError as exc:
        return ScanProblem(str(path), f"broken DICOM header: {exc}")
    except HeaderParseError:
        header_or_problem = _read_with_pydicom(path)
        if isinstance(header_or_problem, ScanProblem):
            return header_or_problem
        header = header_or_problem
    except OSError as exc:
        return ScanProblem(str(path), f"cannot be read: {exc.strerror or exc}")
    return _record_from_header(str(path), size, mtime_ns, header)


def _read_with_pydicom(path: Path) -> RawHeader | ScanProblem:
    """Fallback for files the lean reader cannot walk (deflated, odd encodings)."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, defer_size=DEFER_BYTES)
    except InvalidDicomError:
        return ScanProblem(str(path), "not a DICOM file")
    except Exception as exc:
        return ScanProblem(str(path), f"broken DICOM header ({type(exc).__name__}: {exc})")
    overlong = _overlong_element(ds, path.stat().st_size)
    if overlong:
        return ScanProblem(str(path), f"broken DICOM header ({overlong})")
    values: dict[str, str | int | tuple[int, ...]] = {}
    for tag, name in WANTED_TAGS.items():
        raw = (ds.file_meta if tag >> 16 == 2 else ds).get_item(tag, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value is None and raw.length > 0:  # deferred: too large
            return ScanProblem(str(path), f"broken DICOM header ({name} claims {raw.length:,} bytes)")
        try:  # pydicom decodes values lazily: an unknown VR or a bad value raises here
            element = ds.file_meta.get(tag) if tag >> 16 == 2 else ds.get(tag)
            if element is None or element.value is None:
                continue
            values[name] = _value_text(element.value)
        except _PYDICOM_VALUE_ERRORS as exc:
            return ScanProblem(str(path), f"broken DICOM header ({name}: {exc})")
    pixels = "PixelData" in ds or "FloatPixelData" in ds or ds.get("Rows") is not None
    return RawHeader(values=values, pixel_offset=-2 if pixels else -1, pixel_length=-1)


def _overlong_element(ds: pydicom.Dataset, size: int) -> str:
    """An element whose declared length runs past the end of the file ('' if none): reading it would
    allocate that length, and the misparse behind it (e.g. a length field overwritten) spoils the rest."""
    for tag in ds.keys():  # noqa: SIM118 - tags, without decoding every value
        raw = ds.get_item(tag, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value_tell is not None and raw.value_tell + raw.length > size:
            return f"element {tag} claims {raw.length:,} bytes, more than the file holds"
    return ""


def _value_text(value: object) -> str | int:
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _record_from_header(path: str, size: int, mtime_ns: int, header: RawHeader) -> ParsedInstance | ScanProblem:
    v = header.values
    sop_class = str(v.get("SOPClassUID") or v.get("MediaStorageSOPClassUID") or "")
    if sop_class == DICOMDIR_CLASS or "DirectoryRecordSequence" in v:
        return ScanProblem(path, "a DICOM directory file (DICOMDIR), not an image")
    if not sop_class and not v.get("Rows"):
        return ScanProblem(path, "broken DICOM file: it names no object type and holds no image")
    _fill_missing_uids(v, path)
    series_uid, sop_uid = str(v["SeriesInstanceUID"]), str(v["SOPInstanceUID"])
    kind = _object_kind(sop_class, header)
    if kind is ObjectKind.IMAGE:
        impossible = _unknown_syntax(v) or header.pixel_problem or _impossible_size(v, header, size)
        if impossible:
            return ScanProblem(path, impossible)
    elif kind is ObjectKind.OTHER and _is_image_class(sop_class) and header.pixel_offset == -1:
        return ScanProblem(path, "an image without its Pixel Data: the file is cut short or broken")
    record = InstanceRecord(
        path=path,
        size=size,
        mtime_ns=mtime_ns,
        sop_instance_uid=sop_uid,
        sop_class_uid=sop_class,
        series_instance_uid=series_uid,
        transfer_syntax_uid=str(v.get("TransferSyntaxUID", "1.2.840.10008.1.2")),
        kind=kind,
        instance_number=_int(v.get("InstanceNumber")),
        rows=_int(v.get("Rows")) or 0,
        columns=_int(v.get("Columns")) or 0,
        frames=_int(v.get("NumberOfFrames")) or 1,
        samples_per_pixel=_int(v.get("SamplesPerPixel")) or 1,
        bits_allocated=_int(v.get("BitsAllocated")) or 0,
        bits_stored=_int(v.get("BitsStored")) or 0,
        pixel_representation=_int(v.get("PixelRepresentation")) or 0,
        photometric=str(v.get("PhotometricInterpretation", "")),
        planar_configuration=_int(v.get("PlanarConfiguration")) or 0,
        rescale_slope=_float(v.get("RescaleSlope"), 1.0),
        rescale_intercept=_float(v.get("RescaleIntercept"), 0.0),
        position=_floats(v.get("ImagePositionPatient"), 3),  # type: ignore[arg-type]
        orientation=_floats(v.get("ImageOrientationPatient"), 6),  # type: ignore[arg-type]
        pixel_spacing=_positive(_floats(v.get("PixelSpacing"), 2)),  # type: ignore[arg-type]
        slice_thickness=_optional_float(v.get("SliceThickness")),
        gantry_tilt=_optional_float(v.get("GantryDetectorTilt")),
        window_center=str(v.get("WindowCenter", "")),
        window_width=str(v.get("WindowWidth", "")),
        image_type=str(v.get("ImageType", "")),
        pixel_offset=PYDICOM_DECODES if header.pixel_tag in FLOAT_PIXEL_TAGS else header.pixel_offset,
        pixel_length=header.pixel_length,
    )
    return record, _context(v, kind)


def _context(v: dict[str, str | int | tuple[int, ...]], kind: ObjectKind) -> StudyContext:
    def text(name: str) -> str:
        return str(v.get(name, ""))

    return StudyContext(
        patient=(text("PatientID"), text("PatientName"), text("PatientBirthDate"), text("PatientSex")),
        study=(
            text("StudyInstanceUID"), text("StudyDate"), text("StudyTime"),
            text("StudyDescription"), text("AccessionNumber"),
        ),
        series=(
            text("SeriesInstanceUID"), text("Modality"), _int(v.get("SeriesNumber")), text("SeriesDescription"),
            text("Manufacturer"), text("FrameOfReferenceUID"), kind.value,
        ),
    )  # fmt: skip


def _fill_missing_uids(values: dict[str, str | int | tuple[int, ...]], path: str) -> None:
    """Files without UIDs (test images, old secondary captures) get stable ones from their path.

    Each such file becomes its own series, so nothing is grouped by guesswork.
    """
    digest = int.from_bytes(hashlib.sha256(path.encode()).digest()[:16], "big")
    for name, suffix in (("StudyInstanceUID", 1), ("SeriesInstanceUID", 2), ("SOPInstanceUID", 3)):
        if not values.get(name):
            values[name] = f"2.25.{digest}.{suffix}"


def _object_kind(sop_class: str, header: RawHeader) -> ObjectKind:
    if sop_class in SEG_CLASSES:
        return ObjectKind.SEG
    if sop_class == KOS_CLASS:
        return ObjectKind.KOS
    if sop_class == RTSTRUCT_CLASS:
        return ObjectKind.RTSTRUCT
    if sop_class.startswith(SR_PREFIX):
        return ObjectKind.SR
    if sop_class.startswith(PRESENTATION_PREFIX):
        return ObjectKind.PRESENTATION
    has_pixels = header.pixel_offset != -1 and _int(header.values.get("Rows"))
    return ObjectKind.IMAGE if has_pixels else ObjectKind.OTHER


def _is_image_class(sop_class: str) -> bool:
    """True for the image storage SOP classes (PS3.4 B.5), whose IODs require Pixel Data (PS3.3 C.7.6.3)."""
    return pydicom.uid.UID(sop_class).name.endswith("Image Storage")


def _unknown_syntax(v: dict[str, str | int | tuple[int, ...]]) -> str:
    """Why the pixels can never be decoded: a Transfer Syntax UID no standard defines (PS3.6 Annex A)."""
    syntax = pydicom.uid.UID(str(v.get("TransferSyntaxUID", NATIVE_SYNTAXES[0])))
    if syntax.is_transfer_syntax:
        return ""
    return f"transfer syntax {syntax} is not one this app knows, so its images cannot be decoded"


def _impossible_size(v: dict[str, str | int | tuple[int, ...]], header: RawHeader, size: int) -> str:
    """Why the declared image size cannot be true of this file ('' when it can), before any allocation.

    Native Pixel Data (PS3.5 8.1.1) holds exactly rows x columns x samples x frames x bits / 8
    bytes, within its declared length and within the file; encapsulated Pixel Data (PS3.5 A.4)
    needs at least one item per frame, and RLE at least 1/64 of the decoded size (PS3.5 G.3.1).
    """
    rows, columns = _int(v.get("Rows")) or 0, _int(v.get("Columns")) or 0
    frames, samples = _int(v.get("NumberOfFrames")) or 1, _int(v.get("SamplesPerPixel")) or 1
    bits = _int(v.get("BitsAllocated")) or 0
    what = f"{frames} frame{'s' if frames != 1 else ''} of {rows} x {columns} pixels"
    if min(rows, columns, frames, samples, bits) < 0:
        return f"broken image header: negative size ({what})"
    if rows * columns * bits == 0:
        return f"broken image header: no image size ({what}, {bits} bits allocated)"
    if rows * columns > MAX_FRAME_PIXELS:
        return f"declares {what}, larger than any image this app can show ({MAX_FRAME_PIXELS:,} pixels a frame)"
    declared = rows * columns * samples * frames * bits // 8
    syntax = str(v.get("TransferSyntaxUID", NATIVE_SYNTAXES[0]))
    if syntax in NATIVE_SYNTAXES:
        available = _native_bytes_available(header, size)
        if declared > available:
            return (
                f"declares {what} ({_size_text(declared)}) but holds only {_size_text(available)} "
                "of pixel data: the header or the file is broken"
            )
    elif frames * MIN_ENCAPSULATED_FRAME_BYTES > size:
        return f"declares {what} but the whole file is only {_size_text(size)}: the header or the file is broken"
    elif syntax == RLE_LOSSLESS and declared > RLE_MAX_EXPANSION * size:
        return (
            f"declares {what} ({_size_text(declared)}), more than RLE can hold in a file of {_size_text(size)}: "
            "the header or the file is broken"
        )
    return ""


def _native_bytes_available(header: RawHeader, size: int) -> int:
    """Pixel bytes really in the file: the declared value length, cut at the end of the file."""
    in_file = size - header.pixel_offset if header.pixel_offset >= 0 else size
    return min(header.pixel_length, in_file) if header.pixel_length >= 0 else in_file


def _size_text(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def describe_non_image(kind: ObjectKind) -> str:
    """Plain words for why a DICOM object is not shown as an image series."""
    return _KIND_WORDS.get(kind, "not an image")


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    try:
        return int(str(value).split("\\")[0].strip())
    except (TypeError, ValueError):
        return None


def _optional_float(value: object) -> float | None:
    """The first number of a value; ``None`` when absent, not a number, NaN or infinite."""
    try:
        number = float(str(value).split("\\")[0])
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _float(value: object, default: float) -> float:
    parsed = _optional_float(value)
    return default if parsed is None else parsed


def _positive(values: tuple[float, ...] | None) -> tuple[float, ...] | None:
    return values if values is not None and all(v > 0 for v in values) else None


def _floats(value: object, count: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(p) for p in str(value).split("\\"))
    except ValueError:
        return None
    return parts if len(parts) == count and all(math.isfinite(p) for p in parts) else None
