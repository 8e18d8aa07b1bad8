"""Notifications belong to a series: shown with it, hidden when another is shown, global ones stay (issue 11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from browser_helpers import DEMO_SLICES, copy_demo, write_variant
from ui_helpers import wait_for_workers

from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.panels import Level, NotificationPanel

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot


TIMEOUT = 60000


def test_panel_shows_the_shown_series_messages_and_the_global_ones(qtbot: QtBot) -> None:
    panel = NotificationPanel()
    qtbot.addWidget(panel)
    panel.notify(Level.INFO, "scan done")
    panel.show_series("A")
    panel.notify(Level.WARNING, "gap in A", "A")
    panel.notify(Level.WARNING, "tilt in B", "B")  # arrives late, while A is shown
    assert panel.shown_messages() == ["⚠ gap in A", "scan done"]
    panel.show_series("B")
    assert panel.shown_messages() == ["⚠ tilt in B", "scan done"]
    panel.notify(Level.ERROR, "disk full")
    panel.show_series("A")
    assert panel.shown_messages() == ["✖ disk full", "⚠ gap in A", "scan done"]
    panel.notify(Level.WARNING, "gap in A", "A")  # the same warning on a reload: listed once, on top
    assert panel.shown_messages() == ["⚠ gap in A", "✖ disk full", "scan done"]
    assert len(panel.messages()) == 4  # B's message is kept, hidden


def _show(qtbot: QtBot, window: MainWindow, series_uid: str) -> None:
    with qtbot.waitSignal(window.series.loaded, timeout=TIMEOUT):
        window.series.open(series_uid)
    wait_for_workers(qtbot, window.runner, TIMEOUT)


def test_a_series_warnings_leave_when_another_series_is_shown(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, demo_folder: Path
) -> None:
    folder = tmp_path / "case"
    copy_demo(demo_folder, folder / "full")
    write_variant(demo_folder, folder / "gappy", count=20, skip=10, name="Gap^Greta")  # slice 10 left out
    with qtbot.waitSignal(window.series.loaded, timeout=TIMEOUT):
        window.open_path(folder)
    wait_for_workers(qtbot, window.runner, TIMEOUT)
    full, gappy = sorted(image_series(window.studies.snapshot), key=lambda s: -s.frame_count)
    assert full.frame_count == DEMO_SLICES
    scan_report = next(m for m in window.notes.shown_messages() if " files in " in m and "unchanged" in m)
    _show(qtbot, window, gappy.series_instance_uid)
    volume = window.viewer.state.volume
    assert volume is not None and volume.warnings
    gap_warnings = [f"⚠ {w.message}" for w in volume.warnings]
    assert set(gap_warnings) <= set(window.notes.shown_messages())
    _show(qtbot, window, full.series_instance_uid)
    shown = window.notes.shown_messages()
    assert not set(gap_warnings) & set(shown)  # gone with its series
    assert scan_report in shown  # the folder's report is about no one series: it stays
    _show(qtbot, window, gappy.series_instance_uid)
    shown = window.notes.shown_messages()
    assert all(shown.count(w) == 1 for w in gap_warnings)  # back with the series, not twice
