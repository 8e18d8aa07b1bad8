"""The header values that put a series in its subgroups (sex, age, scanner, kernel, thickness, contrast).

Read header-only from the series' first readable file (PS3.3 C.7.1.1 Patient, C.7.4.1 Patient
Study, C.7.5.1 General Equipment, C.8.2.1 CT Image, C.7.6.4 Contrast/Bolus). When no file can
be read any more (moved, deleted), the values the study index keeps are used: sex, birth and
study dates, manufacturer, slice thickness. Patient names and IDs are not read.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

import pydicom
from pydicom.errors import InvalidDicomError

from meddiag_desktop.core.subgroups import SubgroupHeader
from meddiag_desktop.errors import StudyIndexError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydicom.dataset import Dataset

    from meddiag_desktop.io.index import SeriesIndex

log = logging.getLogger(__name__)

TAGS = ("PatientSex", "PatientAge", "PatientBirthDate", "StudyDate", "SeriesDate", "Manufacturer",
        "ManufacturerModelName", "ConvolutionKernel", "SliceThickness", "ContrastBolusAgent")  # fmt: skip
_AGE_UNIT_YEARS = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}  # Age String, PS3.5 6.2
FILES_TRIED = 3


def _date(value: object) -> date | None:
    text = str(value or "").strip()
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 and text.isdigit() else None
    except ValueError:
        return None


def age_years(patient_age: object, birth_date: object, *seen_dates: object) -> float | None:
    """Patient's Age (``058Y``), else the years from the birth date to the first valid of ``seen_dates``
    (study, series, acquisition); ``None`` when unknown. ``000Y`` is what anonymisers write: not stated."""
    text = str(patient_age or "").strip().upper()
    if len(text) == 4 and text[:3].isdigit() and text[3] in _AGE_UNIT_YEARS and int(text[:3]) > 0:
        return int(text[:3]) * _AGE_UNIT_YEARS[text[3]]
    born = _date(birth_date)
    seen = next((d for d in map(_date, seen_dates) if d is not None), None)
    return (seen - born).days / 365.25 if born and seen and seen >= born else None


def _text(value: object) -> str:
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return "\\".join(str(v).strip() for v in value)
    return str(value or "").strip()


def _float(value: object) -> float | None:
    try:
        return float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def header_from_dataset(ds: Dataset) -> SubgroupHeader:
    age = age_years(ds.get("PatientAge"), ds.get("PatientBirthDate"), ds.get("StudyDate"), ds.get("SeriesDate"))
    return SubgroupHeader(
        sex=_text(ds.get("PatientSex")), age_years=age,
        manufacturer=_text(ds.get("Manufacturer")), model_name=_text(ds.get("ManufacturerModelName")),
        kernel=_text(ds.get("ConvolutionKernel")), slice_thickness_mm=_float(ds.get("SliceThickness")),
        contrast=bool(_text(ds.get("ContrastBolusAgent"))),
    )  # fmt: skip


def _read(paths: Iterable[str]) -> Dataset | None:
    for path in paths:
        try:
            return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(TAGS))
        except (OSError, InvalidDicomError, ValueError) as exc:
            log.debug("subgroup header not read from one file: %s", type(exc).__name__)
    return None


def _from_index(index: SeriesIndex, series_uid: str) -> SubgroupHeader:
    series = index.series_by_uid(series_uid)
    study, patient = index.study_of_series(series_uid)
    thickness = next((i.slice_thickness for i in index.instances(series_uid) if i.slice_thickness), None)
    return SubgroupHeader(
        sex=patient.sex, age_years=age_years("", patient.birth_date, study.date),
        manufacturer=series.manufacturer if series else "", slice_thickness_mm=thickness,
    )  # fmt: skip


def series_subgroup_header(index: SeriesIndex, series_uid: str) -> SubgroupHeader:
    """The subgroup header of an indexed series (an empty one when the series is not indexed)."""
    paths = sorted(i.path for i in index.instances(series_uid))[:FILES_TRIED]
    ds = _read(paths)
    if ds is not None:
        return header_from_dataset(ds)
    try:
        return _from_index(index, series_uid)
    except StudyIndexError:
        return SubgroupHeader()
