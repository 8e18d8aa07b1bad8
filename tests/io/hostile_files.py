"""Crafted hostile DICOM files, built with pydicom from the bundled demo CT (issue 12)."""

from __future__ import annotations

import io
import os
import shutil
import struct
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

DEMO_SERIES = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001"


def demo_files(count: int) -> list[Path]:
    return sorted(DEMO_SERIES.glob("*.dcm"))[:count]


def good_folder(folder: Path, count: int = 3) -> list[Path]:
    """``count`` good demo slices copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(source, folder / source.name)) for source in demo_files(count)]


def demo_dataset(number: int = 10) -> Dataset:
    """A demo slice as a new instance (its own SOP Instance UID) of a new series."""
    ds = pydicom.dcmread(sorted(DEMO_SERIES.glob("*.dcm"))[number])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    return ds


def write_non_utf8_name(folder: Path) -> Path:
    """A good slice under a file name that is not valid UTF-8 (bytes from a Latin-1 archive)."""
    name = os.fsdecode(b"slice_\xe9t\xe9.dcm")
    return Path(shutil.copy2(demo_files(1)[0], folder / name))


def write_deep_sequence(folder: Path, depth: int = 20_000) -> Path:
    """A slice with a sequence nested ``depth`` levels deep (undefined lengths, explicit VR LE)."""
    ds = demo_dataset()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    undefined = 0xFFFFFFFF
    sequence = struct.pack("<HH2sHI", 0x0009, 0x1010, b"SQ", 0, undefined)
    open_level = sequence + struct.pack("<HHI", 0xFFFE, 0xE000, undefined)
    close_level = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    private = struct.pack("<HH2sH", 0x0009, 0x0010, b"LO", 6) + b"HOSTIL"
    nested = private + open_level * depth + close_level * depth
    # Group 0009 sits between 0008 and 0010: insert before the first group-0010 element.
    insert_at = data.index(b"\x10\x00\x10\x00PN")
    path = folder / "deep_sequence.dcm"
    path.write_bytes(data[:insert_at] + nested + data[insert_at:])
    return path


def write_unknown_vr(folder: Path, *, on_rows: bool) -> Path:
    """A slice with an element whose explicit VR is the unknown ``QQ`` (short-form length).

    ``on_rows``: the unknown VR is on Rows (a value the index needs), else on a private element.
    """
    ds = demo_dataset()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    if on_rows:
        at = data.index(b"\x28\x00\x10\x00US")
        patched = data[: at + 4] + b"QQ" + data[at + 6 :]
    else:
        at = data.index(b"\x10\x00\x10\x00PN")
        private = struct.pack("<HH2sH", 0x0009, 0x0010, b"LO", 6) + b"HOSTIL"
        patched = data[:at] + private + struct.pack("<HH2sH", 0x0009, 0x1001, b"QQ", 4) + b"ABCD" + data[at:]
    path = folder / f"unknown_vr_{'rows' if on_rows else 'private'}.dcm"
    path.write_bytes(patched)
    return path


def write_slices(folder: Path, count: int, edit: object, prefix: str) -> list[Path]:
    """``count`` slices of one new series, each passed to ``edit(ds, i)`` before saving."""
    series_uid = pydicom.uid.generate_uid()
    paths = []
    for i in range(count):
        ds = demo_dataset(i)
        ds.SeriesInstanceUID = series_uid
        edit(ds, i)  # type: ignore[operator]
        path = folder / f"{prefix}_{i:02d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_header_only(folder: Path, name: str, edit: object, *, native: bool = False) -> Path:
    """One slice whose header ``edit(ds)`` changes; ``native`` first decompresses it (explicit VR LE)."""
    ds = demo_dataset()
    if native:
        ds.decompress(decoding_plugin="pylibjpeg")
    edit(ds)  # type: ignore[operator]
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    return path
