"""Validation cases: CT series that have reference labels, and where those labels come from.

A case is one CT image series with at least one reference: an RT Structure Set or a DICOM SEG
that references it (by series, instance or, failing both, frame of reference), VOC box files
naming its SOP Instance UIDs, or a label volume listed in a manifest. With ``--thick`` each
case is also evaluated on its slices averaged to that thickness; with ``--reslice`` on slices
interpolated at a finer spacing (an overlapping reconstruction), with ``--pixels`` on coarser
pixels (a larger field of view).
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.errors import DicomReadError
from meddiag_desktop.io.rtstruct import read_structure_set
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.seg_labels import read_seg_references
from meddiag_desktop.io.voc_boxes import find_voc_files
from meddiag_desktop.validation.case_manifest import ManifestEntry, read_manifest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.core.records import SeriesRecord
    from meddiag_desktop.io.index import SeriesIndex

logger = logging.getLogger(__name__)

MIN_SLICES = 8  # fewer is a localiser or a single image, not a volume a lesion model can read


class SourceKind(enum.Enum):
    """Where a case's reference labels come from."""

    RTSTRUCT = "RTSTRUCT"
    SEG = "SEG"
    VOC = "VOC boxes"
    LABEL_VOLUME = "label volume"


@dataclass(frozen=True)
class LabelSource:
    """One reference for a case: a kind and its file(s)."""

    kind: SourceKind
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One series to validate on, as acquired or in one sampling variant. Picklable (plain values only).

    ``folder`` is the series' folder relative to the scanned path's parent and ``patient`` a
    pseudonym (``P1``, ...): reports never show patient names, IDs or birth dates.
    """

    series_instance_uid: str
    index_path: str
    folder: str
    patient: str
    manufacturer: str
    sources: tuple[LabelSource, ...]
    thickness_mm: float | None = None  # slices averaged to about this thickness
    reslice_mm: float | None = None  # slices interpolated every this many mm
    pixel_mm: float | None = None  # pixels averaged to this size

    @property
    def variant(self) -> str:
        if self.reslice_mm is not None:
            return f"resliced every {self.reslice_mm:g} mm"
        if self.pixel_mm is not None:
            return f"pixels averaged to {self.pixel_mm:g} mm"
        return "as acquired" if self.thickness_mm is None else f"averaged to ~{self.thickness_mm:g} mm"

    @property
    def case_id(self) -> str:
        suffix = f"|r{self.reslice_mm:g}" if self.reslice_mm else f"|p{self.pixel_mm:g}" if self.pixel_mm else ""
        return f"{self.series_instance_uid}|{self.thickness_mm or 0:g}{suffix}"

    def variants(self, plan: VariantPlan) -> list[Case]:
        """This case as acquired and in each variant of ``plan``."""
        return [
            self,
            *(replace(self, thickness_mm=t) for t in plan.thicknesses),
            *(replace(self, reslice_mm=t) for t in plan.reslices),
            *(replace(self, pixel_mm=t) for t in plan.pixel_sizes),
        ]


@dataclass(frozen=True)
class VariantPlan:
    """Which other samplings of every case to validate on, in mm."""

    thicknesses: tuple[float, ...] = ()
    reslices: tuple[float, ...] = ()
    pixel_sizes: tuple[float, ...] = ()


@dataclass(frozen=True)
class Discovery:
    """The cases found, and plain-words notes about what was left out."""

    cases: tuple[Case, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Series:
    record: SeriesRecord
    root: Path
    paths: tuple[str, ...]
    sop_uids: frozenset[str]


def _under(path: str, root: Path) -> bool:
    return Path(path).is_relative_to(root)


def _series_under(index: SeriesIndex, roots: Sequence[Path]) -> list[_Series]:
    out = []
    for record in index.series():
        instances = index.instances(record.series_instance_uid)
        for root in roots:
            mine = [i for i in instances if _under(i.path, root)]
            if mine:
                out.append(
                    _Series(record, root, tuple(i.path for i in mine), frozenset(i.sop_instance_uid for i in mine))
                )
                break
    return out


def _folder_label(series: _Series) -> str:
    """The series' folder relative to the scanned path's parent, e.g. ``nsclc_radiomics/LUNG1-001/ct``."""
    common = Path(os.path.commonpath([str(Path(p).parent) for p in series.paths]))
    relative = common.relative_to(series.root) if common.is_relative_to(series.root) else Path()
    return (Path(series.root.name) / relative).as_posix()


def _is_ct_volume(s: _Series) -> bool:
    r = s.record
    return r.modality == "CT" and r.kind is ObjectKind.IMAGE and r.frame_count >= MIN_SLICES


class _Finder:
    """Collects reference sources per CT series."""

    def __init__(self, series: list[_Series]) -> None:
        self.ct = [s for s in series if _is_ct_volume(s)]
        self.sources: dict[str, list[LabelSource]] = {s.record.series_instance_uid: [] for s in self.ct}
        self.notes: list[str] = []

    def add(self, uid: str, source: LabelSource) -> None:
        if source not in self.sources[uid]:
            self.sources[uid].append(source)

    def _by_frame(self, frame: str) -> list[_Series]:
        return [s for s in self.ct if frame and s.record.frame_of_reference_uid == frame]

    def rtstructs(self, series: list[_Series]) -> None:
        for path in (p for s in series if s.record.modality == "RTSTRUCT" for p in s.paths):
            try:
                rt = read_structure_set(Path(path))
            except DicomReadError as exc:
                self.notes.append(f"RT Structure Set not used: {exc}")
                continue
            targets = [s for s in self.ct if s.record.series_instance_uid in rt.series_instance_uids]
            self._attach(targets or self._by_frame(rt.frame_of_reference_uid), SourceKind.RTSTRUCT, path)

    def segs(self, series: list[_Series]) -> None:
        for path in (p for s in series if s.record.kind is ObjectKind.SEG for p in s.paths):
            try:
                refs = read_seg_references(Path(path))
            except DicomReadError as exc:
                self.notes.append(f"SEG not used: {exc}")
                continue
            targets = [
                s
                for s in self.ct
                if s.record.series_instance_uid in refs.series_instance_uids or s.sop_uids & set(refs.sop_instance_uids)
            ]
            self._attach(targets or self._by_frame(refs.frame_of_reference_uid), SourceKind.SEG, path)

    def _attach(self, targets: list[_Series], kind: SourceKind, path: str) -> None:
        if not targets:
            self.notes.append(f"{kind.value} {Path(path).name} references no CT series found here")
        for s in targets:
            self.add(s.record.series_instance_uid, LabelSource(kind, (path,)))

    def boxes(self, folders: Sequence[Path]) -> None:
        files = find_voc_files(folders)
        used: set[str] = set()
        for s in self.ct:
            named = s.sop_uids & set(files)
            if named:
                dirs = {files[uid].parent for uid in named}
                paths = tuple(sorted(str(p) for uid, p in files.items() if p.parent in dirs))
                used.update(uid for uid, p in files.items() if p.parent in dirs)
                self.add(s.record.series_instance_uid, LabelSource(SourceKind.VOC, paths))
        if len(files) > len(used):
            self.notes.append(f"{len(files) - len(used)} box files name slices of no CT series found here; ignored")

    def manifest(self, entries: Sequence[ManifestEntry]) -> None:
        for entry in entries:
            candidates = [s for s in self.ct if any(_under(p, entry.series_folder) for p in s.paths)]
            if entry.series_uid:
                candidates = [s for s in candidates if s.record.series_instance_uid.startswith(entry.series_uid)]
            if not candidates:
                self.notes.append(f"manifest: no CT series in {entry.series_folder.name} for {entry.labels.name}")
                continue
            best = max(candidates, key=lambda s: s.record.frame_count)
            self.add(best.record.series_instance_uid, LabelSource(SourceKind.LABEL_VOLUME, (str(entry.labels),)))


def _pseudonyms(index: SeriesIndex, series: list[_Series]) -> dict[str, str]:
    keys: dict[int, str] = {}
    out = {}
    for s in series:
        patient_key = index.study_of_series(s.record.series_instance_uid)[1].key
        out[s.record.series_instance_uid] = keys.setdefault(patient_key, f"P{len(keys) + 1}")
    return out


def discover_cases(
    paths: Sequence[Path],
    index: SeriesIndex,
    *,
    annotations: Path | None = None,
    manifest: Path | None = None,
    variants: VariantPlan | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Discovery:
    """Scan ``paths`` into ``index`` and return every CT series that has a reference.

    Each case also comes in the sampling variants of ``variants``.

    Raises
    ------
    DicomReadError
        A path is neither a folder nor a DICOMDIR.
    LabelReadError
        The manifest cannot be read.
    """
    entries = read_manifest(manifest) if manifest is not None else []
    roots = list(dict.fromkeys([p.resolve() for p in paths] + [e.series_folder for e in entries]))
    for root in roots:
        scan(root, index, progress=progress, cancel=cancel)
    roots = [r.parent if r.is_file() else r for r in roots]  # a DICOMDIR stands for its folder
    series = _series_under(index, roots)
    finder = _Finder(series)
    finder.rtstructs(series)
    finder.segs(series)
    finder.boxes(roots + ([annotations.resolve()] if annotations else []))
    finder.manifest(entries)
    return _cases(index, finder, variants or VariantPlan())


def _cases(index: SeriesIndex, finder: _Finder, plan: VariantPlan) -> Discovery:
    with_refs = [s for s in finder.ct if finder.sources[s.record.series_instance_uid]]
    with_refs.sort(key=_folder_label)
    names = _pseudonyms(index, with_refs)
    cases = []
    for s in with_refs:
        uid = s.record.series_instance_uid
        base = Case(
            uid, str(index.path), _folder_label(s), names[uid], s.record.manufacturer, tuple(finder.sources[uid])
        )
        cases += base.variants(plan)
    notes = list(finder.notes)
    if len(finder.ct) > len(with_refs):
        notes.append(f"{len(finder.ct) - len(with_refs)} CT series have no reference labels; not validated")
    logger.info("validation: %d cases from %d CT series", len(cases), len(with_refs))
    return Discovery(tuple(cases), tuple(notes))
