"""Index a folder of >= 5,000 real-header files: our scan vs a plain pydicom header loop.

The folder is built from the corpus's CT and MR files with new UIDs and positions and the
pixel data cropped to 64 x 64 (headers stay real). Run: python bench/bench_scan.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from _common import WORK, median_seconds, require_corpus, row
from pydicom.uid import generate_uid

from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan

SERIES = 80
TEMPLATES = ("lung_pet_ct_dx/A0001_philips_lungkernel_L", "mr_ge_3d_t1_mprage")


def build_folder(corpus: Path, target: Path) -> list[Path]:
    if target.is_dir() and len(list(target.rglob("*.dcm"))) >= 5000:
        return sorted(target.rglob("*.dcm"))
    shutil.rmtree(target, ignore_errors=True)
    templates = [pydicom.dcmread(p) for t in TEMPLATES for p in _dicom_files(corpus / t)[:64]]
    paths = []
    for s in range(SERIES):
        study, series = generate_uid(), generate_uid()
        folder = target / f"study{s // 4:03d}" / f"series{s:03d}"
        folder.mkdir(parents=True)
        for i in range(64):
            ds = templates[(s % 2) * 64 + i].copy()
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.ImagePositionPatient = [0.0, 0.0, float(i * 2.5 + s)]
            ds.PixelData = np.ascontiguousarray(ds.pixel_array[:64, :64]).tobytes()
            ds.Rows = ds.Columns = 64
            path = folder / f"im{i:03d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def _dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in ("LICENSE", "MANIFEST.txt"))


def plain_pydicom(paths: list[Path]) -> None:
    for path in paths:
        pydicom.dcmread(path, stop_before_pixels=True)


def main() -> None:
    corpus = require_corpus()
    folder = WORK / "scan5k"
    paths = build_folder(corpus, folder)
    subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    print(f"Folder: {len(paths)} DICOM files in {SERIES} series")
    peer = median_seconds(lambda: plain_pydicom(paths), repeats=3)
    tmp = Path(tempfile.mkdtemp())

    def fresh() -> None:
        (tmp / "index.sqlite").unlink(missing_ok=True)
        for extra in ("-wal", "-shm"):
            (tmp / f"index.sqlite{extra}").unlink(missing_ok=True)

    def first_scan() -> None:
        with SeriesIndex(tmp / "index.sqlite") as index:
            scan(folder, index)

    ours = median_seconds(first_scan, repeats=3, setup=fresh)
    first_scan()
    rescan = median_seconds(first_scan, repeats=5)
    print(row("plain pydicom dcmread(stop_before_pixels) loop", peer))
    print(row("meddiag scan, first (into a new SQLite index)", ours, peer))
    print(row("meddiag scan, re-open unchanged folder", rescan))
    print(f"  files/s: pydicom {len(paths) / peer:.0f}, meddiag first scan {len(paths) / ours:.0f}")
    print(f"  re-open vs first scan: {ours / rescan:.1f}x faster (target >= 20x)")
    print(f"  first scan vs pydicom: {peer / ours:.2f}x (target >= 3x)")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
