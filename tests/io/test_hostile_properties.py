"""Property test (hypothesis): mutated headers of the bundled demo CT never crash, hang or over-allocate (issue 12).

Each example takes one small base file (the demo's RLE slice, and native 64 x 64 slices in
explicit and implicit VR) and changes it: a value overwritten, a length field changed, random
bytes spliced in or written over, or the file cut at any offset. Then:

- ``read_header`` returns a header that agrees with pydicom's reading of the same bytes (when
  pydicom reads them at all), or raises ``DicomReadError``;
- ``scan`` indexes the file or names it as a problem, and never raises;
- every indexed image declares no more pixel bytes than its file can hold (64x for RLE, PS3.5 G.3.1),
  and planning and loading it ends in a volume or a ``MeddiagError`` without allocating beyond that.

Derandomized (a fixed set of examples, the same in CI), ~200 examples in well under 30 s.
"""

from __future__ import annotations

import faulthandler
import io
import struct
import tempfile
import tracemalloc
import warnings
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from meddiag_desktop.errors import DicomReadError, MeddiagError
from meddiag_desktop.io.header import WANTED_TAGS, RawHeader, read_header
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series, plan_series
from tests.io import hostile_files as hostile

RLE_MAX_EXPANSION = 64  # PS3.5 G.3.1: 2 encoded bytes give at most 128 decoded bytes
HANG_GUARD_S = 300  # a hang dumps every thread's stack and ends the run instead of stalling CI
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


@dataclass(frozen=True)
class Element:
    tag: int
    value_at: int
    length: int
    length_at: int  # where the length field is
    length_size: int  # 2 or 4 bytes


class Case:
    """One mutated file: how it was made, and its bytes."""

    def __init__(self, what: str, data: bytes) -> None:
        self.what, self.data = what, data

    def __repr__(self) -> str:  # hypothesis prints a failing case: the recipe, not 200 KB of bytes
        return f"Case({self.what}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Base:
    name: str
    data: bytes
    elements: tuple[Element, ...]


def _fixed_uids(ds: Dataset, name: str) -> Dataset:
    """The same UIDs in every run: their lengths move every later byte, and so the examples hypothesis draws."""
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[name, "sop"])
    ds.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[name, "series"])
    return ds


