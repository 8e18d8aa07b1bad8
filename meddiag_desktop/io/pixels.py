"""Decode pixel data: a fast path for uncompressed files at indexed offsets, pydicom otherwise.

Decoding of compressed syntaxes always goes through pylibjpeg's plugins (or pydicom's own
RLE decoder), never pillow: pillow returns wrong values for some JPEG 2000 files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.pixels.processing import apply_color_lut
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID

from meddiag_desktop.errors import DicomReadError, UnsupportedDicomError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.records import InstanceRecord

NATIVE_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
_PLUGIN_FOR = {
    "1.2.840.10008.1.2.5": "pylibjpeg",  # RLE (pylibjpeg-rle)
}


def can_read_fast(record: InstanceRecord) -> bool:
    """True when the pixel bytes can be read straight from the indexed offset."""
    expected = record.rows * record.columns * record.samples_per_pixel * (record.bits_allocated // 8)
    return (
        record.transfer_syntax_uid in NATIVE_LE
        and record.frames == 1
        and record.samples_per_pixel == 1
        and record.bits_allocated in (8, 16, 32)
        and record.pixel_offset > 0
        and record.pixel_length >= expected > 0
    )


def stored_dtype(record: InstanceRecord) -> np.dtype[np.integer]:
    kind = "i" if record.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{record.bits_allocated // 8}")


def read_fast(record: InstanceRecord, buffer: NDArray[np.integer]) -> NDArray[np.integer]:
    """Read one uncompressed frame into ``buffer`` (rows x columns, stored dtype)."""
    got = read_at(record.path, buffer.data.cast("B"), record.pixel_offset)
    if got != buffer.nbytes:
        raise DicomReadError(f"{Path(record.path).name}: pixel data is truncated ({got} of {buffer.nbytes} bytes).")
    return honour_bits_stored(buffer, record.bits_allocated, record.bits_stored, record.pixel_representation)


def read_at(path: str, target: memoryview, offset: int) -> int:
    """Read up to ``len(target)`` bytes at ``offset`` into ``target``; returns the count read.

    ``os.preadv`` (one system call, no copy) where the OS has it; else ``os.pread`` (other
    POSIX systems); else a seek and ``readinto`` (Windows has neither). All three are safe from
    several threads at once: none shares a file position.
    """
    if not hasattr(os, "preadv") and not hasattr(os, "pread"):
        return _read_at_seek(path, target, offset)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        if hasattr(os, "preadv"):
            return os.preadv(fd, [target], offset)
        return _pread_into(fd, target, offset)
    finally:
        os.close(fd)


def _pread_into(fd: int, target: memoryview, offset: int) -> int:
    got = 0
    while got < len(target):
        chunk = os.pread(fd, len(target) - got, offset + got)
        if not chunk:
            break
        target[got : got + len(chunk)] = chunk
        got += len(chunk)
    return got


def _read_at_seek(path: str, target: memoryview, offset: int) -> int:
    got = 0
    with Path(path).open("rb", buffering=0) as file:
        file.seek(offset)
        while got < len(target):
            count = file.readinto(target[got:])
            if not count:
                break
            got += count
    return got


def honour_bits_stored(
    array: NDArray[np.integer], bits_allocated: int, bits_stored: int, pixel_representation: int
) -> NDArray[np.integer]:
    """Clear unused high bits, or sign-extend signed values (PS3.5 8.1.1)."""
    unused = bits_allocated - bits_stored
    if unused <= 0 or bits_stored <= 0:
        return array
    if pixel_representation == 0:
        np.bitwise_and(array, (1 << bits_stored) - 1, out=array)
    else:
        np.left_shift(array, unused, out=array)
        np.right_shift(array, unused, out=array)
    return array


def decode_file(record: InstanceRecord) -> NDArray[np.generic]:
    """Decode all frames of one file: ``(frames, rows, cols)`` or ``(frames, rows, cols, 3)`` RGB."""
    name = Path(record.path).name
    try:
        ds = pydicom.dcmread(record.path, force=True)  # indexing already proved it is DICOM
    except Exception as exc:
        raise DicomReadError(f"{name}: the file cannot be read ({exc}).") from exc
    array = _decode_dataset(ds, name)
    if int(ds.get("NumberOfFrames", 1) or 1) == 1:
        array = array[np.newaxis]
    return _to_display_color(ds, array) if _is_color(ds) else array


def _transfer_syntax(ds: pydicom.Dataset) -> UID:
    """The file's syntax; files without file meta (pre-PS3.10) get the one pydicom detected."""
    if "TransferSyntaxUID" in ds.file_meta:
        return UID(ds.file_meta.TransferSyntaxUID)
    implicit, little = ds.original_encoding
    syntax = UID("1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
    ds.file_meta.TransferSyntaxUID = syntax
    return syntax


def _decode_dataset(ds: pydicom.Dataset, name: str) -> NDArray[np.generic]:
    syntax = _transfer_syntax(ds)
    if not syntax.is_transfer_syntax:  # pydicom would raise a bare ValueError on is_compressed
        raise UnsupportedDicomError(f"{name}: unsupported — {syntax} is not a known transfer syntax (PS3.6 Annex A).")
    plugin = _PLUGIN_FOR.get(str(syntax), "pylibjpeg" if syntax.is_compressed else "")
    try:
        result: NDArray[np.generic] = pixel_array(ds, decoding_plugin=plugin)
    except NotImplementedError as exc:
        raise UnsupportedDicomError(f"{name}: unsupported — {syntax.name} cannot be decoded here ({exc}).") from exc
    except (RuntimeError, ValueError, AttributeError, KeyError, TypeError) as exc:
        if _no_decoder(exc):
            raise UnsupportedDicomError(f"{name}: unsupported — no decoder for {syntax.name}.") from exc
        raise DicomReadError(f"{name}: broken pixel data — {_first_line(exc)}") from exc
    except Exception as exc:
        raise DicomReadError(f"{name}: broken pixel data — {_first_line(exc)}") from exc
    except BaseException as exc:
        if type(exc).__module__ != "pyo3_runtime":
            raise
        # A Rust decoder's panic (pyo3 PanicException, a BaseException): pylibjpeg-rle panics on
        # frames larger than Rows x Columns say. Broken input, not a reason to stop the program.
        raise DicomReadError(f"{name}: broken pixel data — the decoder failed ({_first_line(exc)})") from exc
    return result


def _no_decoder(exc: BaseException) -> bool:
    """pydicom found no usable decoder (a plugin missing or its dependencies absent), as against a
    decoder that tried and failed ("exceptions were raised by all available plugins": broken data)."""
    text = str(exc).lower()
    return "missing dependencies" in text or text.startswith("no plugin named")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_color(ds: pydicom.Dataset) -> bool:
    return int(ds.get("SamplesPerPixel", 1)) == 3 or ds.get("PhotometricInterpretation") == "PALETTE COLOR"


def _to_display_color(ds: pydicom.Dataset, array: NDArray[np.generic]) -> NDArray[np.uint8]:
    """Colour images become 8-bit RGB for display (palette via its LUT, YBR converted)."""
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        rgb = apply_color_lut(array, ds)
        bits = 16 if rgb.dtype.itemsize > 1 else 8
    else:  # pixel_array(as_rgb=True) has already converted YBR to RGB
        rgb, bits = array, int(ds.get("BitsAllocated", 8))
    shift = max(bits - 8, 0)
    return np.asarray(np.right_shift(rgb, shift) if shift else rgb).astype(np.uint8)
