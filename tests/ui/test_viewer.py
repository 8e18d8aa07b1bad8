"""The viewer driven like a user, on a synthetic axial CT with known spacing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import Qt
from ui_helpers import axial_volume, click, drag, to_widget, wheel

from meddiag_desktop.core.window_level import WindowLevel
from meddiag_desktop.ui.viewer.layers import HeatMapLayer, LabelMaskLayer
from meddiag_desktop.ui.viewer.measure_model import MeasureKind
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.slice_view import Tool
from meddiag_desktop.ui.viewer.state import SeriesInfo
from meddiag_desktop.ui.viewer.viewer_widget import Layout, ViewerWidget

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

INFO = SeriesInfo(
    series_uid="1.2.3",
    description="Synthetic",
    patient_name="DOE JANE",
    patient_id="PID-42",
    birth_date="19500101",
    study_date="20240102",
    modality="CT",
)


@pytest.fixture
def viewer(qtbot: QtBot) -> ViewerWidget:
    widget = ViewerWidget()
    qtbot.addWidget(widget)
    widget.resize(1200, 420)
    widget.show()
    qtbot.waitExposed(widget)
    widget.state.set_volume(axial_volume(), INFO)
    widget.store.set_series("1.2.3")
    widget.fit_all()
    qtbot.wait(10)
    return widget


def test_opens_centred_with_header_window_and_correct_aspect(viewer: ViewerWidget) -> None:
    axial, coronal = viewer.views[Plane.AXIAL], viewer.views[Plane.CORONAL]
    assert axial.slice_index == 10 and axial.geometry is not None
    assert viewer.state.window == WindowLevel(40.0, 400.0)
    assert axial.geometry.size_mm == pytest.approx((50 * 0.8, 40 * 0.5))
    assert coronal.geometry is not None and coronal.geometry.size_mm == pytest.approx((50 * 0.8, 20 * 5.0))
    assert axial.letters.letters() == ("R", "L", "A", "P")
    assert coronal.letters.letters() == ("R", "L", "S", "I")
    assert viewer.views[Plane.SAGITTAL].letters.letters() == ("A", "P", "S", "I")


def test_wheel_and_keys_scroll_slices(viewer: ViewerWidget, qtbot: QtBot) -> None:
    axial = viewer.views[Plane.AXIAL]
    centre = to_widget(axial, 20.0, 10.0)
    wheel(axial, centre, -1)
    assert axial.slice_index == 9
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key.Key_Down)
    qtbot.keyClick(axial, Qt.Key.Key_PageDown)
    assert axial.slice_index == 20 - 1  # 9 + 1 + 10, clamped to the last slice
    qtbot.keyClick(axial, Qt.Key.Key_Home)
    assert axial.slice_index == 0
    qtbot.keyClick(axial, Qt.Key.Key_End)
    assert axial.slice_index == 19
    assert "Axial  20/20" in axial.corners.text("tr")


def test_ctrl_wheel_zooms_and_reset_fits(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    before = axial.zoom_factor()
    wheel(axial, to_widget(axial, 20.0, 10.0), 3, Qt.KeyboardModifier.ControlModifier)
    assert axial.zoom_factor() > before * 1.1
    assert axial.slice_index == 10
    viewer.one_to_one() if viewer.active is axial else axial.one_to_one()
    assert axial.zoom_factor() == pytest.approx(1.0, rel=0.02)
    viewer.reset()
    assert axial.zoom_factor() == pytest.approx(before, rel=0.02)


def test_left_drag_changes_window_level(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    start = to_widget(axial, 20.0, 10.0)
    drag(axial, start, start + type(start)(40, 25))
    window = viewer.state.window
    assert window.width > 400.0 and window.center > 40.0
    assert "W " in axial.corners.text("tr")


def test_shift_drag_pans_without_changing_window(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    before = axial.box.viewRect()
    start = to_widget(axial, 20.0, 10.0)
    drag(axial, start, start + type(start)(50, 0), modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert viewer.state.window == WindowLevel(40.0, 400.0)
    assert axial.box.viewRect().left() < before.left() - 1.0


def test_presets_invert_and_header_window_keys(viewer: ViewerWidget, qtbot: QtBot) -> None:
    from meddiag_desktop.ui.main_window import MainWindow  # noqa: F401  (actions are tested there too)

    viewer.apply_preset(1)
    assert viewer.state.window == WindowLevel(-600.0, 1500.0)
    viewer.apply_preset(3)
    assert viewer.state.window == WindowLevel(400.0, 1800.0)
    viewer.apply_header_window()
    assert viewer.state.window == WindowLevel(40.0, 400.0)
    axial = viewer.views[Plane.AXIAL]
    plain = np.array(axial.base.item.image, copy=True)
    viewer.toggle_invert()
    assert np.all(np.abs(plain.astype(int) + axial.base.item.image.astype(int) - 255) <= 1)


def test_measure_distance_on_known_spacing(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    viewer.set_tool(Tool.LENGTH)
    # 30 columns (0.8 mm) to the right and 20 rows (0.5 mm) down: sqrt(24² + 10²) = 26 mm
    start = to_widget(axial, 0.8 * 10.5, 0.5 * 5.5)
    end = to_widget(axial, 0.8 * 40.5, 0.5 * 25.5)
    drag(axial, start, end)
    [measurement] = viewer.store.current()
    assert measurement.kind is MeasureKind.LENGTH
    pixel_mm = axial.box.viewPixelSize()[0]
    assert measurement.length_mm == pytest.approx(26.0, abs=2 * pixel_mm)
    assert measurement.slice_index == 10


def test_ellipse_and_rectangle_statistics(viewer: ViewerWidget, qtbot: QtBot) -> None:
    axial = viewer.views[Plane.AXIAL]
    viewer.set_tool(Tool.RECTANGLE)
    drag(axial, to_widget(axial, 4.0, 4.0), to_widget(axial, 12.0, 6.0))
    viewer.set_tool(Tool.ELLIPSE)
    drag(axial, to_widget(axial, 20.0, 5.0), to_widget(axial, 36.0, 15.0))
    rect, ellipse = viewer.store.current()
    assert rect.stats is not None and ellipse.stats is not None
    # value = 100 * z + y - 1000 on slice 10; rows 8..11 (y mm 4..6) -> mean of y in that range
    assert rect.stats.mean == pytest.approx(100 * 10 - 1000 + 9.5, abs=1.0)
    assert rect.stats.minimum >= 0 + 8 - 1 and rect.stats.area_mm2 > 0
    assert ellipse.stats.count > 0 and ellipse.stats.area_mm2 == pytest.approx(np.pi * 8 * 5, rel=0.15)
    assert "HU" in ellipse.summary()
    qtbot.waitUntil(lambda: len(axial.measure._items) == 4)


def test_measurements_are_kept_per_series_and_deletable(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    viewer.set_tool(Tool.LENGTH)
    drag(axial, to_widget(axial, 2.0, 2.0), to_widget(axial, 10.0, 2.0))
    [first] = viewer.store.current()
    viewer.store.set_series("other")
    assert viewer.store.current() == []
    viewer.store.set_series("1.2.3")
    assert viewer.store.current() == [first]
    viewer.store.remove(first.number)
    assert viewer.store.current() == []


def test_ctrl_click_in_coronal_moves_the_axial_slice(viewer: ViewerWidget) -> None:
    coronal, axial = viewer.views[Plane.CORONAL], viewer.views[Plane.AXIAL]
    # coronal: superior at the top; slice z=15 is at y_mm = (19 - 15 + 0.5) * 5
    click(coronal, to_widget(coronal, 20.0, (19 - 15 + 0.5) * 5.0), Qt.KeyboardModifier.ControlModifier)
    assert axial.slice_index == 15
    sagittal = viewer.views[Plane.SAGITTAL]
    assert sagittal.geometry is not None
    assert sagittal.h_line.value() == pytest.approx(sagittal.geometry.to_display(viewer.state.position)[1])
    assert sagittal.h_line.value() == pytest.approx((19 - 15 + 0.5) * 5.0, abs=0.5)


def test_crosshair_tool_drag_sets_point(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    viewer.set_tool(Tool.CROSSHAIR)
    drag(axial, to_widget(axial, 5.0, 5.0), to_widget(axial, 0.8 * 30.5, 0.5 * 12.5))
    _z, y, x = viewer.state.position
    assert (round(y), round(x)) == (12, 30)
    assert viewer.views[Plane.CORONAL].slice_index == 12
    assert viewer.views[Plane.SAGITTAL].slice_index == 30


def test_layout_switch(viewer: ViewerWidget, qtbot: QtBot) -> None:
    viewer.set_layout(Layout.SINGLE)
    visible = [v.plane for v in viewer.viewports if v.isVisible()]
    assert visible == [Plane.AXIAL]
    viewer.toggle_layout()
    assert [v.plane for v in viewer.viewports if v.isVisible()] == [Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL]


def test_privacy_hides_identity(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    assert "DOE JANE" in axial.corners.text("tl") and "PID-42" in axial.corners.text("tl")
    viewer.toggle_privacy()
    text = axial.corners.text("tl")
    assert "DOE" not in text and "PID-42" not in text and "1950" not in text
    assert "Synthetic" in text


def test_cursor_readout_shows_value_and_lps(viewer: ViewerWidget) -> None:
    axial = viewer.views[Plane.AXIAL]
    point = to_widget(axial, 0.8 * 7.5, 0.5 * 3.5)  # voxel (10, 3, 7)
    axial.scene().sigMouseMoved.emit(axial.mapToScene(point))
    text = axial.corners.text("bl")
    assert text.startswith(f"{100 * 10 + 3 - 1000:.0f} HU")
    assert "LPS -14.4, -8.5, 0.0 mm" in text  # origin (-20, -10, -50) + (7 * 0.8, 3 * 0.5, 10 * 5)


def test_cine_advances_slices(viewer: ViewerWidget, qtbot: QtBot) -> None:
    axial = viewer.views[Plane.AXIAL]
    viewer.active = axial
    viewer.set_cine_fps(50)
    viewer.set_cine(True)
    qtbot.waitUntil(lambda: axial.slice_index != 10, timeout=2000)
    viewer.set_cine(False)
    assert not viewer.cine_playing


def test_overlay_layers_render_with_the_slice(viewer: ViewerWidget) -> None:
    volume = viewer.state.volume
    assert volume is not None
    labels = np.zeros(volume.shape, np.uint8)
    labels[10, 5:10, 5:10] = 1
    heat = np.zeros(volume.shape, np.float32)
    heat[10] = 1.0
    axial = viewer.views[Plane.AXIAL]
    axial.add_layer(LabelMaskLayer("mask", labels))
    axial.add_layer(HeatMapLayer("heat", heat, 0.0, 1.0))
    assert axial.layers[0].item.image[7, 7] == 1
    assert axial.layers[1].item.image.max() == 255
    axial.go_to_slice(11)
    assert axial.layers[0].item.image.max() == 0
    assert axial.layers[1].item.image.max() == 0
