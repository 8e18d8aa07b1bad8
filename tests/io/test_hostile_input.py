"""Hostile input (issue 12): every crafted file becomes a per-file problem with a reason, or a
volume with a plain-words warning, or a typed error; the rest of the folder is still indexed
and loaded. Files are built in tmp_path from the bundled demo CT, so nothing here skips."""

from __future__ import annotations

import math
import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.core.geometry import FrameGeometry, build_stacks, is_placeable
from meddiag_desktop.errors import DicomReadError, StudyIndexError, UnsupportedDicomError
from meddiag_desktop.io import scan as scan_module
from meddiag_desktop.io.header import UnsafeHeaderError, read_header
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.pixels import decode_file
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series
from tests.io import hostile_files as hostile

if TYPE_CHECKING:
    from meddiag_desktop.core.records import InstanceRecord

GOOD = 3  # good demo slices beside each hostile file


def _scan(folder: Path, tmp_path: Path) -> tuple[SeriesIndex, dict[str, str]]:
    index = SeriesIndex(tmp_path / "index.sqlite")
    summary = scan(folder, index)
    return index, {Path(p.path).name: p.reason for p in summary.problems}


def _record(index: SeriesIndex, path: Path) -> InstanceRecord:
    return next(r for s in index.series() for r in index.instances(s.series_instance_uid) if r.path == str(path))


def _good_series_intact(index: SeriesIndex) -> None:
    demo_uid = "1.3.6.1.4.1.14519.5.2.1.6655.2359.257508444832901632590301540805"
    assert len(index.instances(demo_uid)) == GOOD
    [volume] = load_series(index, demo_uid)
    assert volume.shape == (GOOD, 512, 512)


def test_non_utf8_file_name_is_a_problem_and_the_folder_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    hostile.write_non_utf8_name(folder)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert set(problems) == {"slice_\\xe9t\\xe9.dcm"}
        assert "not valid UTF-8" in problems["slice_\\xe9t\\xe9.dcm"]
        _good_series_intact(index)
        again = scan(folder, index)  # stored under its printable name: unchanged, not re-read, not removed
        assert (again.files_parsed, again.files_removed, again.files_unchanged) == (0, 0, GOOD + 1)
        assert [Path(p.path).name for p in index.problems()] == ["slice_\\xe9t\\xe9.dcm"]


def test_cli_scan_prints_a_non_utf8_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    hostile.write_non_utf8_name(folder)
    assert main(["scan", str(folder)]) == 0
    assert "slice_\\xe9t\\xe9.dcm: the file name is not valid UTF-8" in capsys.readouterr().out


def test_non_utf8_folder_name_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    hostile.good_folder(folder, 1)
    with SeriesIndex(tmp_path / "index.sqlite") as index, pytest.raises(DicomReadError, match="not valid UTF-8"):
        scan(folder, index)


