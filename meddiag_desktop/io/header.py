"""A lean DICOM header reader for indexing: only the tags we index, stop at Pixel Data.

pydicom's ``dcmread(stop_before_pixels=True)`` builds a full Dataset for every file;
indexing thousands of files needs only ~40 values and the Pixel Data offset, so this
walks the encoded elements (PS3.5 section 7) and skips everything else by its length.
Files this reader cannot walk (deflated, malformed) raise ``HeaderParseError`` and the
caller falls back to pydicom.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"

PIXEL_DATA_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
# PS3.5 6.2: every VR with a 16-bit length. Any other VR (e.g. "QQ") stops the lean reader.
_SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS",
     b"ST", b"TM", b"UI", b"UL", b"US"}
)  # fmt: skip
# Real headers nest a few levels (SR content trees a few dozen); a deeper file is built to exhaust readers.
MAX_SEQUENCE_DEPTH = 128
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD

WANTED_TAGS: dict[int, str] = {
    0x00020002: "MediaStorageSOPClassUID",
    0x00020010: "TransferSyntaxUID",
    0x00080008: "ImageType",
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x00080020: "StudyDate",
    0x00080030: "StudyTime",
    0x00080050: "AccessionNumber",
    0x00080060: "Modality",
    0x00080070: "Manufacturer",
    0x00081030: "StudyDescription",
    0x0008103E: "SeriesDescription",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x00100030: "PatientBirthDate",
    0x00100040: "PatientSex",
    0x00180050: "SliceThickness",
    0x00180060: "KVP",
    0x00181120: "GantryDetectorTilt",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00200010: "StudyID",
    0x00200011: "SeriesNumber",
    0x00200013: "InstanceNumber",
    0x00200032: "ImagePositionPatient",
    0x00200037: "ImageOrientationPatient",
    0x00200052: "FrameOfReferenceUID",
    0x00280002: "SamplesPerPixel",
    0x00280004: "PhotometricInterpretation",
    0x00280006: "PlanarConfiguration",
    0x00280008: "NumberOfFrames",
    0x00280010: "Rows",
    0x00280011: "Columns",
    0x00280030: "PixelSpacing",
    0x00280100: "BitsAllocated",
    0x00280101: "BitsStored",
    0x00280103: "PixelRepresentation",
    0x00281050: "WindowCenter",
    0x00281051: "WindowWidth",
    0x00281052: "RescaleIntercept",
    0x00281053: "RescaleSlope",
    0x00041220: "DirectoryRecordSequence",
}
LAST_WANTED_BEFORE_PIXELS = 0x0028FFFF  # every indexed tag but Pixel Data sits in groups <= 0028
_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"
_ITEM_LE = b"\xfe\xff\x00\xe0"
_US_TAGS = frozenset({0x00280002, 0x00280006, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280103})
_SQ_WANTED = frozenset({0x00041220})


class HeaderParseError(Exception):
    """This file cannot be walked by the lean reader (caller may fall back to pydicom)."""


class NotDicomError(HeaderParseError):
    """The file has no DICOM preamble/prefix and does not look like DICOM."""


class UnsafeHeaderError(HeaderParseError):
    """The header is built to exhaust a reader (sequences nested too deep): no reader should try it."""


@dataclass
class RawHeader:
    """Values of ``WANTED_TAGS`` as decoded strings/ints, plus the Pixel Data location."""

    values: dict[str, str | int | tuple[int, ...]]
    pixel_offset: int = -1  # byte offset of the Pixel Data value, -1 if absent
    pixel_length: int = -1  # value length; -1 for encapsulated (undefined length)
    has_sequence_of_frames: bool = False


class _Buffer:
    """A growable window on the start of a file."""

    def __init__(self, handle: object, first: bytes, file_size: int) -> None:
        self._handle = handle
        self.data = first
        self.file_size = file_size

    def grow(self) -> bool:
        """Read the next chunk; False at end of file."""
        more = self._handle.read(max(len(self.data), 65536))  # type: ignore[attr-defined]
        self.data += more
        return bool(more)

    def ensure(self, end: int) -> None:
        if end <= len(self.data):
            return
        more = self._handle.read(max(end - len(self.data), 65536))  # type: ignore[attr-defined]
        self.data += more
        if end > len(self.data):
            raise HeaderParseError("file ends inside the header")


def read_header(path: Path) -> RawHeader:
    """Read the indexed tags of one file. Raises ``HeaderParseError`` if it cannot."""
    with path.open("rb") as handle:
        buf = _Buffer(handle, handle.read(16384), os.fstat(handle.fileno()).st_size)
        start = _find_start(buf.data)
        meta, pos = _read_file_meta(buf, start)
        syntax = str(meta.get("TransferSyntaxUID", IMPLICIT_LE))
        if syntax == DEFLATED_LE:
            raise HeaderParseError("deflated transfer syntax")
        header = RawHeader(values=meta)
        _Walker(buf, syntax, header).walk(pos)
        return header


def _find_start(data: bytes) -> int:
    if len(data) >= 132 and data[128:132] == b"DICM":
        return 132
    # No preamble (PS3.10 violation, but common in old archives): accept a group 0002/0008 start.
    if len(data) >= 8 and data[0:2] in (b"\x02\x00", b"\x08\x00") and data[1] == 0:
        return 0
    raise NotDicomError("no DICOM preamble")


def _read_file_meta(buf: _Buffer, pos: int) -> tuple[dict[str, str | int | tuple[int, ...]], int]:
    """File meta is always explicit VR little endian (PS3.10 7.1)."""
    values: dict[str, str | int | tuple[int, ...]] = {}
    data = buf.data
    while pos + 8 <= len(data):
        group = struct.unpack_from("<H", data, pos)[0]
        if group != 0x0002:
            break
        tag = (group << 16) | struct.unpack_from("<H", data, pos + 2)[0]
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            buf.ensure(pos + 12)
            data = buf.data
            length = struct.unpack_from("<I", data, pos + 8)[0]
            pos += 12
        else:
            length = struct.unpack_from("<H", data, pos + 6)[0]
            pos += 8
        buf.ensure(pos + length)
        data = buf.data
        name = WANTED_TAGS.get(tag)
        if name:
            values[name] = _text(data[pos : pos + length])
        pos += length
    return values, pos


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").rstrip("\x00 ").strip()


class _Walker:
    """Walks data set elements in one transfer syntax, recording wanted values."""

    def __init__(self, buf: _Buffer, syntax: str, header: RawHeader) -> None:
        self.buf = buf
        self.header = header
        self.explicit = syntax != IMPLICIT_LE
        self.endian = ">" if syntax == EXPLICIT_BE else "<"
        self._tag = struct.Struct(self.endian + "HH")
        self._u16 = struct.Struct(self.endian + "H")
        self._u32 = struct.Struct(self.endian + "I")
        self._depth = 0

    def walk(self, pos: int) -> None:
        """Walk the top-level data set until Pixel Data or end of file."""
        while True:
            try:
                self.buf.ensure(pos + 8)
            except HeaderParseError:
                return  # clean end of a file without pixel data
            tag, vr, length, value_pos = self._element_header(pos)
            if tag in PIXEL_DATA_TAGS:
                self.header.pixel_offset = value_pos
                self.header.pixel_length = -1 if length == _UNDEFINED else length
                return
            if tag > LAST_WANTED_BEFORE_PIXELS and self._jump_to_pixel_data(pos):
                return
            pos = self._consume(tag, vr, length, value_pos, top_level=True)

    def _jump_to_pixel_data(self, start: int) -> bool:
        """Find Pixel Data by its tag bytes and accept it only if its length proves it.

        Private groups after 0028 (e.g. Siemens CSA, Philips 2001/2005) hold hundreds of
        elements we do not need; walking them dominates indexing time. A candidate is
        accepted only when its value is encapsulated (an Item tag follows) or its length is
        exactly the size the image attributes imply; otherwise the caller keeps walking.
        """
        if self.endian != "<":
            return False
        expected = self._expected_native_length()
        search_from = start
        while True:
            found = self.buf.data.find(_PIXEL_TAG_LE, search_from)
            if found < 0:
                search_from = max(start, len(self.buf.data) - 3)
                if not self.buf.grow():
                    return False
                continue
            if self._accept_pixel_candidate(found, expected):
                return True
            search_from = found + 1

    def _accept_pixel_candidate(self, at: int, expected: int) -> bool:
        header_len = 12 if self.explicit else 8
        try:
            self.buf.ensure(at + header_len + 4)
        except HeaderParseError:
            return False
        data = self.buf.data
        if self.explicit:
            if data[at + 4 : at + 6] not in (b"OB", b"OW") or data[at + 6 : at + 8] != b"\0\0":
                return False
            length = self._u32.unpack_from(data, at + 8)[0]
        else:
            length = self._u32.unpack_from(data, at + 4)[0]
        value = at + header_len
        if length == _UNDEFINED and data[value : value + 4] == _ITEM_LE:
            self.header.pixel_offset, self.header.pixel_length = value, -1
            return True
        if expected > 0 and length in (expected, expected + 1) and value + length <= self.buf.file_size:
            self.header.pixel_offset, self.header.pixel_length = value, length
            return True
        return False

    def _expected_native_length(self) -> int:
        v = self.header.values
        try:
            rows, cols = int(str(v["Rows"])), int(str(v["Columns"]))
            bits, samples = int(str(v["BitsAllocated"])), int(str(v.get("SamplesPerPixel", 1)))
            frames = int(str(v.get("NumberOfFrames", 1)).split("\\")[0] or 1)
        except (KeyError, ValueError):
            return -1
        size = rows * cols * samples * frames * bits // 8
        return size + (size % 2)

    def _element_header(self, pos: int) -> tuple[int, bytes, int, int]:
        data = self.buf.data
        group, elem = self._tag.unpack_from(data, pos)
        tag = (group << 16) | elem
        if group == 0xFFFE:  # item/delimiter tags never carry a VR
            return tag, b"", self._u32.unpack_from(data, pos + 4)[0], pos + 8
        if not self.explicit:
            return tag, b"", self._u32.unpack_from(data, pos + 4)[0], pos + 8
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            self.buf.ensure(pos + 12)
            return tag, vr, self._u32.unpack_from(self.buf.data, pos + 8)[0], pos + 12
        if vr not in _SHORT_VRS:
            raise HeaderParseError(f"unknown VR {vr!r} at byte {pos}")
        return tag, vr, self._u16.unpack_from(data, pos + 6)[0], pos + 8

    def _consume(self, tag: int, vr: bytes, length: int, pos: int, *, top_level: bool) -> int:
        """Record the value if wanted; return the position after the element."""
        if length == _UNDEFINED or vr == b"SQ":
            return self._skip_sequence(tag, length, pos)
        self.buf.ensure(pos + length)
        if top_level and tag in WANTED_TAGS:
            raw = self.buf.data[pos : pos + length]
            name = WANTED_TAGS[tag]
            if tag in _US_TAGS and length >= 2:
                self.header.values[name] = self._u16.unpack_from(raw, 0)[0]
            else:
                self.header.values[name] = _text(raw)
        return pos + length

    def _skip_sequence(self, tag: int, length: int, pos: int) -> int:
        if tag == 0x52009230:
            self.header.has_sequence_of_frames = True
        if tag in _SQ_WANTED:
            self.header.values[WANTED_TAGS[tag]] = "present"
        if length != _UNDEFINED:
            return pos + length
        self._depth += 1
        if self._depth > MAX_SEQUENCE_DEPTH:
            raise UnsafeHeaderError(f"sequences nested more than {MAX_SEQUENCE_DEPTH} levels deep (byte {pos})")
        try:
            return self._skip_items(pos)
        finally:
            self._depth -= 1

    def _skip_items(self, pos: int) -> int:
        while True:
            self.buf.ensure(pos + 8)
            item_tag, _vr, item_len, pos = self._element_header(pos)
            if item_tag == _SEQ_END:
                return pos
            if item_tag != _ITEM:
                raise HeaderParseError(f"unexpected tag {item_tag:08X} in a sequence")
            pos = pos + item_len if item_len != _UNDEFINED else self._skip_item(pos)

    def _skip_item(self, pos: int) -> int:
        while True:
            self.buf.ensure(pos + 8)
            tag, vr, length, pos = self._element_header(pos)
            if tag == _ITEM_END:
                return pos
            pos = self._consume(tag, vr, length, pos, top_level=False)
