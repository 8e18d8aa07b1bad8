"""The lean header reader agrees with pydicom on every DICOM file of the corpus."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

import meddiag_desktop.io  # noqa: F401 - configures pydicom as the app does
from meddiag_desktop.io.header import HeaderParseError, NotDicomError, read_header

CHECKED = ("SOPInstanceUID", "SeriesInstanceUID", "Modality", "Rows", "Columns", "BitsStored",
           "ImagePositionPatient", "RescaleIntercept", "NumberOfFrames", "TransferSyntaxUID")  # fmt: skip


def _pydicom_text(value: object) -> str:
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def test_agrees_with_pydicom_on_every_corpus_file(corpus: Path) -> None:
    compared = 0
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        try:
            header = read_header(path)
        except NotDicomError:
            assert path.suffix in {".md", ".txt", ".xml", ""} or "LICENSE" in path.name, path
            continue
        except HeaderParseError:
            continue  # the scanner falls back to pydicom for these
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)  # validation is off (io/__init__)
        for name in CHECKED:
            element = ds.file_meta.get(name) if name == "TransferSyntaxUID" else ds.get(name)
            if element is None or name not in header.values:
                continue
            ours, theirs = header.values[name], element
            if isinstance(ours, int):
                assert ours == int(theirs), (path, name)
            else:
                assert (
                    [float(v) for v in str(ours).split("\\")]
                    == pytest.approx([float(v) for v in _pydicom_text(theirs).split("\\")])
                    if name in ("ImagePositionPatient", "RescaleIntercept")
                    else ours == _pydicom_text(theirs)
                ), (path, name)
        compared += 1
    assert compared > 300


def test_pixel_offset_points_at_the_pixel_bytes(corpus: Path) -> None:
    path = next((corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L").glob("*.dcm"))
    header = read_header(path)
    ds = pydicom.dcmread(path)
    with path.open("rb") as handle:
        handle.seek(header.pixel_offset)
        assert handle.read(header.pixel_length) == ds.PixelData


def test_text_file_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not an image\n" * 20)
    with pytest.raises(NotDicomError):
        read_header(path)


def test_truncated_header_is_a_parse_error(corpus: Path, tmp_path: Path) -> None:
    source = next((corpus / "mr_ge_3d_t1_mprage").glob("*MRDC*"))
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(source.read_bytes()[:700])
    header_or_error: object
    try:
        header_or_error = read_header(cut)
    except HeaderParseError as exc:
        header_or_error = exc
    assert isinstance(header_or_error, HeaderParseError) or header_or_error.pixel_offset == -1  # type: ignore[attr-defined]


def test_pixel_data_location_matches_pydicom_on_every_native_file(corpus: Path) -> None:
    checked = 0
    for path in sorted(p for p in corpus.rglob("*.dcm") if p.is_file()):
        try:
            header = read_header(path)
        except HeaderParseError:
            continue
        if header.pixel_length <= 0:
            continue
        ds = pydicom.dcmread(path, force=True)
        if "PixelData" not in ds or ds.file_meta.get("TransferSyntaxUID") not in (
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.1",
        ):
            continue
        with path.open("rb") as handle:
            handle.seek(header.pixel_offset)
            assert handle.read(64) == ds.PixelData[:64], path
        checked += 1
    assert checked > 140
