"""De-identified export of a study or series, or of a reviewed series with its SEG and SR.

Two passes: the first reads headers only, chooses the files (one series, or everything under a
folder), checks that they are one patient's (one pseudonym stands for one patient) and holds
back images whose pixels may show identifying text (``burned_in_warning``); the second
de-identifies each file with one ``Deidentifier`` (one UID map, one date offset) and writes it
atomically to ``<out>/<pseudonym>_<UTC time>/<modality>_<new series UID>/<new SOP UID>.dcm``.
A file pydicom cannot read completely is skipped with its reason; a cancelled export removes
what it had written.
"""

from __future__ import annotations

import logging
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from meddiag_desktop.core.deid_model import DeidentifiedFile, DeidentifyResult, SkippedFile
from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.errors import Cancelled, DeidentifyError
from meddiag_desktop.io.deidentify import DICOM_UID_ROOT, Deidentifier, burned_in_warning, random_offset_days
from meddiag_desktop.io.export import build_objects
from meddiag_desktop.io.export_common import utc_stamp, write_dataset_atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pydicom.dataset import Dataset

    from meddiag_desktop.core.deid_model import DeidentifyOptions
    from meddiag_desktop.core.export_model import ExportRequest
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.io.index import SeriesIndex

logger = logging.getLogger(__name__)

SEG_LABEL = "exported SEG"
SR_LABEL = "exported SR"
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_READ_ERRORS = (
    ValueError, TypeError, KeyError, AttributeError, IndexError, EOFError, NotImplementedError, struct.error
)  # fmt: skip
_TRUNCATED = ("end of file", "delimiter", "truncat", "bytes remaining")
_UNDEFINED_LENGTH = 0xFFFFFFFF
_DEFER_BYTES = 4096  # the first pass leaves large values (pixel data) on disk


class _Unusable(Exception):  # noqa: N818 - internal: carries a per-file reason, never escapes this module
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Source:
    label: str
    load: Callable[[], Dataset]


@dataclass
class _Selection:
    chosen: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    patients: set[tuple[str, str]] = field(default_factory=set)
    series: set[str] = field(default_factory=set)  # every series seen (matching ``series`` when given)


def deidentify_path(
    path: Path, out: Path, options: DeidentifyOptions, *, series: str | None = None,
    progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
) -> DeidentifyResult:  # fmt: skip
    """De-identify the DICOM files under ``path`` (a file or a folder), or one series of them.

    Raises
    ------
    DeidentifyError
        The pseudonym is not valid, there is no DICOM file (or none of ``series``), the files
        belong to more than one patient, or ``series`` is an ambiguous prefix.
    Cancelled
        ``cancel`` was set; nothing of this export is left on disk.
    """
    earlier = out.resolve()  # an output folder inside ``path`` holds earlier exports, not sources
    candidates = path.rglob("*") if path.is_dir() else [path]
    files = sorted(p for p in candidates if p.is_file() and earlier not in p.resolve().parents)
    if not files:
        raise DeidentifyError(f"There is no file under {path}.")
    selection = _select(files, series, options.include_burned_in, progress, cancel or CancelToken())
    _check_selection(selection, path, series)
    sources = [_file_source(p) for p in selection.chosen]
    return _export(sources, out, options, selection, progress, cancel or CancelToken())


def deidentify_results(
    index: SeriesIndex, volume: Volume, request: ExportRequest, out: Path, options: DeidentifyOptions,
    progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
) -> DeidentifyResult:  # fmt: skip
    """A series with the SEG and SR of ``request``, all de-identified with one UID map and date offset.

    The SEG and SR are built as for ``export_results`` (referencing the original images), then
    de-identified with the images, so their references point to the new UIDs.
    """
    seg, sr = build_objects(index, volume, request)
    paths = sorted(Path(r.path) for r in index.instances(volume.series_instance_uid))
    selection = _select(paths, None, options.include_burned_in, progress, cancel or CancelToken())
    _check_selection(selection, paths[0].parent if paths else Path(), None)
    sources = [_file_source(p) for p in selection.chosen]
    sources += [_Source(SEG_LABEL, lambda: seg)] if seg is not None else []
    sources.append(_Source(SR_LABEL, lambda: sr))
    return _export(sources, out, options, selection, progress, cancel or CancelToken())