def _encoded(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _small_native(syntax: str) -> bytes:
    ds = _fixed_uids(hostile.demo_dataset(20), syntax)
    ds.decompress(decoding_plugin="pylibjpeg")
    ds.PixelData = np.ascontiguousarray(ds.pixel_array[200:264, 200:264]).tobytes()
    ds.Rows = ds.Columns = 64
    ds.file_meta.TransferSyntaxUID = syntax
    return _encoded(ds)


def _elements(data: bytes) -> tuple[Element, ...]:
    """Every top-level element before Pixel Data, with where its value and length field are."""
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    implicit = ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    found = []
    tags = [(t, True) for t in ds.file_meta.keys()] + [(t, False) for t in ds.keys()]  # noqa: SIM118 - keys, not elements
    for tag, is_meta in tags:
        raw = (ds.file_meta if is_meta else ds).get_item(tag)
        if not isinstance(raw, pydicom.dataelem.RawDataElement) or raw.value_tell is None:
            continue
        short = not (implicit and not is_meta) and raw.VR not in _LONG_VRS
        size = 2 if short else 4
        found.append(Element(int(tag), raw.value_tell, raw.length, raw.value_tell - size, size))
    return tuple(found)


def _rle_base() -> bytes:
    return _encoded(_fixed_uids(hostile.demo_dataset(20), "rle"))


@cache
def bases() -> tuple[Base, ...]:
    made = []
    for name, data in (
        ("rle", _rle_base()),
        ("explicit", _small_native(ExplicitVRLittleEndian)),
        ("implicit", _small_native(ImplicitVRLittleEndian)),
    ):
        made.append(Base(name, data, _elements(data)))
    return tuple(made)


# -- mutations ---------------------------------------------------------------------------------


def _overwrite_value(data: bytes, element: Element, value: bytes) -> bytes:
    value = value[: element.length].ljust(element.length, b" ")
    return data[: element.value_at] + value + data[element.value_at + element.length :]


def _replace_value(data: bytes, element: Element, value: bytes) -> bytes:
    """A new value of another length, with the length field saying so."""
    value = value[: (1 << (8 * element.length_size)) - 1]
    field = struct.pack("<H" if element.length_size == 2 else "<I", len(value))
    end = element.value_at + element.length
    return data[: element.length_at] + field + value + data[end:]


def _set_length(data: bytes, element: Element, length: int) -> bytes:
    length &= (1 << (8 * element.length_size)) - 1
    field = struct.pack("<H" if element.length_size == 2 else "<I", length)
    return data[: element.length_at] + field + data[element.length_at + element.length_size :]


@st.composite
def mutated(draw: st.DrawFn) -> Case:
    base = draw(st.sampled_from(bases()))
    data = base.data
    wanted = [e for e in base.elements if e.tag in WANTED_TAGS or e.tag == 0x00080005]
    element = draw(st.sampled_from(draw(st.sampled_from([wanted, base.elements]))))
    how = draw(st.sampled_from(["overwrite", "replace", "length", "cut", "splice", "scribble", "size", "size"]))
    where = draw(st.integers(0, len(data) - 1))
    noise = draw(st.binary(max_size=48))
    detail = noise.hex()
    if how == "overwrite":
        data = _overwrite_value(data, element, noise)
    elif how == "replace":
        value = draw(st.one_of(st.binary(max_size=48), _text_values()))
        data, detail = _replace_value(data, element, value), value.hex()
    elif how == "length":
        length = draw(st.one_of(st.integers(0, 0xFFFFFFFF), st.just(0xFFFFFFFF)))
        data, detail = _set_length(data, element, length), f"{length:#x}"
    elif how == "size":
        field = draw(st.sampled_from(sorted(_SIZE_TAGS)))
        number = draw(st.integers(-3, 10**8) if field == "NumberOfFrames" else st.integers(0, 0xFFFF))
        data, detail = _with_size(base, field, number), f"{field}={number}"
    elif how == "cut":
        data, detail = data[:where], ""
    elif how == "splice":
        data = data[:where] + noise + data[where:]
    else:
        data = data[:where] + noise + data[where + len(noise) :]
    where_text = f"byte {where}" if how in ("cut", "splice", "scribble") else f"element {element.tag:08X}"
    return Case(f"{base.name}: {how} at {where_text} {detail}".rstrip(), data)


_SIZE_TAGS = {"Rows": 0x00280010, "Columns": 0x00280011, "BitsAllocated": 0x00280100, "NumberOfFrames": 0x00280008}


def _with_size(base: Base, field: str, number: int) -> bytes:
    """The image size attribute ``field`` set to ``number`` (Number of Frames, absent in the bases, is added)."""
    data = base.data
    if field != "NumberOfFrames":
        [element] = [e for e in base.elements if e.tag == _SIZE_TAGS[field]]
        return _overwrite_value(data, element, struct.pack("<H", number))
    [rows] = [e for e in base.elements if e.tag == _SIZE_TAGS["Rows"]]
    value = str(number).encode()
    value += b" " * (len(value) % 2)
    if base.name == "implicit":
        frames = struct.pack("<HHI", 0x0028, 0x0008, len(value)) + value
    else:
        frames = struct.pack("<HH2sH", 0x0028, 0x0008, b"IS", len(value)) + value
    at = rows.value_at - 8  # Rows is US: an 8-byte element header in either VR encoding
    return data[:at] + frames + data[at:]


def _text_values() -> st.SearchStrategy[bytes]:
    """Values a header could plausibly hold: numbers (sizes!), character set terms, UTF-8 and ISO 2022 text."""
    numbers = st.integers(-(2**40), 2**40).map(lambda n: str(n).encode())
    charsets = st.sampled_from([b"ISO_IR 192", b"ISO 2022 IR 87", b"\\ISO 2022 IR 87", b"ISO_IR 13\\ISO 2022 IR 87",
                                b"GB18030", b"ISO-IR 100", b"utf_16", b"nonsense"])  # fmt: skip
    text = st.text(max_size=16).map(lambda s: s.encode("utf-8"))
    escapes = st.binary(max_size=16).map(lambda b: b"\x1b$B" + b + b"\x1b(B")
    return st.one_of(numbers, charsets, text, escapes)


# -- what must hold ----------------------------------------------------------------------------


def _norm(value: object) -> tuple[str, ...]:
    """A value as the index compares it: each of its values stripped, numbers as numbers."""
    if value is None or value in ("", b""):
        return ()
    values = list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    parts = [p.strip() for v in values for p in str(v).split("\\")]
    try:
        return tuple(repr(float(p)) for p in parts if p)
    except ValueError:
        return tuple(parts)


def _agrees_with_pydicom(header: RawHeader, data: bytes) -> list[str]:
    """Wanted values where the lean reader and pydicom differ on the same bytes; [] if pydicom cannot read them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reference reader may repair what it reads
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
            theirs = {}
            for tag, name in WANTED_TAGS.items():
                element = ds.file_meta.get(tag) if tag >> 16 == 2 else ds.get(tag)
                theirs[name] = None if element is None else ("present" if element.VR == "SQ" else element.value)
    except Exception:  # pydicom failing on these bytes leaves nothing to compare with
        return []
    out = []
    for name, value in theirs.items():
        ours = header.values.get(name)
        if isinstance(ours, int) and isinstance(value, (list, pydicom.multival.MultiValue)) and value:
            value = value[0]  # a US value repeated: the index keeps the first
        if _norm(ours) != _norm(value):
            out.append(f"{name}: lean {ours!r}, pydicom {value!r}")
    return out + _pixel_offset_disagreement(header, data)


def _pixel_offset_disagreement(header: RawHeader, data: bytes) -> list[str]:
    """The Pixel Data offset against pydicom's, when pydicom reads the whole file and ours is whole."""
    if header.pixel_problem:  # the file is named as broken (e.g. cut inside its pixel data): that is the answer
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = pydicom.dcmread(io.BytesIO(data)).get_item(0x7FE00010)
    except Exception:  # e.g. cut inside the pixel data: pydicom has no offset to compare with
        return []
    if raw is None and _pydicom_derailed(data):
        return []  # pydicom lost its way in corrupt bytes; the loader names such a file (test below)
    theirs = -1 if raw is None else int(raw.value_tell)  # type: ignore[union-attr]
    return [] if header.pixel_offset == theirs else [f"pixel offset: lean {header.pixel_offset}, pydicom {theirs}"]


def _declared_bytes(rows: int, columns: int, frames: int, samples: int, bits: int) -> int:
    return rows * columns * max(frames, 1) * max(samples, 1) * bits // 8


def _pydicom_derailed(data: bytes) -> bool:
    """Whether pydicom's last element claims more bytes than the file has (a corrupt length; undefined is fine)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), defer_size=None)
    raws = [ds.get_item(tag) for tag in ds.keys()]  # noqa: SIM118 - keys, not elements
    last = next((r for r in reversed(raws) if isinstance(r, pydicom.dataelem.RawDataElement)), None)
    return last is not None and last.length != 0xFFFFFFFF and last.value_tell + last.length > len(data)


def _check_indexed(folder: Path, size: int) -> None:
    with SeriesIndex(folder.parent / "index.sqlite") as index:
        scan(folder, index)  # never raises for a bad file
        for series in index.series():
            for record in index.instances(series.series_instance_uid):
                declared = _declared_bytes(record.rows, record.columns, record.frames, record.samples_per_pixel,
                                           record.bits_allocated)  # fmt: skip
                assert record.kind.value != "image" or declared <= RLE_MAX_EXPANSION * size, record
            if series.kind.value != "image":
                continue
            tracemalloc.start()
            try:
                plan_series(index, series.series_instance_uid)
                load_series(index, series.series_instance_uid, threads=1)
            except MeddiagError:
                pass
            finally:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            # the float32 volume of the largest image the file can hold, plus decoding buffers
            assert peak <= 4 * RLE_MAX_EXPANSION * size + (32 << 20), f"{peak / 2**20:.0f} MiB for a {size}-byte file"


@pytest.fixture(scope="module", autouse=True)
def _hang_guard() -> object:
    faulthandler.dump_traceback_later(HANG_GUARD_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns as it repairs values; in the app that is no error
@settings(max_examples=200, derandomize=True, database=None, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=mutated())
def test_mutated_header_is_a_correct_header_or_a_typed_error(case: Case) -> None:
    what, data = case.what, case.data
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        folder.mkdir()
        path = folder / "mutated.dcm"
        path.write_bytes(data)
        try:
            header = read_header(path)
        except DicomReadError:
            pass
        else:
            assert _agrees_with_pydicom(header, data) == [], what
        _check_indexed(folder, len(data))


def test_the_bases_are_read_as_pydicom_reads_them() -> None:
    """The unmutated files pass the same checks (the property is not vacuous)."""
    for base in bases():
        header = read_header_bytes(base.data)
        assert _agrees_with_pydicom(header, base.data) == [], base.name
        assert header.values["PatientName"] and header.pixel_offset > 0
        assert len(base.elements) > 40


def read_header_bytes(data: bytes) -> RawHeader:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.dcm"
        path.write_bytes(data)
        return read_header(path)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("tag", "length"), [(0x00280002, 0xFFFF), (0x00280101, 0), (0x00280011, 0)])
def test_length_fields_found_by_the_property_are_problems_not_crashes(tmp_path: Path, tag: int, length: int) -> None:
    """Cases the property found: after a wrong length the pydicom fallback read a misparsed element's
    declared 1.3 GB (CPython allocates all of it) from a 300 KB file, or raised BytesLengthException."""
    base = bases()[0]
    [element] = [e for e in base.elements if e.tag == tag]
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "bad.dcm").write_bytes(_set_length(base.data, element, length))
    tracemalloc.start()
    try:
        with SeriesIndex(tmp_path / "index.sqlite") as index:
            [problem] = scan(folder, index).problems
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert problem.reason.startswith("broken ")
    assert peak < 64 << 20


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_odd_length_us_value_in_a_fallback_file_is_a_problem(tmp_path: Path) -> None:
    """pydicom's BytesLengthException (an Exception, no ValueError) on a 3-byte US value is a named problem."""
    folder = tmp_path / "study"
    folder.mkdir()
    path = hostile.write_unknown_vr(folder, on_rows=False)  # the lean reader hands this file to pydicom
    data = path.read_bytes()
    samples = b"\x28\x00\x02\x00US\x02\x00\x01\x00"
    path.write_bytes(data.replace(samples, b"\x28\x00\x02\x00US\x03\x00\x01\x00\x00"))
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        [problem] = scan(folder, index).problems
    assert problem.reason.startswith("broken DICOM header (SamplesPerPixel: Expected total bytes")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_byte_spliced_before_skipped_elements_is_named_when_the_pixels_are_loaded(tmp_path: Path) -> None:
    """A case the property found: one byte spliced into the length of the first element after Rescale Slope.

    The lean reader jumps from that element to the (proven, encapsulated) Pixel Data; pydicom reads
    the shifted bytes as an element longer than the file and stops with no Pixel Data. Loading names
    the file.
    """
    base = bases()[0]
    after = next(e for e in base.elements if e.tag > 0x00281053)
    data = base.data[: after.length_at] + b"\0" + base.data[after.length_at :]
    assert _pydicom_derailed(data) and not _pydicom_derailed(base.data)
    header = read_header_bytes(data)
    assert header.pixel_offset > 0 and _agrees_with_pydicom(header, data) == []
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "spliced.dcm").write_bytes(data)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        with pytest.raises(DicomReadError, match=r"spliced\.dcm: broken pixel data"):
            load_series(index, series.series_instance_uid, threads=1)


