"""Headless de-identification and reports: ``deidentify``, ``export --deidentify`` and ``report``."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pydicom
import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.config import Settings
from tests.export_helpers import DEMO
from tests.test_cli_export import _store_signed_review

SERIES = DEMO / "lung_ct_A0001"


def _audit(event: str) -> list[dict[str, object]]:
    with closing(sqlite3.connect(Settings().review_store_path)) as db:
        rows = db.execute("SELECT details FROM audit WHERE event = ? ORDER BY seq", (event,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def test_deidentify_writes_the_study_and_names_what_it_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deidentify", str(DEMO), str(tmp_path / "out"), "--pseudonym", "Trial^042"]) == 0
    text = capsys.readouterr().out
    assert "wrote 64 de-identified files" in text and "patient Trial^042" in text
    assert "skipped" in text and "README.md: not a DICOM file" in text
    files = list((tmp_path / "out").rglob("*.dcm"))
    assert len(files) == 64
    ds = pydicom.dcmread(files[0])
    assert (str(ds.PatientName), ds.PatientIdentityRemoved) == ("Trial^042", "YES")


def test_deidentify_warns_about_burned_in_text_and_exports_it_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    for path in sorted(SERIES.glob("*.dcm"))[:2]:
        shutil.copy(path, folder / path.name)
    us = pydicom.dcmread(folder / "1-02.dcm")
    us.Modality = "US"
    us.save_as(folder / "1-02.dcm")
    assert main(["deidentify", str(folder), str(tmp_path / "a"), "--pseudonym", "P1"]) == 0
    text = capsys.readouterr().out
    assert "warning: " in text and "1-02.dcm: US image without BurnedInAnnotation NO" in text
    assert "--include-burned-in exports them" in text and "wrote 1 de-identified files" in text
    assert main(["deidentify", str(folder), str(tmp_path / "b"), "--pseudonym", "P1", "--include-burned-in"]) == 0
    text = capsys.readouterr().out
    assert "warning: " in text and "wrote 2 de-identified files" in text


def test_deidentify_refuses_a_bad_pseudonym_and_reports_an_empty_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deidentify", str(DEMO), str(tmp_path / "out"), "--pseudonym", "a\\b"]) == 2
    assert "pseudonym" in capsys.readouterr().err
    assert main(["deidentify", str(DEMO / "README.md"), str(tmp_path / "out"), "--pseudonym", "P"]) == 1
    assert "No file was exported" in capsys.readouterr().out


def test_export_deidentify_writes_the_series_with_its_seg_and_sr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_signed_review(tmp_path)
    assert main(["scan", str(DEMO)]) == 0
    capsys.readouterr()
    out = tmp_path / "results"
    assert main(["export", "--review", "1", str(out), "--deidentify", "Trial^7"]) == 0
    assert "wrote 66 de-identified files" in capsys.readouterr().out
    by_modality: dict[str, list[pydicom.Dataset]] = {}
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        by_modality.setdefault(ds.Modality, []).append(ds)
    assert {k: len(v) for k, v in by_modality.items()} == {"CT": 64, "SEG": 1, "SR": 1}
    seg, sr = by_modality["SEG"][0], by_modality["SR"][0]
    assert str(seg.PatientName) == str(sr.PatientName) == "Trial^7" and sr.VerificationFlag == "VERIFIED"
    images = {str(ds.SOPInstanceUID) for ds in by_modality["CT"]}
    refs = {str(i.ReferencedSOPInstanceUID) for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert refs <= images
    [event] = _audit("results_exported")
    assert event["source"] == "review 1 v1, de-identified"
    assert {f["kind"] for f in event["files"]} == {"SEG", "SR"}  # type: ignore[union-attr]


def test_report_writes_a_page_with_or_without_the_patient(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store_signed_review(tmp_path)
    assert main(["scan", str(DEMO)]) == 0
    capsys.readouterr()
    assert main(["report", "--review", "1", str(tmp_path / "full.html")]) == 0
    assert main(["report", "--review", "1", str(tmp_path / "private.html"), "--privacy"]) == 0
    assert "patient and study details omitted" in capsys.readouterr().out
    full, private = (tmp_path / "full.html").read_text(), (tmp_path / "private.html").read_text()
    for page in (full, private):
        assert "Decision support only; not a medical device." in page and "rejected: artefact" in page
    assert "Lung_Dx-A0001" in full and "Lung_Dx-A0001" not in private
    assert [e["privacy"] for e in _audit("report_written")] == [False, True]
    assert main(["report", "--review", "1", str(tmp_path / "full.html")]) == 2
    assert "already exists" in capsys.readouterr().err
