"""What the browser shows, read from the index in a worker thread (no Qt, no GUI-thread SQL)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.core.window_level import WindowLevel, apply_window, default_window
from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.io.existing_results import describe_result, frame_problem
from meddiag_desktop.io.series_loader import plan_series, read_frame

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.records import InstanceRecord, PatientRecord, ScanProblem, SeriesRecord, StudyRecord
    from meddiag_desktop.core.results import ResultSummary
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.io.series_loader import VolumePlan

THUMB = 64


@dataclass(frozen=True)
class StudyEntry:
    study: StudyRecord
    series: tuple[SeriesRecord, ...]
    results: tuple[InstanceRecord, ...] = ()  # SEG, SR and RT structure set objects of the study


@dataclass(frozen=True)
class PatientEntry:
    patient: PatientRecord
    studies: tuple[StudyEntry, ...]


@dataclass(frozen=True)
class BrowserSnapshot:
    """The whole index, and what of it lies in the folder just opened (listed first)."""

    patients: tuple[PatientEntry, ...]
    folder: str = ""
    folder_series: frozenset[str] = frozenset()
    problems: tuple[ScanProblem, ...] = ()  # files below ``folder`` that could not be indexed, and why

    def in_folder(self, study: StudyEntry) -> bool:
        return not self.folder or any(s.series_instance_uid in self.folder_series for s in study.series)


@dataclass(frozen=True)
class SeriesDetails:
    """Found after planning a series: its geometry warnings, stacks and a thumbnail."""

    series_uid: str
    warnings: tuple[str, ...]
    stacks: int
    thumbnail: NDArray[np.uint8] | None


@dataclass(frozen=True)
class ResultEntry:
    """A result object as the browser lists it: its summary and the indexed series it was made on."""

    summary: ResultSummary
    targets: tuple[SeriesRecord, ...]


def read_snapshot(index: SeriesIndex, folder: str = "") -> BrowserSnapshot:
    """Every patient, study and series in the index, and the result objects of each study.

    With ``folder``, also which series have files below it and which of its files were not indexed.
    """
    results: dict[str, list[InstanceRecord]] = {}
    for study_uid, record in index.result_instances():
        results.setdefault(study_uid, []).append(record)
    patients = []
    for patient in index.patients():
        studies = tuple(
            StudyEntry(study, tuple(index.series(study.study_instance_uid)),
                       tuple(results.get(study.study_instance_uid, ())))
            for study in index.studies(patient.key)
        )  # fmt: skip
        patients.append(PatientEntry(patient, studies))
    if not folder:
        return BrowserSnapshot(tuple(patients))
    problems = tuple(index.problems(paths_under=folder))
    return BrowserSnapshot(tuple(patients), folder, index.series_uids_under(folder), problems)


def result_records(snapshot: BrowserSnapshot) -> list[tuple[str, InstanceRecord]]:
    """``(study UID, record)`` of every result object in the snapshot, one per SOP Instance UID."""
    found = {r.sop_instance_uid: (st.study.study_instance_uid, r)
             for p in snapshot.patients for st in p.studies for r in st.results}  # fmt: skip
    return list(found.values())


def result_entry(index: SeriesIndex, study_uid: str, record: InstanceRecord) -> ResultEntry:
    """Read one result object's header and find the series it refers to (an object drawn on another
    frame of reference than its series gets that as its problem)."""
    summary = describe_result(Path(record.path), record.kind, study_uid)
    targets = (index.series_by_uid(uid) for uid in summary.referenced_series_uids)
    images = [t for t in targets if t is not None and t.kind is ObjectKind.IMAGE]
    for target in images:
        problem = frame_problem(summary, target.frame_of_reference_uid, series_label(target))
        if problem and not summary.problem:
            summary = replace(summary, problem=problem)
    return ResultEntry(summary, tuple(images))


def series_label(series: SeriesRecord) -> str:
    number = f"#{series.number} " if series.number is not None else ""
    return f"series {number}{series.modality} {series.description or '(no description)'}".replace("  ", " ")


def image_series(snapshot: BrowserSnapshot, *, folder_only: bool = False) -> list[SeriesRecord]:
    """Image series, largest first (the one opening a folder shows): most frames, then CT before
    other modalities (this app reads CT), then most files; the index order breaks remaining ties."""
    found = [s for p in snapshot.patients for st in p.studies for s in st.series if s.kind is ObjectKind.IMAGE]
    if folder_only and snapshot.folder:
        found = [s for s in found if s.series_instance_uid in snapshot.folder_series]
    return sorted(found, key=lambda s: (-s.frame_count, s.modality != "CT", -s.instance_count))


def series_details(index: SeriesIndex, series: SeriesRecord) -> SeriesDetails:
    """Plan the series (no pixels) and read its middle frame for a thumbnail."""
    try:
        plans = plan_series(index, series.series_instance_uid)
    except MeddiagError as exc:
        return SeriesDetails(series.series_instance_uid, (str(exc),), 0, None)
    warnings = tuple(dict.fromkeys(w.message for p in plans for w in p.geometry.warnings))
    return SeriesDetails(series.series_instance_uid, warnings, len(plans), _thumbnail(plans))


def _thumbnail(plans: list[VolumePlan]) -> NDArray[np.uint8] | None:
    plan = max(plans, key=lambda p: len(p.frames))
    try:
        image = read_frame(plan, len(plan.frames) // 2)
    except (MeddiagError, ValueError, OSError):
        return None
    step = max(1, max(image.shape[:2]) // THUMB)
    small = np.ascontiguousarray(image[::step, ::step])
    if plan.is_color:
        return np.ascontiguousarray(small.astype(np.uint8))
    window = default_window(plan.display.windows, float(small.min()), float(small.max()))
    if plan.modality == "CT" and not plan.display.windows:
        window = WindowLevel(40.0, 400.0)
    return apply_window(small, window, invert=plan.display.invert)
