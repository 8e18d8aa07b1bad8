"""Broken files are named with their reason, on every scan, and never stop the good series (issue 12).

- declared sizes are checked against the file before anything is allocated;
- a truncated copy of a good file is named, not merged into the series as a "copy";
- a folder scanned again names its unreadable files again (reasons are stored per file);
- ``analyze`` on a folder with broken files analyses the good series and names the files left out.
Built from the bundled demo CT, so nothing here skips.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from meddiag_desktop.cli import main
from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.io.header import read_header
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series
from tests.io import hostile_files as hostile

GOOD = 4
DEMO_UID = "1.3.6.1.4.1.14519.5.2.1.6655.2359.257508444832901632590301540805"


def _problems(folder: Path, index: SeriesIndex) -> dict[str, str]:
    return {Path(p.path).name: p.reason for p in scan(folder, index).problems}


def _cut(source: Path, target: Path, keep: int) -> Path:
    """A copy of ``source`` with only its first ``keep`` bytes (negative: all but the last ``-keep``)."""
    data = source.read_bytes()
    target.write_bytes(data[:keep])
    return target


def _native_with_pixel_length(folder: Path, frames: int, length: int) -> Path:
    """A native slice declaring ``frames`` frames whose Pixel Data element claims ``length`` bytes."""
    path = hostile.write_header_only(folder, "long_pixels.dcm", lambda ds: setattr(ds, "NumberOfFrames", frames),
                                     native=True)  # fmt: skip
    data = bytearray(path.read_bytes())
    at = data.rindex(b"\xe0\x7f\x10\x00OW\x00\x00")
    data[at + 8 : at + 12] = struct.pack("<I", length)
    path.write_bytes(bytes(data))
    return path


def test_pixel_length_beyond_the_file_is_refused_before_allocation(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    frames = 8000  # 8000 x 512 x 512 x 2 bytes = 3.9 GiB, which the element length claims too
    _native_with_pixel_length(folder, frames, frames * 512 * 512 * 2)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        reason = _problems(folder, index)["long_pixels.dcm"]
        assert "(3.9 GiB) but holds only 512.0 KiB of pixel data" in reason
        assert [s.frame_count for s in index.series()] == [GOOD]


def test_rle_image_larger_than_its_file_can_hold_is_refused(tmp_path: Path) -> None:
    def huge(ds: Dataset) -> None:
        ds.Rows = ds.Columns = 16000  # 488 MiB a frame: under the frame-size cap, far over 64x the file

    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    hostile.write_header_only(folder, "huge_rle.dcm", huge)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        reason = _problems(folder, index)["huge_rle.dcm"]
        assert "(488.3 MiB), more than RLE can hold in a file of" in reason
        assert [s.frame_count for s in index.series()] == [GOOD]


@pytest.mark.parametrize("keep", [100_000, -50, -3], ids=["mid-fragment", "last-fragment", "in-delimiter"])
def test_truncated_copy_of_a_good_slice_is_named_not_merged(tmp_path: Path, keep: int) -> None:
    folder = tmp_path / "study"
    good = hostile.good_folder(folder, GOOD)
    _cut(good[1], folder / "0_copy.dcm", keep)  # sorts first: it would be the copy the series keeps
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert "cut short" in _problems(folder, index)["0_copy.dcm"]
        assert len(index.instances(DEMO_UID)) == GOOD
        [volume] = load_series(index, DEMO_UID)
        assert volume.shape[0] == GOOD
        assert not [w for w in volume.warnings if "copies" in w.message or "could not be decoded" in w.message]


def test_copy_cut_just_after_the_pixel_data_header_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    good = hostile.good_folder(folder, GOOD)
    _cut(good[1], folder / "0_copy.dcm", read_header(good[1]).pixel_offset)  # no frame item at all
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert "cut short" in _problems(folder, index)["0_copy.dcm"]
        assert len(index.instances(DEMO_UID)) == GOOD


def test_truncated_native_copy_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    hostile.good_folder(folder, GOOD)
    whole = hostile.write_header_only(folder, "native.dcm", lambda ds: None, native=True)
    _cut(whole, folder / "native_copy.dcm", -1000)
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        problems = _problems(folder, index)
        assert "native.dcm" not in problems
        assert "but holds only 511.0 KiB of pixel data" in problems["native_copy.dcm"]


def test_image_cut_before_its_pixel_data_is_named_and_leaves_the_series_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    good = hostile.good_folder(folder, GOOD)
    _cut(good[0], folder / "0_header_only.dcm", 3000)  # the same series, cut inside the private tags
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert "without its Pixel Data" in _problems(folder, index)["0_header_only.dcm"]
        [series] = index.series()
        assert (series.kind.value, series.instance_count) == ("image", GOOD)


def test_a_folder_scanned_again_names_its_unreadable_files_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "study"
    good = hostile.good_folder(folder, GOOD)
    _cut(good[1], folder / "copy.dcm", 100_000)
    (folder / "notes.txt").write_text("not an image")
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        first = scan(folder, index)
        again = scan(folder, index)
    assert again.files_parsed == 0
    assert again.problems == first.problems
    assert {Path(p.path).name for p in again.problems} == {"copy.dcm", "notes.txt"}
    for _ in range(2):  # the command line, run twice on the same folder
        assert main(["scan", str(folder)]) == 0
        assert "copy.dcm: the file ends inside its pixel data" in capsys.readouterr().out


def test_analyze_goes_on_with_the_good_series_and_names_the_files_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "zoo"
    good = hostile.good_folder(folder / "ct", 64)
    _cut(good[5], folder / "ct" / "0_copy.dcm", 100_000)
    _cut(good[6], folder / "cut_header.dcm", 3000)
    hostile.write_deep_sequence(folder)
    hostile.write_unknown_vr(folder, on_rows=True)
    hostile.write_header_only(folder, "frames.dcm", lambda ds: setattr(ds, "NumberOfFrames", 70_000))
    assert main(["analyze", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"Series {DEMO_UID} (5mm), 64 slices" in out
    left_out = out.split("Left out of the analysis: ")[1].split("\nid ")[0]
    for name in ("0_copy.dcm", "cut_header.dcm", "deep_sequence.dcm", "unknown_vr_rows.dcm", "frames.dcm"):
        assert name in left_out
    assert "F1" in out and "Decision support only" in out


def test_rle_slice_declaring_fewer_rows_than_it_encodes_is_a_typed_error(tmp_path: Path) -> None:
    """pylibjpeg-rle panics (pyo3 PanicException, a BaseException) when the frame holds more than Rows x Columns."""
    folder = tmp_path / "study"
    folder.mkdir()
    hostile.write_header_only(folder, "rows.dcm", lambda ds: setattr(ds, "Rows", 256))
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        assert _problems(folder, index) == {}  # a plausible header: only decoding can tell
        [series] = index.series()
        with pytest.raises(MeddiagError, match=r"rows\.dcm: broken pixel data — the decoder failed"):
            load_series(index, series.series_instance_uid, threads=1)
