"""The lean header reader agrees with pydicom on every value it returns, for every file of the demo and the corpus.

No file is skipped silently: a file the lean reader hands to the pydicom fallback, or that
pydicom cannot read, is named in the failure unless ``FALLBACK_EXPECTED`` says why it may be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from pydicom.errors import InvalidDicomError

import meddiag_desktop.io  # noqa: F401 - configures pydicom as the app does
from meddiag_desktop.io.header import WANTED_TAGS, HeaderParseError, NotDicomError, RawHeader, read_header
from tests.conftest import DEMO

NUMBER_VRS = frozenset({"DS", "IS"})
# Files (relative to the folder compared) the lean reader may leave to the pydicom fallback, and why.
# Empty today: it walks every demo and corpus file. Add a file only with the reason it cannot be walked.
FALLBACK_EXPECTED: dict[str, str] = {}
NOT_DICOM_SUFFIXES = frozenset({".md", ".txt", ".xml"})


@dataclass
class Comparison:
    compared: list[str] = field(default_factory=list)
    not_dicom: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return [str(v) for v in value]
    return [str(value)]


def _numbers_or_texts(texts: list[str]) -> list[float] | list[str]:
    """DS/IS values as the app uses them (``float``, so ``' -115.0'`` is ``-115.0``); text if not numbers."""
    stripped = [t.strip() for t in texts if t.strip()]
    try:
        return [float(t) for t in stripped]
    except ValueError:
        return stripped


def _theirs(element: pydicom.DataElement) -> object:
    if element.VR == "SQ":
        return "present"
    if element.VR in NUMBER_VRS:
        return _numbers_or_texts(_texts(element.value))
    if isinstance(element.value, int):
        return element.value
    return "\\".join(_texts(element.value))


def _ours(value: str | int | tuple[int, ...], vr: str) -> object:
    if vr in NUMBER_VRS and isinstance(value, str):
        return _numbers_or_texts(value.split("\\"))
    return value


def _disagreements(header: RawHeader, ds: pydicom.Dataset) -> list[str]:
    """Every wanted tag: the same value from both readers, or no value from either."""
    out = []
    for name in WANTED_TAGS.values():
        tag = pydicom.datadict.tag_for_keyword(name)  # pydicom's dictionary, not the reader's own table
        assert tag is not None, name
        element = ds.file_meta.get(tag) if tag >> 16 == 0x0002 else ds.get(tag)
        ours = header.values.get(name)
        if element is None or element.value in (None, "", b""):
            if ours not in (None, ""):
                out.append(f"{name}: lean reader {ours!r}, pydicom has no value")
        elif ours is None:
            out.append(f"{name}: pydicom {_theirs(element)!r}, lean reader has no value")
        elif _ours(ours, element.VR) != _theirs(element):
            out.append(f"{name}: lean reader {ours!r}, pydicom {_theirs(element)!r}")
    return out


def _pydicom_reads(path: Path) -> bool:
    try:
        pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        return False
    return True


def _compare_file(path: Path, name: str, result: Comparison) -> None:
    try:
        header = read_header(path)
    except NotDicomError:
        if _pydicom_reads(path):
            result.problems.append(f"{name}: the lean reader says 'not DICOM', pydicom reads it")
        else:
            result.not_dicom.append(name)
        return
    except HeaderParseError as exc:
        if name not in FALLBACK_EXPECTED:
            result.problems.append(f"{name}: not compared, the lean reader gave up ({exc})")
        return
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)  # every element up to Pixel Data
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        result.problems.append(f"{name}: not compared, pydicom cannot read it ({type(exc).__name__}: {exc})")
        return
    result.problems.extend(f"{name}: {d}" for d in _disagreements(header, ds))
    result.compared.append(name)


def compare_folder(root: Path) -> Comparison:
    """Read every file under ``root`` with both readers."""
    result = Comparison()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        _compare_file(path, path.relative_to(root).as_posix(), result)
    return result


def test_every_demo_file_agrees_with_pydicom_on_every_value() -> None:
    result = compare_folder(DEMO)
    assert result.problems == []
    assert len(result.compared) == 64
    assert result.not_dicom == ["LICENSE", "README.md"]


def test_every_corpus_file_agrees_with_pydicom_on_every_value(corpus: Path) -> None:
    result = compare_folder(corpus)
    assert result.problems == []
    assert len(result.compared) > 790
    assert all(Path(n).suffix in NOT_DICOM_SUFFIXES or "LICENSE" in Path(n).name for n in result.not_dicom)


def test_pixel_offset_points_at_the_pixel_bytes(corpus: Path) -> None:
    path = next((corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L").glob("*.dcm"))
    header = read_header(path)
    ds = pydicom.dcmread(path)
    with path.open("rb") as handle:
        handle.seek(header.pixel_offset)
        assert handle.read(header.pixel_length) == ds.PixelData


def test_pixel_offset_points_at_the_encapsulated_pixels_of_every_demo_file() -> None:
    for path in sorted(DEMO.rglob("*.dcm")):
        header = read_header(path)
        pixels = pydicom.dcmread(path).PixelData  # RLE: the items, as stored
        assert header.pixel_length == -1, path
        with path.open("rb") as handle:
            handle.seek(header.pixel_offset)
            assert handle.read(len(pixels)) == pixels, path


def test_text_file_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not an image\n" * 20)
    with pytest.raises(NotDicomError):
        read_header(path)


def test_file_cut_inside_a_value_is_a_parse_error(tmp_path: Path) -> None:
    source = next(DEMO.rglob("*.dcm"))
    raw = source.read_bytes()
    uid = pydicom.dcmread(source, stop_before_pixels=True).SeriesInstanceUID.encode()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(raw[: raw.index(uid) + len(uid) // 2])  # the file ends half-way into the Series UID
    with pytest.raises(HeaderParseError, match=r"^file ends inside the header$") as caught:
        read_header(cut)
    assert caught.type is HeaderParseError  # neither 'not DICOM' nor 'unsafe': the fallback may try it


def test_pixel_data_location_matches_pydicom_on_every_native_file(corpus: Path) -> None:
    checked = 0
    for path in sorted(p for p in corpus.rglob("*.dcm") if p.is_file()):
        try:
            header = read_header(path)
        except HeaderParseError:
            assert path.relative_to(corpus).as_posix() in FALLBACK_EXPECTED, path
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
