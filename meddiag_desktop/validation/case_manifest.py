"""The optional case manifest: which label volume belongs to which series folder.

JSON: a list (or ``{"cases": [...]}``) of objects with ``series`` (a folder holding the CT
series) and ``labels`` (a NIfTI / NRRD label volume), optionally ``series_uid`` (a UID or
unique prefix, when the folder holds several CT series; default: the one with most slices).
CSV: a header row with the columns ``series`` and ``labels`` (and optionally ``series_uid``).
Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meddiag_desktop.errors import LabelReadError
from meddiag_desktop.io.label_volumes import is_label_volume

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest row, with absolute paths."""

    series_folder: Path
    labels: Path
    series_uid: str = ""


def _rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        rows = data.get("cases", []) if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise LabelReadError(f"{path.name}: expected a list of {{'series': ..., 'labels': ...}} objects.")
        return [{str(k): str(v) for k, v in r.items()} for r in rows]
    return [dict(row) for row in csv.DictReader(text.splitlines())]


def _entry(row: dict[str, str], base: Path, where: str) -> ManifestEntry:
    series, labels = (row.get("series") or "").strip(), (row.get("labels") or "").strip()
    if not series or not labels:
        raise LabelReadError(f"{where}: needs both 'series' and 'labels'.")
    entry = ManifestEntry((base / series).resolve(), (base / labels).resolve(), (row.get("series_uid") or "").strip())
    if not entry.series_folder.is_dir():
        raise LabelReadError(f"{where}: series folder {series} does not exist.")
    if not entry.labels.is_file() or not is_label_volume(entry.labels):
        raise LabelReadError(f"{where}: {labels} is not a NIfTI / NRRD label volume file.")
    return entry


def read_manifest(path: Path) -> list[ManifestEntry]:
    """Read a JSON or CSV case manifest.

    Raises
    ------
    LabelReadError
        Unreadable file, a row without both paths, or a path that does not exist.
    """
    try:
        rows = _rows(path)
    except (OSError, ValueError) as exc:
        raise LabelReadError(f"The manifest {path.name} cannot be read: {exc}") from exc
    return [_entry(row, path.parent, f"{path.name} entry {n}") for n, row in enumerate(rows, start=1)]
