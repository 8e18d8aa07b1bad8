"""Scan a folder or DICOMDIR into the study index, re-reading only new or changed files."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.core.records import ObjectKind, ScanProblem, ScanSummary
from meddiag_desktop.errors import DicomReadError
from meddiag_desktop.io.instance_parse import ParsedInstance, describe_non_image, parse_instance

if TYPE_CHECKING:
    from collections.abc import Iterator

    from meddiag_desktop.io.index import SeriesIndex

log = logging.getLogger(__name__)

BATCH = 500
NON_IMAGE_KINDS = tuple(kind for kind in ObjectKind if kind is not ObjectKind.IMAGE)


@dataclass(frozen=True)
class FileStamp:
    path: str
    size: int
    mtime_ns: int
    name_problem: str = ""  # set when the file cannot be indexed under its own name (``path`` is then for display)


def scan(
    target: Path,
    index: SeriesIndex,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> ScanSummary:
    """Index a folder (recursively) or a DICOMDIR. Never aborts on a bad file."""
    started = time.perf_counter()
    target = target.resolve()
    if target.is_file() and _is_dicomdir(target):
        root, files = target.parent, list(_files_of_dicomdir(target))
    elif target.is_dir():
        root, files = target, list(_walk(target))
    else:
        raise DicomReadError(f"{target} is neither a folder nor a DICOMDIR file.")
    if not _is_utf8(str(root)):
        raise DicomReadError(
            f"The folder name {_displayable(str(root))} is not valid UTF-8; rename it (or a parent folder) to scan it."
        )
    known = index.file_stamps(str(root))
    changed = [f for f in files if known.get(f.path) != (f.size, f.mtime_ns)]
    removed = set(known) - {f.path for f in files} if target.is_dir() else set()
    progress(0, len(changed), f"Reading {len(changed)} new or changed files")
    _parse_and_store(changed, index, progress, cancel or CancelToken())
    index.remove(removed)
    problems = _problems_of(index, root, files)
    summary = ScanSummary(
        root=str(root),
        files_seen=len(files),
        files_parsed=len(changed),
        files_unchanged=len(files) - len(changed),
        files_removed=len(removed),
        problems=tuple(problems),
        seconds=time.perf_counter() - started,
    )
    log.info("scan: %d files, %d parsed, %d problems", len(files), len(changed), len(problems))
    return summary


def _parse_and_store(files: list[FileStamp], index: SeriesIndex, progress: ProgressFn, cancel: CancelToken) -> None:
    for start in range(0, len(files), BATCH):
        cancel.raise_if_cancelled("Scanning")
        batch = files[start : start + BATCH]
        parsed: list[ParsedInstance] = []
        failed: list[tuple[ScanProblem, int, int]] = []
        for stamp in batch:
            if stamp.name_problem:
                failed.append((ScanProblem(stamp.path, stamp.name_problem), stamp.size, stamp.mtime_ns))
                continue
            result = parse_instance(Path(stamp.path), stamp.size, stamp.mtime_ns)
            if isinstance(result, ScanProblem):
                failed.append((result, stamp.size, stamp.mtime_ns))
            else:
                parsed.append(result)
        index.store(parsed, failed)
        progress(start + len(batch), len(files), f"Indexed {start + len(batch)} of {len(files)} files")


def _problems_of(index: SeriesIndex, root: Path, files: list[FileStamp]) -> tuple[ScanProblem, ...]:
    """Every file of this scan not shown as an image, with its reason, whether read now or before.

    Reasons are stored per file, so a folder opened again names its unreadable files again.
    """
    seen = {f.path for f in files}
    unreadable = [p for p in index.problems(str(root)) if p.path in seen]
    others = [
        ScanProblem(record.path, describe_non_image(record.kind))
        for _, record in index.result_instances(NON_IMAGE_KINDS)
        if record.path in seen
    ]
    return tuple(sorted(unreadable + others, key=lambda p: p.path))


def _walk(root: Path) -> Iterator[FileStamp]:
    """Every regular file below ``root`` (symlinked folders are not followed: no loops)."""
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            log.warning("cannot list a folder: %s", exc.strerror)
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file():
                stamp = _stamp(entry)
                if stamp is not None:
                    yield stamp


def _stamp(entry: os.DirEntry[str]) -> FileStamp | None:
    """The file's size and time, ``None`` when it vanished since the folder was listed."""
    try:
        st = entry.stat()
    except OSError as exc:  # deleted (or made unreadable) while the scan runs: it is simply not there
        log.debug("a file vanished during the scan: %s", exc.strerror)
        return None
    if _is_utf8(entry.path):
        return FileStamp(entry.path, st.st_size, st.st_mtime_ns)
    reason = "the file name is not valid UTF-8 (e.g. from an old Latin-1 archive); rename the file to index it"
    return FileStamp(_displayable(entry.path), st.st_size, st.st_mtime_ns, name_problem=reason)


def _is_utf8(path: str) -> bool:
    """False for names holding bytes that are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _displayable(path: str) -> str:
    """A printable, storable form of a non-UTF-8 name: its bad bytes as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _is_dicomdir(path: Path) -> bool:
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["DirectoryRecordSequence"])
    except Exception:
        return False
    return "DirectoryRecordSequence" in ds


def _files_of_dicomdir(path: Path) -> Iterator[FileStamp]:
    """The files a DICOMDIR references (PS3.3 F.3: Referenced File ID, relative to its folder)."""
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise DicomReadError(f"The DICOMDIR {path} cannot be read: {exc}") from exc
    missing = 0
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        try:
            st = path.parent.joinpath(*parts).stat()
        except OSError:
            missing += 1
            continue
        yield FileStamp(str(path.parent.joinpath(*parts)), st.st_size, st.st_mtime_ns)
    if missing:
        log.warning("the DICOMDIR lists %d files that are missing", missing)
