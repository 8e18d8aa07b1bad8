"""Which series a batch analyses: every CT image volume under the given folders.

The same eligibility as ``validate`` (CT, image series, at least ``MIN_SLICES`` images); what is
left out is said in a note. A job carries its series' file list, so a worker needs nothing but
read access to the shared folder, not this computer's study index.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.io.scan import scan
from meddiag_desktop.validation.cases import MIN_SLICES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.core.progress import ProgressFn
    from meddiag_desktop.core.records import InstanceRecord, SeriesRecord
    from meddiag_desktop.io.index import SeriesIndex


@dataclass(frozen=True)
class SeriesJob:
    """One series to analyse as one task. Picklable: plain values only.

    ``files_sha256`` fingerprints the files (paths, sizes, modification times): an unchanged
    series is recognised as done without reading a pixel.
    """

    series_instance_uid: str
    study_instance_uid: str
    folder: str
    files: tuple[str, ...]
    files_sha256: str


@dataclass(frozen=True)
class JobList:
    """The series to analyse, and plain-words notes about the series left out."""

    jobs: tuple[SeriesJob, ...]
    notes: tuple[str, ...]


def files_fingerprint(instances: Sequence[InstanceRecord]) -> str:
    digest = hashlib.sha256()
    for r in sorted(instances, key=lambda r: r.path):
        digest.update(f"{r.path}\0{r.size}\0{r.mtime_ns}\n".encode())
    return digest.hexdigest()


def scan_roots(paths: Sequence[Path], index: SeriesIndex, progress: ProgressFn) -> list[Path]:
    """Index every path; returns the folders to look under (a DICOMDIR stands for its folder)."""
    roots = list(dict.fromkeys(p.resolve() for p in paths))
    for root in roots:
        scan(root, index, progress=progress)
    return [r.parent if r.is_file() else r for r in roots]


def _folder_label(paths: Sequence[str], root: Path) -> str:
    """The series' folder relative to the scanned folder's parent, e.g. ``cohort/study_001``."""
    common = Path(os.path.commonpath([str(Path(p).parent) for p in paths]))
    relative = common.relative_to(root) if common.is_relative_to(root) else Path()
    return (Path(root.name) / relative).as_posix()


def _is_ct_image(record: SeriesRecord) -> bool:
    return record.modality == "CT" and record.kind is ObjectKind.IMAGE


def _job(record: SeriesRecord, instances: list[InstanceRecord], root: Path) -> SeriesJob:
    paths = tuple(sorted(r.path for r in instances))
    return SeriesJob(
        record.series_instance_uid, record.study_instance_uid, _folder_label(paths, root), paths,
        files_fingerprint(instances),
    )  # fmt: skip


def series_jobs(index: SeriesIndex, roots: Sequence[Path]) -> JobList:
    """One job per CT image series under ``roots`` with at least ``MIN_SLICES`` images, by folder."""
    jobs, too_small = [], 0
    for record in filter(_is_ct_image, index.series()):
        instances = index.instances(record.series_instance_uid)
        root = next((r for r in roots if any(Path(i.path).is_relative_to(r) for i in instances)), None)
        if root is None:
            continue
        if record.frame_count < MIN_SLICES:
            too_small += 1
            continue
        jobs.append(_job(record, [i for i in instances if Path(i.path).is_relative_to(root)], root))
    notes = [f"{too_small} CT series with fewer than {MIN_SLICES} images (localisers, single images) left out"]
    notes = notes[: bool(too_small)] + _unreadable_notes(index, roots)
    return JobList(tuple(sorted(jobs, key=lambda j: j.folder)), tuple(notes))


def _unreadable_notes(index: SeriesIndex, roots: Sequence[Path]) -> list[str]:
    """One note per file under ``roots`` that was not indexed as an image, with the reason."""
    return [
        f"left out {_folder_label([problem.path], root)}/{Path(problem.path).name}: {problem.reason}"
        for root in roots
        for problem in index.problems(paths_under=str(root))
    ]
