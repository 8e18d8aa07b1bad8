"""Scanning into the index: incremental re-scan, problems with reasons, DICOMDIR."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.errors import Cancelled, DicomReadError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan


@pytest.fixture
def lung_copy(corpus: Path, tmp_path: Path) -> Path:
    target = tmp_path / "study"
    shutil.copytree(corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L", target / "ct")
    (target / "notes.txt").write_text("not dicom")
    (target / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x00")
    return target


def test_first_scan_then_incremental(lung_copy: Path, tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        first = scan(lung_copy, index)
        assert (first.files_seen, first.files_parsed) == (66, 66)
        reasons = {Path(p.path).name: p.reason for p in first.problems}
        assert reasons["notes.txt"] == "not a DICOM file"
        assert "broken.dcm" in reasons
        [series] = index.series()
        assert (series.modality, series.instance_count, series.description) == ("CT", 64, "5mm")

        again = scan(lung_copy, index)
        assert (again.files_parsed, again.files_unchanged) == (0, 66)
        assert again.problems == first.problems  # nothing re-read, every unreadable file named again (issue 12)

        touched = next((lung_copy / "ct").glob("*.dcm"))
        os.utime(touched, ns=(1, 1))
        (lung_copy / "ct" / "1-64.dcm").unlink()
        third = scan(lung_copy, index)
        assert (third.files_parsed, third.files_removed) == (1, 1)
        assert index.series()[0].instance_count == 63


def test_scan_can_be_cancelled(lung_copy: Path, tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with SeriesIndex(tmp_path / "index.sqlite") as index, pytest.raises(Cancelled):
        scan(lung_copy, index, cancel=token)


def test_non_image_objects_are_indexed_and_listed(corpus: Path, tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        summary = scan(corpus / "seg_sr_highdicom", index)
        kinds = {s.kind.value for s in index.series()}
        assert {"seg", "sr"} <= kinds
        assert any("segmentation (SEG)" in p.reason for p in summary.problems)
        assert any("structured report (SR)" in p.reason for p in summary.problems)


def test_dicomdir_lists_its_files(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "ct_gantry_tilt" / "philips_ingenuity_tilt_S21610_S2010"
    media = tmp_path / "media"
    (media / "S21610" / "S2010").mkdir(parents=True)  # the layout the DICOMDIR's file IDs name
    for image in source.glob("I*"):
        shutil.copy(image, media / "S21610" / "S2010" / image.name)
    shutil.copy(source / "DIRFILE", media / "DICOMDIR")
    (media / "unrelated.txt").write_text("not listed in the DICOMDIR")
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        summary = scan(media / "DICOMDIR", index)
        assert summary.files_seen == 54
        [series] = index.series()
        assert series.instance_count == 54


def test_bad_target_is_a_clear_error(tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index, pytest.raises(DicomReadError, match="neither a folder"):
        scan(tmp_path / "missing", index)
