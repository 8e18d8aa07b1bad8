"""Folders for the browser tests, built from the bundled demo CT: more studies, smaller series, stray files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from meddiag_desktop.ui.browser.study_rows import Column

DEMO_SLICES = 64


def demo_files(demo: Path) -> list[Path]:
    return sorted(demo.rglob("*.dcm"))


def copy_demo(demo: Path, dest: Path) -> Path:
    """A full copy of the demo study (the 64-slice CT) in ``dest``."""
    shutil.copytree(demo, dest)
    return dest


def write_variant(
    demo: Path,
    dest: Path,
    *,
    count: int,
    name: str | None = None,
    patient_id: str | None = None,
    study_date: str | None = None,
    description: str | None = None,
    skip: int | None = None,
) -> Path:
    """The first ``count`` demo slices as a new series of a new study (minus slice ``skip``: a gap)."""
    dest.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid = generate_uid(), generate_uid()
    for number, path in enumerate(demo_files(demo)[:count]):
        if number == skip:
            continue
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        for keyword, value in (("PatientName", name), ("PatientID", patient_id), ("StudyDate", study_date),
                               ("StudyDescription", description)):  # fmt: skip
            if value is not None:
                setattr(ds, keyword, value)
        ds.save_as(dest / f"v{number:03d}.dcm")
    return dest


def top_rows(browser: object, column: Column = Column.NAME) -> list[str]:
    """The texts of one column of the study rows, as the user sees them (filtered, sorted)."""
    model = browser.model()  # type: ignore[attr-defined]
    return [str(model.index(row, column).data()) for row in range(model.rowCount())]
