"""PHI-free logs, proven: the headless workflow at DEBUG writes no patient name, ID or birth date.

The values searched for are read from the DICOM headers of the files the workflow ran on, so the
test follows the data rather than a hand-written list. The demo has no birth date: the copy used
here is given one (and more identifiers), so that each kind of value is actually searched for.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.multival import MultiValue

from meddiag_desktop.cli import main
from meddiag_desktop.config import Settings, make_private_dir
from meddiag_desktop.logs import LOG_FILE_NAME, parse_log_level, session_logging

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
PHI_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "PatientBirthName")


def _demo_with_phi(folder: Path) -> Path:
    """A copy of the demo whose headers carry a birth date and extra identifiers as well."""
    series = folder / "demo" / "lung_ct_A0001"
    series.mkdir(parents=True)
    for source in sorted((DEMO / "lung_ct_A0001").glob("*.dcm")):
        ds = pydicom.dcmread(source)
        ds.PatientBirthDate = "19470312"
        ds.OtherPatientIDs = "MRN-8841207"
        ds.PatientBirthName = "Oberholzer^Griselda"
        ds.save_as(series / source.name)
    return series.parent


def _texts(value: object) -> list[str]:
    items = value if isinstance(value, MultiValue) else [value]
    return [str(item).strip() for item in items if str(item).strip()]


def _phi_values(folder: Path) -> set[str]:
    """Every patient name (whole, and its parts), ID and birth date (also as ISO / dotted) in the headers."""
    values: set[str] = set()
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in PHI_KEYWORDS:
            for text in _texts(ds.get(keyword, "")):
                values.update({text, text.replace("^", " ")})
                if keyword.endswith("Name"):
                    values.update(part for part in text.split("^") if len(part) >= 4)
                if keyword.endswith("Date") and len(text) == 8:
                    values.update({f"{text[:4]}-{text[4:6]}-{text[6:]}", f"{text[6:]}.{text[4:6]}.{text[:4]}"})
    return values


def test_workflow_at_debug_logs_no_phi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _demo_with_phi(tmp_path)
    phi = _phi_values(folder)
    assert {"Lung_Dx-A0001", "19470312", "MRN-8841207", "Oberholzer"} <= phi  # the search is real
    log_dir = tmp_path / "logs"
    monkeypatch.setenv("MEDDIAG_LOG_DIR", str(log_dir))
    monkeypatch.setenv("MEDDIAG_LOG_LEVEL", "DEBUG")

    assert main(["scan", str(folder)]) == 0
    uid = next(row for row in capsys.readouterr().out.splitlines() if " 5mm " in row).split()[-1]
    assert main(["info", uid]) == 0
    assert main(["analyze", str(folder), "--threads", "1"]) == 0
    stderr = capsys.readouterr().err

    lines = [
        line for path in sorted(log_dir.glob(f"{LOG_FILE_NAME}*")) for line in path.read_text("utf-8").splitlines()
    ]
    assert sum(" DEBUG meddiag_desktop." in line for line in lines) >= 3  # DEBUG really reached the file
    assert any("meddiag_desktop.io.scan" in line for line in lines)
    hits = [(value, line) for line in lines + stderr.splitlines() for value in phi if value.lower() in line.lower()]
    assert hits == []


def test_log_and_data_folders_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX modes: on Windows the per-user folders inherit the profile's ACL")
    monkeypatch.setenv("MEDDIAG_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("MEDDIAG_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir(mode=0o755)  # an existing folder is tightened too
    os.chmod(tmp_path / "data", 0o755)
    assert main(["scan", str(DEMO)]) == 0
    for folder in (tmp_path / "logs", tmp_path / "data"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((tmp_path / "logs" / LOG_FILE_NAME).stat().st_mode) == 0o600


def test_no_chmod_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod called on Windows")

    monkeypatch.setattr(Path, "chmod", refuse)
    make_private_dir(tmp_path / "a" / "b", platform="win32")
    assert (tmp_path / "a" / "b").is_dir()


def test_log_file_rotates_and_handlers_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import meddiag_desktop.logs as logs

    monkeypatch.setattr(logs, "LOG_FILE_BYTES", 2_000)
    root = logging.getLogger()
    before = list(root.handlers)
    with session_logging(Settings(log_dir=tmp_path), logging.INFO) as path:
        assert path == tmp_path / LOG_FILE_NAME
        for n in range(200):
            logging.getLogger("meddiag_desktop.test").info("line %d of a long enough message", n)
        logging.getLogger("somelib").info("third-party info is not ours to vet")
    assert root.handlers == before
    files = sorted(tmp_path.glob(f"{LOG_FILE_NAME}*"))
    assert 2 <= len(files) <= 1 + logs.LOG_FILE_BACKUPS
    assert all(f.stat().st_size <= 2_500 for f in files)
    assert not any("third-party" in f.read_text("utf-8") for f in files)


def test_log_level_parsing() -> None:
    from meddiag_desktop.errors import MeddiagError

    assert parse_log_level("debug") == logging.DEBUG
    assert parse_log_level(" ") is None
    assert parse_log_level("15") == 15
    with pytest.raises(MeddiagError, match="unknown"):
        parse_log_level("chatty")
