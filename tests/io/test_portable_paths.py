"""The POSIX-only calls have portable fallbacks, forced here on Linux as Windows would take them."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
import pytest

from meddiag_desktop.io import pixels
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import plan_series, read_volume

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from meddiag_desktop.io.series_loader import VolumePlan

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001"


@pytest.fixture(scope="module")
def uncompressed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo (RLE) rewritten as explicit VR little endian, so loads take the indexed-offset path."""
    folder = tmp_path_factory.mktemp("demo_native")
    for source in sorted(DEMO.glob("*.dcm")):
        ds = pydicom.dcmread(source)
        ds.decompress()
        ds.save_as(folder / source.name, enforce_file_format=True)
    return folder


def _plan(folder: Path, tmp_path: Path) -> VolumePlan:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        [plan] = plan_series(index, series.series_instance_uid)
    return plan


@pytest.mark.parametrize("missing", [("preadv",), ("preadv", "pread")], ids=["pread", "seek-readinto"])
def test_load_without_preadv_gives_identical_pixels(
    uncompressed_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...]
) -> None:
    plan = _plan(uncompressed_demo, tmp_path)
    assert all(pixels.can_read_fast(f.record) for f in plan.frames)  # the path under test is taken
    with_preadv = read_volume(plan, threads=4).array
    for name in missing:
        monkeypatch.delattr(os, name, raising=False)
    assert not any(hasattr(os, name) for name in missing)
    without = read_volume(plan, threads=4).array
    assert np.array_equal(without, with_preadv)
    decoded_by_pydicom = read_volume(_plan(DEMO, tmp_path / "rle")).array  # the bundled RLE files
    assert np.array_equal(without, decoded_by_pydicom)


@pytest.mark.parametrize("missing", [(), ("preadv",), ("preadv", "pread")], ids=["preadv", "pread", "seek"])
def test_read_at_reports_a_short_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...]
) -> None:
    for name in missing:
        monkeypatch.delattr(os, name, raising=False)
    path = tmp_path / "short.bin"
    path.write_bytes(bytes(range(10)))
    target = bytearray(8)
    assert pixels.read_at(str(path), memoryview(target), 6) == 4
    assert bytes(target[:4]) == bytes([6, 7, 8, 9])


def test_decode_pool_uses_spawn_without_forkserver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meddiag_desktop.io import decode_pool
    from meddiag_desktop.io.decode_pool import DecodePool

    asked: list[str | None] = []
    real_get_context = multiprocessing.get_context

    def spy(method: str | None = None) -> BaseContext:
        asked.append(method)
        return real_get_context(method)

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(multiprocessing, "get_context", spy)
    assert decode_pool.start_method() == "spawn"
    records = [f.record for f in _plan(DEMO, tmp_path).frames[:2]]
    with DecodePool(1) as pool:
        for record in records:
            assert np.array_equal(pool.submit(record).result(), pixels.decode_file(record))
    assert asked == ["spawn"]


def test_decode_pool_prefers_forkserver_where_present() -> None:
    from meddiag_desktop.io.decode_pool import start_method

    expected = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    assert start_method() == expected
