"""The study browser in the whole window (issue 11), on folders built from the bundled demo CT.

Opening a folder opens its largest series; the list shows that folder's studies first, searchable
and sortable, with the rest of the index one click away; files that are not DICOM are listed with
their reasons on every open. The corpus tests need ../shared and skip without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from browser_helpers import DEMO_SLICES, copy_demo, top_rows, write_variant
from PySide6.QtCore import QPoint, Qt
from ui_helpers import wait_for_workers

from meddiag_desktop.core.display_text import NOT_STATED
from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.browser.study_rows import UID_ROLE, Column
from meddiag_desktop.ui.main_window import MainWindow

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot


TIMEOUT = 60000
WHERE_LISTED = "(the Studies panel lists each file and why)"


@pytest.fixture
def two_studies(tmp_path: Path, demo_folder: Path) -> Path:
    """The demo CT (64 slices, 2007) and a 9-slice study of another patient (2011) in one folder."""
    folder = tmp_path / "two"
    copy_demo(demo_folder, folder / "demo")
    write_variant(demo_folder, folder / "smith", count=9, name="Smith^Anna^^Dr", patient_id="P-0002",
                  study_date="20110912", description="Follow-up chest")  # fmt: skip
    return folder


def _open(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    """Open a folder as a user would and wait until its largest series has loaded."""
    with qtbot.waitSignal(window.series.loaded, timeout=TIMEOUT):
        window.open_path(folder)
    wait_for_workers(qtbot, window.runner, TIMEOUT)
    strip = window.strips.strip_button(window.browser_dock)
    if strip is not None:  # the browser stepped aside for the series: click its strip, as a user would
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton)
    assert window.browser_panel.isVisible()


def _click_header(qtbot: QtBot, window: MainWindow, column: Column) -> None:
    header = window.browser.header()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_opening_a_folder_opens_and_selects_its_largest_series(
    qtbot: QtBot, window: MainWindow, two_studies: Path
) -> None:
    _open(qtbot, window, two_studies)
    volume = window.viewer.state.volume
    assert volume is not None and volume.shape[0] == DEMO_SLICES
    largest = max(image_series(window.studies.snapshot), key=lambda s: s.frame_count)
    assert volume.series_instance_uid == largest.series_instance_uid
    assert window.browser.currentIndex().siblingAtColumn(0).data(UID_ROLE) == largest.series_instance_uid


def test_search_filters_as_you_type_on_name_id_date_modality_and_description(
    qtbot: QtBot, window: MainWindow, two_studies: Path
) -> None:
    _open(qtbot, window, two_studies)
    search = window.browser_panel.search
    assert top_rows(window.browser) == ["Smith, Anna (Dr)", "Lung_Dx-A0001"]  # newest first
    for typed, expected in [
        ("smi", ["Smith, Anna (Dr)"]),  # part of a name, as typed so far
        ("P-0002", ["Smith, Anna (Dr)"]),  # patient ID
        ("lung_dx-a0001", ["Lung_Dx-A0001"]),  # name or ID, any case
        ("2007-04", ["Lung_Dx-A0001"]),  # date as shown
        ("FOLLOW-UP", ["Smith, Anna (Dr)"]),  # study description
        ("ct", ["Smith, Anna (Dr)", "Lung_Dx-A0001"]),  # modality
        ("anna 2011", ["Smith, Anna (Dr)"]),  # every word must match
        ("anna 2007", []),
    ]:
        search.clear()
        qtbot.keyClicks(search, typed)
        assert top_rows(window.browser) == expected, typed
    search.clear()
    assert len(top_rows(window.browser)) == 2


def test_columns_sort_with_a_header_click(qtbot: QtBot, window: MainWindow, two_studies: Path) -> None:
    _open(qtbot, window, two_studies)
    assert top_rows(window.browser, Column.DATE) == ["2011-09-12", "2007-04-04"]  # default: newest first
    _click_header(qtbot, window, Column.DATE)
    assert top_rows(window.browser, Column.DATE) == ["2007-04-04", "2011-09-12"]
    _click_header(qtbot, window, Column.IMAGES)
    assert top_rows(window.browser, Column.IMAGES) == ["9", "64"]  # as numbers: as text "64" < "9"
    _click_header(qtbot, window, Column.IMAGES)
    assert top_rows(window.browser, Column.IMAGES) == ["64", "9"]
    _click_header(qtbot, window, Column.NAME)
    assert top_rows(window.browser) == ["Lung_Dx-A0001", "Smith, Anna (Dr)"]


def test_the_opened_folder_comes_first_and_the_rest_of_the_index_is_one_click_away(
    qtbot: QtBot, window: MainWindow, two_studies: Path, tmp_path: Path, demo_folder: Path
) -> None:
    _open(qtbot, window, two_studies)
    older = write_variant(demo_folder, tmp_path / "jones", count=12, name="Jones^Bob", patient_id="J-1",
                          study_date="19990101", description="Old chest")  # fmt: skip
    _open(qtbot, window, older)
    volume = window.viewer.state.volume
    assert volume is not None and volume.shape[0] == 12  # this folder's largest, not the index's
    assert top_rows(window.browser) == ["Jones, Bob"]
    toggle = window.browser_panel.show_all
    assert toggle.text() == "All indexed studies (+2)"
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(4, toggle.height() // 2))
    assert toggle.isChecked()
    assert top_rows(window.browser) == ["Jones, Bob", "Smith, Anna (Dr)", "Lung_Dx-A0001"]  # 1999 still first
    assert top_rows(window.browser, Column.DATE) == ["1999-01-01", "2011-09-12", "2007-04-04"]
    assert top_rows(window.browser, Column.PATIENT_ID) == ["J-1", "P-0002", "Lung_Dx-A0001"]
    _click_header(qtbot, window, Column.DATE)
    assert top_rows(window.browser, Column.DATE) == ["1999-01-01", "2007-04-04", "2011-09-12"]
    _open(qtbot, window, two_studies)  # another folder: its own studies again, unfiltered
    assert not toggle.isChecked()
    assert sorted(top_rows(window.browser)) == ["Lung_Dx-A0001", "Smith, Anna (Dr)"]


def test_files_that_are_not_dicom_are_listed_with_reasons_on_every_open(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, demo_folder: Path
) -> None:
    folder = copy_demo(demo_folder, tmp_path / "with_strays")
    (folder / "notes.txt").write_text("reported by phone\n", encoding="utf-8")
    (folder / "lung_ct_A0001" / "empty.dcm").write_bytes(b"")
    problems = window.browser_panel.problems
    for _ in range(2):  # the second open re-reads nothing: the list comes from the index
        _open(qtbot, window, folder)
        assert problems.isVisible()
        assert problems.summary() == "⚠ 4 files: not DICOM or unreadable"
        listed = dict(problems.listed())
        assert set(listed) == {"notes.txt", "empty.dcm", "LICENSE", "README.md"}  # the demo's own text files too
        assert listed["notes.txt"] == "not a DICOM file"
        newest = window.notes.shown_messages()
        assert newest[0] == f"⚠ 4 files in this folder: not DICOM or unreadable {WHERE_LISTED}."
        assert newest[1].startswith("68 files in ")  # this scan's report: the warning is new on each open
    collapsed = problems.height()
    top = problems.topLevelItem(0)
    assert top is not None
    top.setExpanded(True)
    assert problems.height() > collapsed
    assert top.child(0).toolTip(0).endswith("LICENSE")  # the full path, for finding the file


def test_a_clean_folder_lists_no_problem_files(qtbot: QtBot, window: MainWindow, demo_folder: Path) -> None:
    _open(qtbot, window, demo_folder / "lung_ct_A0001")
    assert not window.browser_panel.problems.isVisible()


@pytest.mark.corpus
def test_corpus_tilted_ct_folder_opens_the_larger_series_and_lists_the_non_image(
    qtbot: QtBot, window: MainWindow, shared_corpus: Path
) -> None:
    _open(qtbot, window, shared_corpus / "ct_gantry_tilt")
    volume = window.viewer.state.volume
    assert volume is not None and volume.shape[0] == 54  # Philips (54 slices) over GE (28)
    listed = dict(window.browser_panel.problems.listed())
    assert "DIRFILE" in listed
    dates = top_rows(window.browser, Column.DATE)
    assert NOT_STATED in dates  # one of the two files was anonymised without a study date
    for date in set(dates) - {NOT_STATED}:
        assert len(date) == 10 and date[4] == date[7] == "-", date
    assert not any("^" in name for name in top_rows(window.browser))