def test_an_escape_sequence_in_a_file_meta_uid_is_kept_as_pydicom_keeps_it() -> None:
    """A case the property found: no character set applies to UIDs, so ESC ( B is part of the value."""
    base = bases()[0]
    [element] = [e for e in base.elements if e.tag == 0x00020002]
    data = _overwrite_value(base.data, element, b"\x1b(B")
    header = read_header_bytes(data)
    assert header.values["MediaStorageSOPClassUID"] == "\x1b(B"
    assert _agrees_with_pydicom(header, data) == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_length_that_realigns_on_a_private_tag_does_not_lose_the_rescale(tmp_path: Path) -> None:
    """A case the property found: Bits Allocated's length set to 24 in an implicit VR file.

    The shifted bytes read as a private element (0103,0002) followed by (0028,0303): the lean reader
    used to jump from there to Pixel Data and index the slice without its Rescale Intercept (HU off
    by 1024, silently). It now sees the tags fall back and hands the file to pydicom.
    """
    implicit = next(b for b in bases() if b.name == "implicit")
    [element] = [e for e in implicit.elements if e.tag == 0x00280100]
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "shifted.dcm").write_bytes(_set_length(implicit.data, element, 0x18))
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert scan(folder, index).problems == ()
        [series] = index.series()
        [record] = index.instances(series.series_instance_uid)
    assert record.rescale_intercept == -1024.0
