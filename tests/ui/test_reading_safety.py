"""What misled a radiologist (issue 11), driven like a user: a click that moved the crosshair,
blocky reformats, and a corrupt image shown as valid."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import Qt
from ui_helpers import axial_volume, click, to_widget

from meddiag_desktop.core.volume import GeometryWarning, WarningKind
from meddiag_desktop.core.window_level import WindowLevel
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.viewer.corner_info import PIXEL_BADGE
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.slice_view import Tool
from meddiag_desktop.ui.viewer.state import SeriesInfo
from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget
from tests.io.corrupt_files import BAD, write_noise_slice

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot


INFO = SeriesInfo(series_uid="1.2.3", description="Synthetic", modality="CT")
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def viewer(qtbot: QtBot) -> ViewerWidget:
    widget = ViewerWidget()
    qtbot.addWidget(widget)
    widget.resize(1200, 420)
    widget.show()
    qtbot.waitExposed(widget)
    widget.state.set_volume(axial_volume(), INFO)
    widget.fit_all()
    qtbot.wait(10)
    return widget


# -- a plain click in W/L mode leaves every plane where it is ---------------------------------


def test_plain_click_with_window_tool_keeps_every_plane(viewer: ViewerWidget) -> None:
    coronal, axial = viewer.views[Plane.CORONAL], viewer.views[Plane.AXIAL]
    assert viewer.tool is Tool.WINDOW
    before = viewer.state.position
    click(coronal, to_widget(coronal, 20.0, (19 - 15 + 0.5) * 5.0))
    assert viewer.state.position == before and axial.slice_index == 10
    assert viewer.active is coronal  # the click still picks the view to act on


def test_ctrl_click_or_crosshair_tool_moves_the_point(viewer: ViewerWidget) -> None:
    coronal, axial = viewer.views[Plane.CORONAL], viewer.views[Plane.AXIAL]
    click(coronal, to_widget(coronal, 20.0, (19 - 15 + 0.5) * 5.0), CTRL)
    assert axial.slice_index == 15
    viewer.set_tool(Tool.CROSSHAIR)
    click(coronal, to_widget(coronal, 20.0, (19 - 4 + 0.5) * 5.0))
    assert axial.slice_index == 4


def test_measurement_tool_click_does_not_move_the_point(viewer: ViewerWidget) -> None:
    viewer.set_tool(Tool.LENGTH)
    sagittal = viewer.views[Plane.SAGITTAL]
    before = viewer.state.position
    click(sagittal, to_widget(sagittal, 5.0, 30.0))
    assert viewer.state.position == before


# -- reformats of a thick series are interpolated for display, read-outs stay voxels --------


def test_coronal_of_5mm_series_is_interpolated_between_slices(viewer: ViewerWidget) -> None:
    coronal = viewer.views[Plane.CORONAL]  # 20 slices of 5 mm, 0.8 mm columns: 6 sub-rows a slice
    viewer.state.set_window(WindowLevel(0.0, 2400.0))  # the whole -1000..+939 ramp, unclipped
    shown = np.asarray(coronal.base.item.image)
    assert shown.shape == (20 * 6, 50)
    column = shown[:, 25].astype(int)
    assert len(np.unique(column)) > 40  # a ramp, not 20 blocks of 6 equal rows
    assert np.all(np.diff(column) <= 0)  # superior at the top: values fall down the screen, smoothly
    axial = np.asarray(viewer.views[Plane.AXIAL].base.item.image)
    assert axial.shape == (40, 50)  # the acquired plane is shown as is


def test_values_under_the_cursor_stay_the_voxels(viewer: ViewerWidget) -> None:
    coronal = viewer.views[Plane.CORONAL]
    # the boundary between slices z=15 and z=14 (y_mm = 5 * 5) is where interpolation would blend
    point = to_widget(coronal, 0.8 * 7.5, (19 - 15 + 0.9) * 5.0)
    coronal.scene().sigMouseMoved.emit(coronal.mapToScene(point))
    y = round(viewer.state.position[1])
    assert coronal.corners.text("bl").startswith(f"{100 * 15 + y - 1000:.0f} HU")
    assert coronal.plane_values().shape == (20, 50)


# -- a corrupt image says so, on the image ----------------------------------------------------


def test_banner_and_badge_only_when_pixels_are_suspect(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    assert not axial.banner.item.isVisible() and PIXEL_BADGE not in axial.corners.text("br")
    volume = viewer.state.volume
    assert volume is not None
    warning = GeometryWarning(WarningKind.IMPLAUSIBLE_PIXELS, "Pixel data probably corrupt in 1 of 20 images.")
    viewer.state.finish_loading(replace(volume, warnings=(warning,)))
    for view in viewer.views.values():
        assert view.banner.item.isVisible()
        assert "probably corrupt: not a valid image" in view.banner.text()
        assert PIXEL_BADGE in view.corners.text("br")
    geometry = GeometryWarning(WarningKind.UNEVEN_SPACING, "gap")
    viewer.state.finish_loading(replace(volume, warnings=(geometry,)))
    assert not axial.banner.item.isVisible() and "1 geometry warning" in axial.corners.text("br")
    blank = GeometryWarning(WarningKind.UNREADABLE_IMAGES, "2 of 20 images could not be decoded")
    viewer.state.finish_loading(replace(volume, warnings=(blank,)))
    assert axial.banner.item.isVisible() and "could not be decoded" in axial.banner.text()


def _open_only_series(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(window.studies.scan_finished, timeout=30000):
        window.open_path(folder)
    uid = _first_image_series(window)
    with qtbot.waitSignal(window.series.loaded, timeout=30000):
        window.series.open(uid)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)


def _first_image_series(window: MainWindow) -> str:
    from meddiag_desktop.ui.browser.snapshot import image_series

    return image_series(window.studies.snapshot)[0].series_instance_uid


def _assert_flagged(window: MainWindow) -> None:
    axial = window.viewer.views[Plane.AXIAL]
    assert axial.banner.item.isVisible() and "not a valid image" in axial.banner.text()
    assert PIXEL_BADGE in axial.corners.text("br")
    assert "pixel data probably corrupt" in window.status_label.text()
    assert any("probably corrupt" in m for m in window.notes.messages())


def test_crafted_corrupt_demo_slice_shows_the_banner(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    _open_only_series(qtbot, window, write_noise_slice(tmp_path / "noise").parent)
    _assert_flagged(window)


@pytest.mark.corpus
def test_corpus_bad_jpeg_lossless_shows_the_banner(
    qtbot: QtBot, window: MainWindow, shared_corpus: Path, tmp_path: Path
) -> None:
    source = shared_corpus / BAD
    if not source.is_file():
        pytest.skip(f"{BAD} is not in the corpus")
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(source, folder)
    _open_only_series(qtbot, window, folder)
    _assert_flagged(window)
