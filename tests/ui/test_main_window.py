"""The whole window on the bundled demo CT (never skipped): open, browse, load progressively, follow the crosshair.

Only the tilted and enhanced corpus series need ../shared (skipped without it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt, QTimer
from ui_helpers import click, to_widget

from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot


def _open_first_series(qtbot: QtBot, window: MainWindow, folder: Path) -> str:
    with qtbot.waitSignal(window.studies.scan_finished, timeout=30000):
        window.open_path(folder)
    uid = image_series(window.studies.snapshot)[0].series_instance_uid
    index = window.browser.series_index(uid)
    window.browser.scrollTo(index)
    rect = window.browser.visualRect(index)
    left = Qt.MouseButton.LeftButton
    with qtbot.waitSignal(window.series.loaded, timeout=30000):
        qtbot.mouseClick(window.browser.viewport(), left, pos=rect.center())  # Qt 6 needs the first press
        qtbot.mouseDClick(window.browser.viewport(), left, pos=rect.center())
    return uid


def test_open_demo_double_click_and_browse(qtbot: QtBot, window: MainWindow, demo_folder: Path) -> None:
    _open_first_series(qtbot, window, demo_folder)
    volume = window.viewer.state.volume
    assert volume is not None and volume.shape == (64, 512, 512)
    assert window.studies.settings.recent_folders[0] == str(demo_folder.resolve())
    axial = window.viewer.views[Plane.AXIAL]
    assert axial.letters.letters() == ("R", "L", "A", "P")
    window.view_actions["preset1"].trigger()
    assert (window.viewer.state.window.center, window.viewer.state.window.width) == (-600.0, 1500.0)
    coronal = window.viewer.views[Plane.CORONAL]
    assert coronal.geometry is not None
    # the coronal plane is 64 slices x 5 mm high and 512 x 0.84 mm wide: physical aspect ratio
    assert coronal.geometry.size_mm == pytest.approx((512 * volume.spacing[2], 64 * 5.0), rel=1e-3)
    click(coronal, to_widget(coronal, 100.0, (63 - 20 + 0.5) * 5.0))
    assert axial.slice_index != 20  # a plain click in window/level mode leaves the planes alone
    click(coronal, to_widget(coronal, 100.0, (63 - 20 + 0.5) * 5.0), Qt.KeyboardModifier.ControlModifier)
    assert axial.slice_index == 20
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)
    assert window.browser.model_.rowCount() == 1


def test_first_slice_shows_before_load_ends_and_gui_stays_responsive(
    qtbot: QtBot, window: MainWindow, demo_folder: Path
) -> None:
    with qtbot.waitSignal(window.studies.scan_finished, timeout=30000):
        window.open_path(demo_folder)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)
    uid = image_series(window.studies.snapshot)[0].series_instance_uid
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    seen_loading: list[bool] = []
    window.viewer.state.volume_changed.connect(lambda: seen_loading.append(window.viewer.state.loading))
    with qtbot.waitSignal(window.series.loaded, timeout=30000):
        window.series.open(uid)
    timer.stop()
    assert seen_loading and seen_loading[0], "the volume was shown only after it had loaded"
    assert max(gaps) < 0.25, f"the GUI thread stalled for {max(gaps) * 1000:.0f} ms during the load"


@pytest.mark.corpus
def test_every_corpus_series_opens_with_warnings_shown(qtbot: QtBot, window: MainWindow, shared_corpus: Path) -> None:
    for folder in ("ct_gantry_tilt", "enhanced_mr"):
        with qtbot.waitSignal(window.studies.scan_finished, timeout=60000):
            window.open_path(shared_corpus / folder)
        for series in image_series(window.studies.snapshot):
            with qtbot.waitSignal(window.series.loaded, timeout=30000):
                window.series.open(series.series_instance_uid)
            assert window.viewer.state.volume is not None
            assert window.viewer.views[Plane.AXIAL].base.item.image is not None
        qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=60000)
    text = "\n".join(window.notes.messages())
    assert "Gantry tilt of 18.5°" in text
    assert "Uneven slice spacing" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_screenshot_mode_in_a_subprocess(tmp_path: Path, demo_folder: Path) -> None:
    """The startup smoke test: the real program, headless, saves a PNG and exits 0."""
    target = tmp_path / "shot.png"
    code = (
        "import sys; from pathlib import Path; from meddiag_desktop.config import Settings;"
        "from meddiag_desktop.app import run_gui;"
        f"s = Settings(data_dir=Path({str(tmp_path / 'd')!r}), config_dir=Path({str(tmp_path / 'c')!r}));"
        f"sys.exit(run_gui(s, path=Path({str(demo_folder)!r}), offscreen=True, screenshot=Path({str(target)!r})))"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.stat().st_size > 50_000
    assert time.perf_counter() - started < 30
