"""The lean header reader decodes text with the Specific Character Set exactly as pydicom does (issue 12).

PS3.5 6.1.2.3: SH, LO, UC, ST, LT, UT and PN use (0008,0005). pydicom's own character-set test
files ship inside the installed pydicom package (Japanese ISO 2022, Korean, Chinese, Cyrillic,
Greek, Arabic, Hebrew), so these run without ../shared; the corpus files are compared too.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.dataset import Dataset

import meddiag_desktop.io  # noqa: F401 - configures pydicom as the app does
from meddiag_desktop.io.header import WANTED_TAGS, read_header
from meddiag_desktop.io.header_text import charset_vrs, plain_text
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from tests.io import hostile_files as hostile

TEXT_TAGS = charset_vrs(WANTED_TAGS)
MULLER = "Müller^Jürgen"
PYDICOM_CHARSET_FILES = sorted(Path(p) for p in get_charset_files("*.dcm"))


def _pydicom_text(ds: Dataset, tag: int) -> str | None:
    element = ds.get(tag)
    if element is None or element.value in (None, ""):
        return None
    value = element.value
    if isinstance(value, (list, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _text_disagreements(path: Path) -> list[str]:
    """Every character-set text tag the index keeps: the lean reader's value against pydicom's."""
    ours = read_header(path).values
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)  # a few corpus files lack the preamble
    out = []
    for tag in TEXT_TAGS:
        name = WANTED_TAGS[tag]
        theirs = _pydicom_text(ds, tag)
        if (ours.get(name) or None) != theirs:
            out.append(f"{path.name} {name}: lean reader {ours.get(name)!r}, pydicom {theirs!r}")
    return out


def _charset(path: Path) -> object:
    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SpecificCharacterSet"], force=True)
    return ds.get("SpecificCharacterSet")


def test_the_indexed_text_tags_are_the_ones_the_character_set_applies_to() -> None:
    names = {WANTED_TAGS[t]: vr for t, vr in TEXT_TAGS.items()}
    assert names == {
        "AccessionNumber": "SH", "Manufacturer": "LO", "StudyDescription": "LO", "SeriesDescription": "LO",
        "PatientName": "PN", "PatientID": "LO", "StudyID": "SH",
    }  # fmt: skip


def test_every_pydicom_charset_file_reads_as_pydicom_reads_it() -> None:
    assert len(PYDICOM_CHARSET_FILES) >= 15, "pydicom's charset test files are missing from the installed package"
    problems = [d for path in PYDICOM_CHARSET_FILES for d in _text_disagreements(path)]
    assert problems == []


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"),  # ISO 2022 IR 87: escapes, not raw bytes
        ("chrH32.dcm", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"),  # ISO 2022 IR 13 + 87
        ("chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동"),  # ISO 2022 IR 149
        ("chrRuss.dcm", "Люкceмбypг"),  # ISO_IR 144
        ("chrX1.dcm", "Wang^XiaoDong=王^小東"),  # ISO_IR 192
        ("chrX2.dcm", "Wang^XiaoDong=王^小东"),  # GB18030
    ],
)
def test_patient_names_in_other_scripts(name: str, patient: str) -> None:
    [path] = [p for p in PYDICOM_CHARSET_FILES if p.name == name]
    assert read_header(path).values["PatientName"] == patient


def test_every_corpus_file_with_a_character_set_reads_as_pydicom_reads_it(corpus: Path) -> None:
    compared: set[str] = set()
    problems = []
    for path in sorted((corpus / "codec_zoo").rglob("*.dcm")):
        charset = _charset(path)
        if charset in (None, "", "ISO_IR 100"):
            continue
        compared.add(str(charset))
        problems += _text_disagreements(path)
    assert problems == []
    assert {"ISO_IR 192", "ISO 2022 IR 100", "['ISO 2022 IR 13', 'ISO 2022 IR 87']"} <= compared


def _write_muller(folder: Path) -> Path:
    ds = hostile.demo_dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = MULLER
    ds.StudyDescription = "Thorax nativ, Lungenrundherd (Größe?)"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "muller.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert MULLER.encode("utf-8") in path.read_bytes()  # stored as UTF-8, as the character set says
    return path


def test_utf8_name_is_decoded_not_read_as_latin1(tmp_path: Path) -> None:
    path = _write_muller(tmp_path)
    values = read_header(path).values
    assert values["PatientName"] == MULLER  # Latin-1 would give 'MÃ¼ller^JÃ¼rgen'
    assert values["StudyDescription"] == "Thorax nativ, Lungenrundherd (Größe?)"
    assert _text_disagreements(path) == []


def test_utf8_name_reaches_the_index(tmp_path: Path) -> None:
    _write_muller(tmp_path / "study")
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(tmp_path / "study", index)
        assert [p.name for p in index.patients()] == [MULLER]


def test_an_index_from_before_re_reads_names_it_stored_as_latin1(tmp_path: Path) -> None:
    """Rows written by the Latin-1 reader (schema 2) stay listed after the upgrade, marked stale, and the next
    scan re-reads them and replaces the misread name (no stray patient left behind)."""
    _write_muller(tmp_path / "study")
    db_path = tmp_path / "index.sqlite"
    with SeriesIndex(db_path) as index:
        scan(tmp_path / "study", index)
    with closing(sqlite3.connect(db_path)) as db, db:  # what the old reader had stored
        db.execute("UPDATE patients SET name = ?", (MULLER.encode("utf-8").decode("latin-1"),))
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    with SeriesIndex(db_path) as index:
        assert len(index.series()) == 1  # nothing vanishes from the browser before the folder is scanned again
        again = scan(tmp_path / "study", index)
        assert again.files_parsed == 1  # the file did not change, but its row had to be re-read
        assert [p.name for p in index.patients()] == [MULLER]


def test_an_escape_in_a_value_without_a_character_set_is_dropped_as_pydicom_drops_it() -> None:
    """Found by the property test: ESC ( B (switch to ASCII) inside a Slice Thickness read as text."""
    assert plain_text(b"\x1b(B") == "" and plain_text(b"2.5\x1b(B ") == "2.5"
    assert plain_text(b" 5.0\x00") == "5.0"
