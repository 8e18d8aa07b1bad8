"""Acquisition facts the AI input check compares with a model's intended use.

Read header-only from the first, middle and last file of the volume's stack: Body Part Examined
(0018,0015), KVP (0018,0060), Convolution Kernel (0018,1210) and Slice Thickness (0018,0050)
(PS3.3 C.7.3.1, C.8.2.1), the Contrast/Bolus Agent (0018,0010; the module is present only when
contrast was used, C.7.6.4) and the patient's age (0010,1010, else from the birth and study
dates). Values only in an enhanced multi-frame file's functional groups are not read: they
count as not stated. Nothing read here is logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pydicom
from pydicom.errors import InvalidDicomError

from meddiag_desktop.core.ood import SeriesFacts
from meddiag_desktop.errors import DicomReadError
from meddiag_desktop.io.subgroup_headers import age_years

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pydicom.dataset import Dataset

    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.io.index import SeriesIndex

log = logging.getLogger(__name__)

TAGS = ("BodyPartExamined", "KVP", "ConvolutionKernel", "SliceThickness", "ContrastBolusAgent", "PatientAge",
        "PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate")  # fmt: skip


def facts_for_volume(index: SeriesIndex, volume: Volume) -> SeriesFacts:
    """The facts of the files ``volume`` was read from (its own stack when the series has several).

    A volume no indexed file belongs to (built in memory) states nothing: ``headers_read`` is 0.
    """
    records = {r.sop_instance_uid: r for r in index.instances(volume.series_instance_uid)}
    paths = [records[uid].path for uid in volume.source_sop_instance_uids if uid in records]
    if not paths:
        paths = sorted(r.path for r in records.values())
    return read_series_facts(paths) if paths else SeriesFacts()


def read_series_facts(paths: Sequence[str | Path]) -> SeriesFacts:
    """The facts stated by a sample of ``paths`` (several values when the sampled files differ).

    Raises
    ------
    DicomReadError
        None of the sampled files has a readable header.
    """
    headers = [h for h in (_header(p) for p in _sample(paths)) if h is not None]
    if not headers:
        raise DicomReadError("The headers of this series cannot be read, so it cannot be checked before an AI run.")
    return SeriesFacts(
        body_part=next((str(h.BodyPartExamined).strip() for h in headers if h.get("BodyPartExamined")), ""),
        kvp=_numbers(headers, "KVP"),
        kernels=tuple(sorted({_text(h.ConvolutionKernel) for h in headers if h.get("ConvolutionKernel")})),
        slice_thickness_mm=_numbers(headers, "SliceThickness"),
        contrast_agent=True if any("ContrastBolusAgent" in h for h in headers) else None,
        patient_age_years=_age(headers[0]),
        headers_read=len(headers),
    )


def _sample(paths: Sequence[str | Path]) -> list[str | Path]:
    if not paths:
        return []
    picks = (0, len(paths) // 2, len(paths) - 1)
    return [paths[i] for i in sorted(set(picks))]


def _header(path: str | Path) -> Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(TAGS))
    except (OSError, InvalidDicomError, ValueError) as exc:
        log.warning("a header of the series could not be read for the input check: %s", type(exc).__name__)
        return None


def _text(value: object) -> str:
    """A possibly multi-valued string (e.g. a two-part kernel name) as DICOM writes it."""
    if isinstance(value, str):
        return value.strip()
    return "\\".join(str(v).strip() for v in value) if isinstance(value, list | tuple) else str(value).strip()


def _numbers(headers: list[Dataset], keyword: str) -> tuple[float, ...]:
    out = set()
    for header in headers:
        try:
            value = header.get(keyword)
            if value not in (None, ""):
                out.add(round(float(value), 3))
        except (TypeError, ValueError):
            continue  # a malformed DS counts as not stated
    return tuple(sorted(out))


def _age(header: Dataset) -> float | None:
    dates = (header.get(k) for k in ("StudyDate", "SeriesDate", "AcquisitionDate"))
    return age_years(header.get("PatientAge"), header.get("PatientBirthDate"), *dates)
