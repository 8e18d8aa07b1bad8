"""A lean DICOM header reader for indexing: only the tags we index, stop at Pixel Data.

pydicom's ``dcmread(stop_before_pixels=True)`` builds a full Dataset for every file;
indexing thousands of files needs only ~40 values and the Pixel Data offset, so this
walks the encoded elements (PS3.5 section 7) and skips everything else by its length.
Files this reader cannot walk (deflated, malformed) raise ``HeaderParseError`` and the
caller falls back to pydicom. Text values are decoded with the file's Specific Character Set
as pydicom decodes them (``header_text``).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meddiag_desktop.errors import DicomReadError
from meddiag_desktop.io.header_text import CHARSET_TAG, charset_vrs, decode_text, plain_text

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
_TEXT_VRS = charset_vrs(WANTED_TAGS)  # values decoded with the Specific Character Set (PS3.5 6.1.2.3)
_SEQ_END_LE = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
FLOAT_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009})  # Float / Double Float Pixel Data (PS3.3 C.7.6.24)


class HeaderParseError(DicomReadError):
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
    pixel_tag: int = 0  # which Pixel Data element: 7FE00010 (integers), 7FE00008 or 7FE00009 (floats)
    pixel_problem: str = ""  # why the pixel data cannot be whole (e.g. the file ends inside it); '' when it can


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

    def read_at(self, pos: int, count: int) -> bytes:
        """``count`` bytes at ``pos`` (fewer at the end of the file), without growing the window."""
        if pos + count <= len(self.data):
            return self.data[pos : pos + count]
        self._handle.seek(pos)  # type: ignore[attr-defined]
        try:
            return self._handle.read(count)  # type: ignore[attr-defined,no-any-return]
        finally:
            self._handle.seek(len(self.data))  # type: ignore[attr-defined]


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
        walker = _Walker(buf, syntax, header)
        walker.walk(pos)
        walker.decode_texts()
        if header.pixel_offset >= 0 and header.pixel_length == -1:
            header.pixel_problem = _encapsulated_problem(buf, header.pixel_offset)
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
            # UIDs: no character set applies, so an escape sequence is part of the (broken) value, as pydicom reads it
            values[name] = data[pos : pos + length].decode("latin-1").rstrip("\x00 ").strip()
        pos += length
    return values, pos


def _encapsulated_problem(buf: _Buffer, pos: int) -> str:
    """Why encapsulated Pixel Data starting at ``pos`` is not whole ('' when it is), PS3.5 A.4.

    Its items must end with a Sequence Delimitation Item inside the file. Nearly every file ends
    with that delimiter, so one 8-byte read at the end proves it; otherwise the items are
    followed by their lengths (one small read each, no pixel bytes read).
    """
    size = buf.file_size
    if buf.read_at(size - 8, 8) == _SEQ_END_LE and pos + 8 <= size - 8:
        return ""
    items = 0
    while pos + 8 <= size:
        group, element, length = struct.unpack("<HHI", buf.read_at(pos, 8))
        tag = (group << 16) | element
        if tag == _SEQ_END:
            return ""
        if tag != _ITEM or length == _UNDEFINED:
            return f"its pixel data holds a tag {tag:08X} where a frame item belongs (byte {pos})"
        pos, items = pos + 8 + length, items + 1
    if pos == size and items:  # every item whole, only the closing delimiter missing: pydicom reads it, so do we
        return ""
    missing = f" ({pos - size} bytes missing)" if pos > size else ""
    return f"the file ends inside its pixel data{missing}: it is cut short, e.g. an incomplete copy"


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
        self._walk_until = 0  # no jump to Pixel Data before this byte: a sequence lies in between
        self._texts: dict[int, bytes] = {}  # raw values decoded once the Specific Character Set is known

    def walk(self, pos: int) -> None:
        """Walk the top-level data set until Pixel Data or end of file."""
        while True:
            if pos + 8 > len(self.buf.data):  # checked here, not by a call per element: the walk is the hot path
                try:
                    self.buf.ensure(pos + 8)
                except HeaderParseError:
                    return  # clean end of a file without pixel data
            tag, vr, length, value_pos = self._element_header(pos)
            if tag in PIXEL_DATA_TAGS:
                self._found_pixels(tag, value_pos, -1 if length == _UNDEFINED else length)
                return
            if tag > LAST_WANTED_BEFORE_PIXELS and pos >= self._walk_until:
                self._check_next_in_order(tag, length, value_pos)
                if self._jump_to_pixel_data(pos):
                    return
            pos = self._consume(tag, vr, length, value_pos, top_level=True)

    def decode_texts(self) -> None:
        """Decode the text values with the file's Specific Character Set, wherever in the header it stood."""
        charset = self._texts.get(CHARSET_TAG)
        for tag, raw in self._texts.items():
            if tag in _TEXT_VRS:
                self.header.values[WANTED_TAGS[tag]] = decode_text(raw, _TEXT_VRS[tag], charset)

    def _check_next_in_order(self, tag: int, length: int, value_pos: int) -> None:
        """Refuse to jump from an element the next one does not follow in tag order.

        Elements ascend (PS3.5 7.1); a lower tag next means ``tag`` was read from shifted bytes
        (a corrupt length earlier) and a jump would skip wanted elements that come after it.
        """
        after = value_pos + length
        if length == _UNDEFINED or after + 4 > self.buf.file_size:
            return
        self.buf.ensure(after + 4)
        group, elem = self._tag.unpack_from(self.buf.data, after)
        if (group << 16) | elem < tag:
            raise HeaderParseError(f"elements out of order at byte {after}")

    def _found_pixels(self, tag: int, offset: int, length: int) -> None:
        self.header.pixel_tag, self.header.pixel_offset, self.header.pixel_length = tag, offset, length

    def _jump_to_pixel_data(self, start: int) -> bool:
        """Find Pixel Data by its tag bytes and accept it only if its length proves it.

        Private groups after 0028 (e.g. Siemens CSA, Philips 2001/2005) hold hundreds of
        elements we do not need; walking them dominates indexing time. A candidate is
        accepted only when its value is encapsulated (an Item tag follows) or its length is
        exactly the size the image attributes imply; otherwise the caller keeps walking. A
        candidate after an Item tag may sit inside a sequence (an Icon Image Sequence, PS3.3
        F.7, holds a Pixel Data of its own): the caller then walks through that sequence first.
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
            length = self._pixel_candidate_length(found, expected)
            if length is None:
                search_from = found + 1
                continue
            item = self.buf.data.find(_ITEM_LE, start, found)
            if item >= 0:
                self._walk_until = item + 1
                return False
            self._found_pixels(0x7FE00010, found + (12 if self.explicit else 8), length)
            return True

    def _pixel_candidate_length(self, at: int, expected: int) -> int | None:
        """The value length (-1: encapsulated) if the bytes at ``at`` prove a Pixel Data element, else None."""
        header_len = 12 if self.explicit else 8
        try:
            self.buf.ensure(at + header_len + 4)
        except HeaderParseError:
            return None
        data = self.buf.data
        if self.explicit:
            if data[at + 4 : at + 6] not in (b"OB", b"OW") or data[at + 6 : at + 8] != b"\0\0":
                return None
            length = self._u32.unpack_from(data, at + 8)[0]
        else:
            length = self._u32.unpack_from(data, at + 4)[0]
        value = at + header_len
        if length == _UNDEFINED and data[value : value + 4] == _ITEM_LE:
            return -1
        if expected > 0 and length in (expected, expected + 1) and value + length <= self.buf.file_size:
            return int(length)
        return None

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
        if pos + length > self.buf.file_size:  # a declared length past the end: refuse before reading
            raise HeaderParseError("file ends inside the header")
        if pos + length > len(self.buf.data):
            self.buf.ensure(pos + length)
        if top_level and (tag in WANTED_TAGS or tag == CHARSET_TAG):
            raw = self.buf.data[pos : pos + length]
            if tag in _US_TAGS and length >= 2:
                self.header.values[WANTED_TAGS[tag]] = self._u16.unpack_from(raw, 0)[0]
            elif tag in _TEXT_VRS or tag == CHARSET_TAG:
                self._texts[tag] = raw
            else:
                self.header.values[WANTED_TAGS[tag]] = plain_text(raw)
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
