"""Which series a folder opens with, and what the snapshot says about the opened folder (no window)."""

from __future__ import annotations

from pathlib import Path

from browser_helpers import copy_demo, write_variant

from meddiag_desktop.core.records import ObjectKind, PatientRecord, SeriesRecord, StudyRecord
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.ui.browser.snapshot import BrowserSnapshot, PatientEntry, StudyEntry, image_series, read_snapshot


def _series(uid: str, modality: str, frames: int, files: int | None = None, kind: ObjectKind = ObjectKind.IMAGE
            ) -> SeriesRecord:  # fmt: skip
    return SeriesRecord(uid, "st", modality, 1, "", "", "", kind, files or frames, frames)


def _snapshot(*series: SeriesRecord, folder_series: frozenset[str] = frozenset()) -> BrowserSnapshot:
    study = StudyEntry(StudyRecord("st", 1, "20070404", "", "", ""), series)
    patient = PatientEntry(PatientRecord(1, "id", "Doe^Jane", "", ""), (study,))
    return BrowserSnapshot((patient,), "/data/case" if folder_series else "", folder_series)


def test_largest_series_first_then_ct_then_most_files() -> None:
    snapshot = _snapshot(
        _series("mr", "MR", 120),
        _series("ct", "CT", 120),
        _series("seg", "SEG", 500, kind=ObjectKind.SEG),  # not an image series: never opened
        _series("big", "MR", 300),
        _series("ct-multiframe", "CT", 120, files=1),
    )
    assert [s.series_instance_uid for s in image_series(snapshot)] == ["big", "ct", "ct-multiframe", "mr"]


def test_folder_only_keeps_the_opened_folders_series() -> None:
    snapshot = _snapshot(_series("big", "CT", 300), _series("here", "CT", 10), folder_series=frozenset({"here"}))
    assert [s.series_instance_uid for s in image_series(snapshot, folder_only=True)] == ["here"]
    assert [s.series_instance_uid for s in image_series(snapshot)] == ["big", "here"]


def test_snapshot_of_a_folder_names_its_series_and_unreadable_files(tmp_path: Path, demo_folder: Path) -> None:
    first = copy_demo(demo_folder, tmp_path / "first")
    (first / "notes.txt").write_text("not an image", encoding="utf-8")
    second = write_variant(demo_folder, tmp_path / "first_b", count=3)  # a sibling whose name extends "first"
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        scan(first, index)
        scan(second, index)
        snapshot = read_snapshot(index, str(first))
        studies = [st for p in snapshot.patients for st in p.studies]
        assert len(studies) == 2
        assert [snapshot.in_folder(st) for st in studies].count(True) == 1
        assert {Path(p.path).name for p in snapshot.problems} == {"notes.txt", "LICENSE", "README.md"}
        assert read_snapshot(index).folder_series == frozenset()  # no folder: every study is listed alike