def test_deeply_nested_sequence_is_refused_without_recursion(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    deep = hostile.write_deep_sequence(folder)
    with pytest.raises(UnsafeHeaderError, match="nested more than"):
        read_header(deep)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert "sequences nested more than 128 levels deep" in problems["deep_sequence.dcm"]
        _good_series_intact(index)


def test_unknown_vr_on_a_needed_value_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    hostile.write_unknown_vr(folder, on_rows=True)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert "Rows: Unknown Value Representation 'QQ'" in problems["unknown_vr_rows.dcm"]
        _good_series_intact(index)


def test_unknown_vr_on_a_private_element_still_indexes_the_image(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    path = hostile.write_unknown_vr(folder, on_rows=False)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert path.name not in problems
        record = _record(index, path)
        assert (record.rows, record.columns, record.kind.value) == (512, 512, "image")


def test_files_deleted_during_a_scan_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "study"
    victim = hostile.good_folder(folder, GOOD + 1)[-1]
    real_scandir = os.scandir

    def list_then_delete(path: str) -> object:
        entries = list(real_scandir(path))
        if victim.exists():
            victim.unlink()  # gone between listing the folder and stat()ing the file
        return iter(entries)

    monkeypatch.setattr(scan_module.os, "scandir", list_then_delete)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert problems == {}
        _good_series_intact(index)


@pytest.mark.parametrize(
    ("label", "position"),
    [("nan", (math.nan, 0.0)), ("inf", (math.inf, 0.0)), ("-inf", (0.0, -math.inf))],
)
def test_non_finite_position_gives_a_warning_not_a_crash(
    tmp_path: Path, label: str, position: tuple[float, float]
) -> None:
    def edit(ds: object, i: int) -> None:
        ds.ImagePositionPatient = [*position, 5.0 * i]  # type: ignore[attr-defined]

    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    paths = hostile.write_slices(folder, 3, edit, label)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert problems == {}
        record = _record(index, paths[0])
        assert record.position is None  # NaN/inf never reach the index as numbers
        [volume] = load_series(index, record.series_instance_uid)
        assert volume.shape == (3, 512, 512)
        assert any("no usable patient position" in w.message for w in volume.warnings)
        _good_series_intact(index)


def test_collinear_orientation_gives_a_warning_not_a_singular_matrix(tmp_path: Path) -> None:
    def edit(ds: object, i: int) -> None:
        ds.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]  # type: ignore[attr-defined]

    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    [first, *_] = hostile.write_slices(folder, 3, edit, "collinear")
    index, _problems = _scan(folder, tmp_path)
    with index:
        # filterwarnings=error: a 0/0 slice normal would raise its RuntimeWarning here
        [volume] = load_series(index, _record(index, first).series_instance_uid)
        assert any("parallel" in w.message for w in volume.warnings)
        assert all(math.isfinite(v) for v in volume.affine.ravel())
        _good_series_intact(index)


def test_geometry_rejects_unplaceable_frames() -> None:
    good = FrameGeometry(0, 4, 4, (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0), (1.0, 1.0))
    assert is_placeable(good)
    assert not is_placeable(replace(good, orientation=(1, 0, 0, -1, 0, 0)))
    assert not is_placeable(replace(good, orientation=(0, 0, 0, 0, 1, 0)))
    assert not is_placeable(replace(good, position=(0.0, math.nan, 0.0)))
    frames = [replace(good, key=k, position=(0.0, 0.0, float(k)), orientation=(1, 0, 0, 1, 0, 0)) for k in range(3)]
    [stack] = build_stacks(frames)
    assert stack.keys == (0, 1, 2) and stack.warnings


def test_unknown_transfer_syntax_is_a_problem_at_scan_and_unsupported_at_decode(tmp_path: Path) -> None:
    def edit(ds: object, i: int) -> None:
        ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7"  # type: ignore[attr-defined]

    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    [bad, *_] = hostile.write_slices(folder, 2, edit, "unknown_ts")
    index, problems = _scan(folder, tmp_path)
    with index:
        assert "transfer syntax 1.2.3.4.5.6.7 is not one this app knows" in problems[bad.name]
        _good_series_intact(index)
        good = index.instances("1.3.6.1.4.1.14519.5.2.1.6655.2359.257508444832901632590301540805")[0]
    with pytest.raises(UnsupportedDicomError, match="not a known transfer syntax"):
        decode_file(replace(good, path=str(bad)))


@pytest.mark.parametrize(
    ("name", "native", "edit", "reason"),
    [
        ("frames_rle.dcm", False, {"NumberOfFrames": 70_000}, "70000 frames of 512 x 512 pixels but the whole"),
        ("frames_native.dcm", True, {"NumberOfFrames": 70_000}, "(34.2 GiB) but holds only 512.0 KiB of pixel data"),
        ("huge_rle.dcm", False, {"Rows": 60_000, "Columns": 60_000}, "larger than any image this app can show"),
        ("huge_native.dcm", True, {"Rows": 60_000, "Columns": 60_000}, "larger than any image this app can show"),
    ],
)
def test_declared_size_beyond_the_file_is_refused_before_allocation(
    tmp_path: Path, name: str, native: bool, edit: dict[str, int], reason: str
) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    hostile.write_header_only(folder, name, lambda ds: [setattr(ds, k, v) for k, v in edit.items()], native=native)
    index, problems = _scan(folder, tmp_path)
    with index:
        assert reason in problems[name]
        assert [s.frame_count for s in index.series()] == [GOOD]  # never listed as an image series
        _good_series_intact(index)


def test_locked_index_is_a_typed_error_not_a_raw_sqlite_error(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    path = tmp_path / "index.sqlite"
    SeriesIndex(path).close()
    other = sqlite3.connect(path, isolation_level=None)  # another program holding the write lock
    other.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with SeriesIndex(path, timeout=0.2) as index, pytest.raises(StudyIndexError, match=r"locked for over 0\.2 s"):
            scan(folder, index)
        assert time.monotonic() - started < 10
    finally:
        other.execute("ROLLBACK")
        other.close()
    with SeriesIndex(path) as index:  # once the lock is gone the same scan works
        assert scan(folder, index).files_parsed == GOOD


def test_every_hostile_file_together_leaves_the_good_series_loadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole zoo in one folder: scan names each bad file, every indexed series loads or is a typed error."""
    folder = tmp_path / "zoo"
    hostile.good_folder(folder, GOOD)
    hostile.write_non_utf8_name(folder)
    hostile.write_deep_sequence(folder)
    hostile.write_unknown_vr(folder, on_rows=True)
    hostile.write_header_only(folder, "frames.dcm", lambda ds: setattr(ds, "NumberOfFrames", 70_000))
    hostile.write_slices(folder, 2, lambda ds, i: setattr(ds, "ImagePositionPatient", [math.nan, 0, i]), "nan")
    hostile.write_slices(folder, 2, lambda ds, i: setattr(ds, "ImageOrientationPatient", [0, 1, 0, 0, 1, 0]), "col")
    assert main(["scan", str(folder)]) == 0
    out = capsys.readouterr().out
    for name in ("slice_\\xe9t\\xe9.dcm", "deep_sequence.dcm", "unknown_vr_rows.dcm", "frames.dcm"):
        assert name in out
    index, _problems = _scan(folder, tmp_path)
    with index:
        for series in index.series():
            assert main(["info", series.series_instance_uid]) == 0
        _good_series_intact(index)
