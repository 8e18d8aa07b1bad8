"""Thick slab / MIP, legible overlay text and honest read-outs (issue 11), on the bundled demo CT."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication
from ui_helpers import to_widget

from meddiag_desktop.core.slab import SlabMode
from meddiag_desktop.core.window_level import WindowLevel, apply_window
from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.viewer.measure_model import MeasureKind
from meddiag_desktop.ui.viewer.orientation import Plane, extract_slice, lps_of_index

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyqtgraph as pg
    from PySide6.QtCore import QPoint
    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.slice_view import SliceView

DEMO = __import__("pathlib").Path(__file__).resolve().parents[2] / "resources" / "demo"
LUNG = WindowLevel(-600.0, 1500.0)


@pytest.fixture
def window(qtbot: QtBot, settings: Settings) -> Iterator[MainWindow]:
    """The main window with the bundled demo CT (64 x 512 x 512, 5 mm slices) fully loaded."""
    assert any(DEMO.rglob("*.dcm")), f"the bundled demo is missing from {DEMO}"
    main = MainWindow(settings)
    main.resize(1400, 800)
    main.show()
    qtbot.waitExposed(main)
    with qtbot.waitSignal(main.studies.scan_finished, timeout=30000):
        main.open_path(DEMO)
    with qtbot.waitSignal(main.series.loaded, timeout=30000):
        main.series.open(image_series(main.studies.snapshot)[0].series_instance_uid)
    qtbot.waitUntil(lambda: not main.viewer.state.loading and main.runner.active_count == 0, timeout=30000)
    yield main
    main.close()


def _hover(view: SliceView, pos: QPoint) -> None:
    viewport, none = view.viewport(), Qt.MouseButton.NoButton
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        none,
        none,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


def _set_slab(window: MainWindow, mode: SlabMode, mm: int) -> None:
    """Through the toolbar controls, as a user would."""
    window.slab_mm_box.setValue(mm)
    window.slab_mode_box.setCurrentIndex(window.slab_mode_box.findData(mode))


# -- thick slab / MIP -------------------------------------------------------------------------


def test_axial_mip_over_lung_is_the_slab_maximum_and_readout_stays_the_voxel(qtbot: QtBot, window: MainWindow) -> None:
    state, axial = window.viewer.state, window.viewer.views[Plane.AXIAL]
    volume = state.volume
    assert volume is not None and volume.shape == (64, 512, 512) and volume.spacing[0] == pytest.approx(5.0)
    state.set_window(LUNG)
    axial.go_to_slice(40)
    plain = np.asarray(axial.base.item.image).copy()
    _set_slab(window, SlabMode.MIP, 10)
    assert (state.slab_mode, state.slab_mm) == (SlabMode.MIP, 10.0)
    slab = np.max(volume.array[39:42], axis=0)  # 10 mm of 5 mm slices: the plane and one each side
    expected = apply_window(extract_slice(slab[np.newaxis], axial.geometry.axes, 0), LUNG)  # type: ignore[union-attr]
    shown = np.asarray(axial.base.item.image)
    np.testing.assert_array_equal(shown, expected)
    assert (shown != plain).mean() > 0.05  # vessels through the slab: a visibly different picture
    assert "MIP 10 mm" in axial.corners.text("tr")
    # the HU under the cursor is the plane's own voxel, not the slab's maximum
    plane = axial.plane_values()
    brighter = slab > np.asarray(volume.array[40]) + 200
    around = np.ones_like(brighter)  # brighter in the slab over a whole 5 x 5 patch
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            around &= np.roll(brighter, (dr, dc), axis=(0, 1))
    rows, cols = np.nonzero(around)
    r, c = int(rows[len(rows) // 2]), int(cols[len(cols) // 2])
    assert plane[r, c] == volume.array[40, r, c]  # the axial demo plane is not flipped
    x_mm, y_mm = axial.geometry.to_display((40.0, float(r), float(c)))  # type: ignore[union-attr]
    _hover(axial, to_widget(axial, x_mm, y_mm))
    z, y, x = (round(i) for i in axial.geometry.to_index(axial._hover.x(), axial._hover.y(), 40))  # type: ignore[union-attr]
    assert z == 40 and abs(y - r) <= 2 and abs(x - c) <= 2
    assert axial.corners.text("bl").startswith(f"{float(volume.array[40, y, x]):.0f} HU\n")
    assert float(slab[y, x]) > float(volume.array[40, y, x]) + 200  # the MIP shows something else there


def test_mean_slab_on_a_reformat_and_off_again(qtbot: QtBot, window: MainWindow) -> None:
    state, coronal = window.viewer.state, window.viewer.views[Plane.CORONAL]
    volume = state.volume
    assert volume is not None and coronal.geometry is not None
    before = np.asarray(coronal.base.item.image).copy()
    _set_slab(window, SlabMode.MEAN, 20)
    half = state.slab_half(coronal.geometry.axes.slice_axis)
    assert half * 2 + 1 == pytest.approx(20.0 / volume.spacing[1], abs=1.0)
    assert "Mean 20 mm" in coronal.corners.text("tr") and "Mean 20 mm" in window.viewer.views[Plane.AXIAL].corners.text(
        "tr"
    )
    assert (np.asarray(coronal.base.item.image) != before).mean() > 0.05
    _set_slab(window, SlabMode.OFF, 20)
    np.testing.assert_array_equal(np.asarray(coronal.base.item.image), before)
    assert "Mean" not in coronal.corners.text("tr") and "MIP" not in coronal.corners.text("tr")


# -- legible overlay text ---------------------------------------------------------------------


def _dark_and_light(view: SliceView, item: pg.GraphicsObject) -> tuple[int, int]:
    """Darkest and lightest luminance inside ``item``'s area of the rendered view."""
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ratio = image.devicePixelRatio()
    rect = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = pixels[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    y0, y1 = max(0, int(rect.top() * ratio)), int((rect.bottom() + 1) * ratio)
    x0, x1 = max(0, int(rect.left() * ratio)), int((rect.right() + 1) * ratio)
    luminance = rgb[y0:y1, x0:x1].astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    assert luminance.size, f"{item} is not on screen"
    return int(luminance.min()), int(luminance.max())


def test_overlay_text_has_a_dark_outline_over_bright_tissue(qtbot: QtBot, window: MainWindow) -> None:
    state, axial = window.viewer.state, window.viewer.views[Plane.AXIAL]
    axial.measure.add(MeasureKind.LENGTH, (150.0, 200.0), (260.0, 200.0))
    state.set_window(WindowLevel(-2000.0, 1.0))  # every voxel above the window: the image is all white
    qtbot.waitUntil(lambda: len(axial.measure._items) == 2)
    qtbot.wait(20)
    label = axial.measure._items[1]
    items = {
        "corner text": axial.corners.items["tr"],
        "orientation letter": axial.letters.items["left"],
        "scale bar": axial.scale_bar._line,
        "scale bar label": axial.scale_bar._label,
        "measurement label": label,
    }
    for name, item in items.items():
        darkest, lightest = _dark_and_light(axial, item)
        assert lightest > 200, f"{name}: not drawn over white?"
        assert darkest < 60, f"{name}: light on white with no dark outline (darkest {darkest})"


def test_preset_name_beside_the_window(qtbot: QtBot, window: MainWindow) -> None:
    window.view_actions["preset1"].trigger()
    for view in window.viewer.views.values():
        assert "W 1500 / L -600  Lung" in view.corners.text("tr")
    window.view_actions["preset3"].trigger()
    assert "W 1800 / L 400  Bone" in window.viewer.views[Plane.AXIAL].corners.text("tr")
    window.viewer.state.set_window(WindowLevel(10.0, 123.0))
    text = window.viewer.views[Plane.AXIAL].corners.text("tr")
    assert "W 123 / L 10" in text and not any(name in text for name in ("Lung", "Bone", "Mediastinum"))


# -- read-outs --------------------------------------------------------------------------------


def test_slice_number_and_position_agree_in_every_view(qtbot: QtBot, window: MainWindow) -> None:
    state = window.viewer.state
    volume = state.volume
    assert volume is not None
    for position in ((31.5, 255.5, 255.5), (40.4, 100.6, 300.5), (12.6, 400.4, 80.5)):
        state.set_position(position)
        for view in window.viewer.views.values():
            assert view.geometry is not None
            text = view.corners.text("tr")
            number = int(re.search(r"  (\d+)/\d+", text).group(1))  # type: ignore[union-attr]
            axis_name, mm = re.search(r"^([XYZ]) (-?\d+\.\d) mm$", text, re.MULTILINE).groups()  # type: ignore[union-attr]
            index = list(position)
            index[view.geometry.axes.slice_axis] = number - 1
            lps = lps_of_index(volume, (index[0], index[1], index[2]))
            assert float(mm) == pytest.approx(lps["XYZ".index(axis_name)], abs=0.051), (view.plane, position, text)


def test_hu_readout_clears_when_the_cursor_leaves_the_view(qtbot: QtBot, window: MainWindow) -> None:
    axial = window.viewer.views[Plane.AXIAL]
    _hover(axial, to_widget(axial, 200.0, 200.0))
    assert "HU" in axial.corners.text("bl")
    QApplication.sendEvent(axial, QEvent(QEvent.Type.Leave))
    assert axial.corners.text("bl") == ""
    qtbot.wait(20)
    _hover(axial, to_widget(axial, 180.0, 190.0))  # back in: the read-out returns
    assert "HU" in axial.corners.text("bl")