def read_dataset(path: Path, *, pixels: bool) -> Dataset:
    """The whole file (or all but its large values), checked to be complete; ``_Unusable`` with the reason if not.

    pydicom stops quietly at the end of a cut file; a cut shows as a warning about a missing
    delimiter, as a last value shorter than its length, or as an image without pixel data.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(path, defer_size=None if pixels else _DEFER_BYTES)
        except InvalidDicomError as exc:
            raise _Unusable("not a DICOM file (no DICOM file header)") from exc
        except OSError as exc:
            raise _Unusable(f"cannot be read: {exc.strerror or exc}") from exc
        except _READ_ERRORS as exc:
            raise _Unusable(f"can be read only partly ({type(exc).__name__}: {exc}); not exported") from exc
    problem = _truncation(dataset, [str(w.message) for w in caught])
    if problem:
        raise _Unusable(f"can be read only partly ({problem}); not exported")
    if not dataset.get("SOPClassUID") or not dataset.get("SOPInstanceUID"):
        raise _Unusable("holds no SOP Class or SOP Instance UID (an incomplete or non-composite file); not exported")
    return dataset


def _truncation(dataset: Dataset, messages: list[str]) -> str:
    cut = [m for m in messages if any(s in m.lower() for s in _TRUNCATED)]
    if cut:
        return cut[0]
    elements = list(dataset.elements())
    if elements and _cut_short(elements[-1]):
        return f"its last value, {elements[-1].tag}, is cut short"
    is_image = "Image Storage" in UID(str(dataset.get("SOPClassUID", ""))).name
    if is_image and not any(k in dataset for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return "an image without its pixel data"
    return ""


def _cut_short(element: DataElement | RawDataElement) -> bool:
    """A value with fewer bytes than its defined length: the file ends inside it."""
    if not isinstance(element, RawDataElement) or element.length == _UNDEFINED_LENGTH:
        return False
    return isinstance(element.value, bytes) and len(element.value) < element.length


def _file_source(path: Path) -> _Source:
    return _Source(str(path), lambda: read_dataset(path, pixels=True))


def _select(
    paths: Iterable[Path], series: str | None, include_burned_in: bool, progress: ProgressFn, cancel: CancelToken
) -> _Selection:
    """First pass, headers only: which files go, which do not and why."""
    found = _Selection()
    todo = list(paths)
    for number, path in enumerate(todo):
        cancel.raise_if_cancelled("De-identified export")
        progress(number, len(todo), f"Reading headers ({number + 1}/{len(todo)})")
        try:
            header = read_dataset(path, pixels=False)
        except _Unusable as problem:
            found.skipped.append(SkippedFile(str(path), problem.reason))
            continue
        uid = str(header.get("SeriesInstanceUID", ""))
        if series and not uid.startswith(series):
            continue
        found.series.add(uid)
        reason = _held_back(header, include_burned_in, found.warnings, path)
        if reason:
            found.skipped.append(SkippedFile(str(path), reason))
            continue
        found.chosen.append(path)
        found.patients.add((str(header.get("PatientID", "")), str(header.get("PatientName", ""))))
    return found


def _held_back(header: Dataset, include_burned_in: bool, notes: list[str], path: Path) -> str:
    sop_class = str(header.SOPClassUID)
    if sop_class == DICOMDIR_CLASS:
        return "a DICOMDIR (an index of the media, with patient names); it is not exported"
    if not sop_class.startswith(DICOM_UID_ROOT):
        return "a private SOP class, whose de-identification DICOM does not define (PS3.15 E.1.1); not exported"
    warning = burned_in_warning(header)
    if warning:
        notes.append(f"{path}: {warning}")
        if not include_burned_in:
            return f"{warning}; not exported unless burned-in images are explicitly included"
    return ""


def _check_selection(selection: _Selection, path: Path, series: str | None) -> None:
    if series and not selection.series:
        raise DeidentifyError(f"No DICOM file of series {series} under {path}.")
    if series and len(selection.series) > 1:
        raise DeidentifyError(f"{len(selection.series)} series match {series!r}; give more of the UID.")
    if len(selection.patients) > 1:
        raise DeidentifyError(
            f"The files under {path} belong to {len(selection.patients)} patients, and one pseudonym stands for "
            "one patient: de-identify one patient's study or series at a time."
        )


def _export(
    sources: Sequence[_Source], out: Path, options: DeidentifyOptions, selection: _Selection,
    progress: ProgressFn, cancel: CancelToken,
) -> DeidentifyResult:  # fmt: skip
    """Second pass: de-identify and write each source; on cancel, remove what was written."""
    offset = random_offset_days() if options.date_offset_days is None else options.date_offset_days
    deid = Deidentifier(options.pseudonym, offset)
    folder = out / f"{_safe_name(deid.pseudonym)}_{utc_stamp()}"
    written: list[DeidentifiedFile] = []
    skipped = list(selection.skipped)
    try:
        for number, source in enumerate(sources):
            cancel.raise_if_cancelled("De-identified export")
            progress(number, len(sources), f"De-identifying {number + 1} of {len(sources)}")
            try:
                written.append(_write_one(deid, source, folder))
            except _Unusable as problem:
                skipped.append(SkippedFile(source.label, problem.reason))
    except Cancelled:
        _remove(written, folder)
        raise
    progress(len(sources), len(sources), f"Wrote {len(written)} de-identified files")
    return DeidentifyResult(
        str(folder), deid.pseudonym, offset, tuple(written), tuple(skipped), tuple(selection.warnings)
    )


def _write_one(deid: Deidentifier, source: _Source, folder: Path) -> DeidentifiedFile:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")  # kept values pydicom finds invalid (it warns) are not our concern here
        try:
            clean = deid.dataset(source.load())
            _check_writable(clean)
            modality = re.sub(r"[^A-Z0-9]", "", str(clean.get("Modality", "") or "").upper()) or "OT"
            series_uid = str(clean.get("SeriesInstanceUID", "") or deid.new_uid("no-series"))
            target = folder / f"{modality}_{series_uid}" / f"{clean.SOPInstanceUID}.dcm"
            write_dataset_atomic(clean, target)
        except DeidentifyError as exc:
            raise _Unusable(f"{exc} Not exported.") from exc
        except _READ_ERRORS as exc:
            raise _Unusable(f"cannot be de-identified and written ({type(exc).__name__}: {exc})") from exc
    return DeidentifiedFile(source.label, str(target), modality, str(clean.SOPInstanceUID), series_uid)


def _check_writable(dataset: Dataset) -> None:
    syntax = UID(str(dataset.file_meta.TransferSyntaxUID))
    if not syntax.is_transfer_syntax:
        raise _Unusable(f"its transfer syntax {syntax} is not one pydicom can write; not exported")


def _safe_name(pseudonym: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", pseudonym).strip("_")[:40] or "pseudonym"


def _remove(written: Sequence[DeidentifiedFile], folder: Path) -> None:
    for item in written:
        Path(item.path).unlink(missing_ok=True)
    for directory in sorted({Path(item.path).parent for item in written} | {folder}, reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    logger.info("cancelled: removed %d de-identified files", len(written))
