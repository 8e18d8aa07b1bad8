"""Load the 64-slice lung CT: meddiag vs SimpleITK, plain pydicom and dcm2niix, in one run.

Run: python bench/bench_load.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from _common import REPO, median_seconds, require_corpus, row

from meddiag_desktop.io.decode_pool import DecodePool
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import plan_series, read_volume


def sitk_load(folder: Path) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def pydicom_load(folder: Path) -> np.ndarray:
    slices = [pydicom.dcmread(p) for p in folder.glob("*.dcm")]
    slices.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    return np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in slices]).astype(
        np.float32
    )


def dcm2niix(folder: Path) -> None:
    out = Path(tempfile.mkdtemp())
    subprocess.run(["dcm2niix", "-z", "n", "-o", str(out), str(folder)], check=True, capture_output=True)
    shutil.rmtree(out)


def ours_factory(index: SeriesIndex, uid: str, threads: int, pool: DecodePool | None = None) -> Callable[[], None]:
    def load() -> None:
        [plan] = plan_series(index, uid)
        read_volume(plan, threads=threads, decode_pool=pool)

    return load


def first_slice_latency(index: SeriesIndex, uid: str) -> float:
    start = time.perf_counter()
    seen: list[float] = []
    [plan] = plan_series(index, uid)
    read_volume(plan, on_slice=lambda z: seen.append(time.perf_counter() - start) if not seen else None)
    return seen[0]


def peak_ratio(index: SeriesIndex, uid: str) -> float:
    [plan] = plan_series(index, uid)
    tracemalloc.start()
    volume = read_volume(plan)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / (volume.array.size * 4)


def main() -> None:
    corpus = require_corpus()
    lung = corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L"
    demo = REPO / "resources" / "demo" / "lung_ct_A0001"
    tmp = Path(tempfile.mkdtemp())
    with SeriesIndex(tmp / "index.sqlite") as index:
        scan(lung, index)
        [uid] = [s.series_instance_uid for s in index.series()]
        ours = ours_factory(index, uid, 4)
        ours()  # warm the page cache for everyone
        t_sitk = median_seconds(lambda: sitk_load(lung))
        t_pyd = median_seconds(lambda: pydicom_load(lung))
        t_niix = median_seconds(lambda: dcm2niix(lung)) if shutil.which("dcm2niix") else None
        t_ours = median_seconds(ours)
        print("Uncompressed lung CT, 64 x 512 x 512, float32 HU (medians of 5, warm cache):")
        print(row("SimpleITK ImageSeriesReader (peer)", t_sitk))
        print(row("plain pydicom + numpy", t_pyd))
        if t_niix:
            print(row("dcm2niix (whole process, reads and writes NIfTI)", t_niix))
        print(row("meddiag read_volume (indexed offsets, 4 threads)", t_ours, t_sitk))
        print(f"  vs pydicom {t_pyd / t_ours:.1f}x" + (f", vs dcm2niix {t_niix / t_ours:.1f}x" if t_niix else ""))
        print(f"  first slice available after {first_slice_latency(index, uid) * 1000:.1f} ms")
        print(f"  peak traced memory / float32 volume size: {peak_ratio(index, uid):.3f} (target <= 1.3)")
    with SeriesIndex(tmp / "demo.sqlite") as index:
        scan(demo, index)
        [uid] = [s.series_instance_uid for s in index.series()]
        one, four = ours_factory(index, uid, 1), ours_factory(index, uid, 4)
        one()
        t_one, t_four = median_seconds(one), median_seconds(four)
        t_sitk_rle = median_seconds(lambda: sitk_load(demo))
        with DecodePool(2) as pool:
            start = time.perf_counter()
            pool.warm_up()
            t_warm = time.perf_counter() - start
            t_pool = median_seconds(ours_factory(index, uid, 4, pool))
        print("RLE-compressed demo CT (same pixels):")
        print(row("SimpleITK ImageSeriesReader (peer)", t_sitk_rle))
        print(row("meddiag, 1 thread", t_one, t_sitk_rle))
        print(row("meddiag, 4 threads (decoders hold the GIL)", t_four, t_sitk_rle))
        print(row("meddiag, 2 decoder processes (warm pool)", t_pool, t_sitk_rle))
        print(f"  decoder pool start-up (once per app session): {t_warm * 1000:.0f} ms")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
