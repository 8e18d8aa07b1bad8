"""Folder membership in the index is an exact, case-sensitive path prefix (no LIKE wildcards)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan

DEMO_SERIES = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lung_ct_A0001"
# "_" is LIKE's any-character wildcard and LIKE is ASCII case-insensitive: a_b matched aXb and A_B.
SIBLINGS = ("a_b", "aXb", "A_B", "a_b2")


@pytest.fixture
def siblings(tmp_path: Path) -> Path:
    root = tmp_path / "studies"
    for number, name in enumerate(SIBLINGS):
        folder = root / name
        folder.mkdir(parents=True)
        for source in sorted(DEMO_SERIES.glob("*.dcm"))[number : number + 3]:
            shutil.copy2(source, folder / source.name)
        (folder / "notes.txt").write_text("not dicom")
    return root


def _files_per_folder(index: SeriesIndex) -> Counter[str]:
    paths = [r.path for s in index.series() for r in index.instances(s.series_instance_uid)]
    return Counter(Path(p).parent.name for p in paths)


def test_scanning_one_folder_never_removes_a_siblings_files(siblings: Path, tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        for name in SIBLINGS:
            scan(siblings / name, index)
        assert _files_per_folder(index) == dict.fromkeys(SIBLINGS, 3)

        next((siblings / "a_b").glob("*.dcm")).unlink()
        summary = scan(siblings / "a_b", index)

        assert summary.files_removed == 1
        assert summary.files_seen == summary.files_unchanged == 3  # two images and notes.txt
        assert _files_per_folder(index) == {"a_b": 2, "aXb": 3, "A_B": 3, "a_b2": 3}
        assert len(index.problems()) == len(SIBLINGS)  # every folder's notes.txt is still listed


def test_file_stamps_and_problems_select_exactly_one_folder(siblings: Path, tmp_path: Path) -> None:
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(siblings, index)
        for name in SIBLINGS:
            folder = siblings / name
            stamps = index.file_stamps(str(folder))
            assert {Path(p).parent for p in stamps} == {folder}
            assert len(stamps) == 4
            assert [Path(p.path).parent for p in index.problems(str(folder))] == [folder]
        assert len(index.file_stamps(str(siblings))) == 4 * len(SIBLINGS)
        assert len(index.file_stamps(str(siblings) + "/")) == 4 * len(SIBLINGS)  # a trailing separator is fine
        assert len(index.file_stamps(siblings.anchor)) == 4 * len(SIBLINGS)  # the filesystem root holds them all
