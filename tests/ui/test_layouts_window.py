"""Use of the screen on the bundled demo CT (never skipped): layouts in the window, the hanging protocol
across a restart, panels that collapse to a strip, >= 70 % of 1600x900 for the images, usable at 1280x720.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QToolBar, QToolButton

from meddiag_desktop.ui.browser.snapshot import image_series
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.panel_strips import STRIP_WIDTH
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.viewer.layouts import Arrangement, Layout
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings

TIMEOUT = 30000
A, C, S = Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL


def _window(qtbot: QtBot, settings: Settings, width: int, height: int) -> MainWindow:
    window = MainWindow(settings)
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    return window


def _open_demo(qtbot: QtBot, window: MainWindow, folder: Path) -> None:
    """Open the demo folder; its CT opens by itself (largest series) or by a double-click in the browser."""
    with qtbot.waitSignal(window.studies.scan_finished, timeout=TIMEOUT):
        window.open_path(folder)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=TIMEOUT)
    if window.viewer.state.volume is None:
        with qtbot.waitSignal(window.series.loaded, timeout=TIMEOUT):
            window.browser.series_activated.emit(image_series(window.studies.snapshot)[0].series_instance_uid)
        qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=TIMEOUT)
    qtbot.wait(50)


def _image_fraction(window: MainWindow) -> float:
    area = sum(v.width() * v.height() for v in window.viewer.viewports if v.isVisible())
    return area / (window.width() * window.height())


def test_images_get_70_percent_of_a_1600x900_window(qtbot: QtBot, settings: Settings, demo_folder: Path) -> None:
    window = _window(qtbot, settings, 1600, 900)
    try:
        _open_demo(qtbot, window, demo_folder)
        assert window.strips.is_collapsed(window.browser_dock)  # the browser stepped aside to its strip
        assert window.review_dock.isVisible()  # the findings stay in view
        fraction = _image_fraction(window)
        print(f"image area at 1600x900: {fraction:.1%} of the window")
        assert fraction >= 0.70
        window.view_actions["grid"].trigger()
        qtbot.wait(20)
        assert _image_fraction(window) >= 0.70
    finally:
        window.close()


def _inside(outer: QRect, inner: QRect) -> bool:
    return outer.contains(inner.topLeft()) and outer.contains(inner.bottomRight())


def test_usable_at_1280x720(qtbot: QtBot, settings: Settings, demo_folder: Path) -> None:
    window = _window(qtbot, settings, 1280, 720)
    try:
        hint = window.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 720, hint
        _open_demo(qtbot, window, demo_folder)
        assert (window.width(), window.height()) == (1280, 720)
        toolbar = window.findChild(QToolBar, "tools")
        extension = toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
        assert extension is None or not extension.isVisible(), "the toolbar overflowed"
        key_actions = [*window.tool_actions.values(), window.view_actions["cine"]]
        for action in key_actions:
            button = toolbar.widgetForAction(action)
            assert button is not None and button.isVisible(), action.text()
            assert _inside(toolbar.rect(), button.geometry()), action.text()
        for widget in (window.layout_button, window.slab_mode_box, window.stack_box):
            assert widget.isVisible() and _inside(window.rect(), QRect(widget.mapTo(window, widget.rect().topLeft()),
                                                                        widget.size()))  # fmt: skip
        for dock in (window.browser_dock, window.review_dock, window.results_dock, window.history_dock,
                     window.notes_dock):  # fmt: skip
            window.strips.expand(dock)
            dock.raise_()
            qtbot.wait(10)
            top_left = dock.mapTo(window, dock.rect().topLeft())
            assert dock.isVisible() and dock.width() >= 100 and dock.height() >= 60, dock.windowTitle()
            assert _inside(window.rect(), QRect(top_left, dock.size())), dock.windowTitle()
        assert _image_fraction(window) > 0.35  # every panel open, the images still have room
    finally:
        window.close()


def test_panels_collapse_to_a_strip_and_come_back(qtbot: QtBot, settings: Settings, demo_folder: Path) -> None:
    window = _window(qtbot, settings, 1600, 900)
    try:
        _open_demo(qtbot, window, demo_folder)
        viewer_width = window.viewer.width()
        review_width = window.review_dock.width()
        qtbot.mouseClick(window.strips.title_bar(window.review_dock).button, Qt.MouseButton.LeftButton)
        qtbot.wait(20)
        hidden = (window.review_dock, window.results_dock, window.history_dock, window.notes_dock)
        assert not any(d.isVisible() for d in hidden)  # the whole right side: its tabs and the notifications
        button = window.strips.strip_button(window.review_dock)
        assert button is not None and button.isVisible() and button.vertical
        assert button.width() <= STRIP_WIDTH and button.height() > button.width()  # a thin strip, vertical label
        assert window.viewer.width() > viewer_width + 100
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.wait(20)
        assert window.review_dock.isVisible() and not window.strips.is_collapsed(window.results_dock)
        assert abs(window.review_dock.width() - review_width) <= 8
        assert window.strips.strip_button(window.review_dock) is None
        # notifications: collapsed, a new message shows on the strip
        qtbot.mouseClick(window.strips.title_bar(window.notes_dock).button, Qt.MouseButton.LeftButton)
        window.notes.notify(Level.WARNING, "Test warning")
        notes_button = window.strips.strip_button(window.notes_dock)
        assert notes_button is not None and notes_button.text() == "Notifications · 1 new"
        # the browser: a strip while reading, back when a folder is opened
        studies = window.strips.strip_button(window.browser_dock)
        assert studies is not None and studies.isVisible()
        with qtbot.waitSignal(window.studies.scan_finished, timeout=TIMEOUT):
            window.open_path(demo_folder)
            assert window.browser_dock.isVisible()
        qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=TIMEOUT)
    finally:
        window.close()


def test_layout_from_the_toolbar_is_remembered_for_ct_after_a_restart(
    qtbot: QtBot, settings: Settings, demo_folder: Path
) -> None:
    first = _window(qtbot, settings, 1600, 900)
    try:
        _open_demo(qtbot, first, demo_folder)
        assert first.viewer.arrangement == Arrangement.default(Layout.MPR)
        menu = first.layout_button.menu()
        next(a for a in menu.actions() if a.text().startswith("2×2")).trigger()
        assert first.layout_button.text() == "Layout 2×2"
        shown = [v for v in first.viewer.viewports if v.isVisible()]
        assert [v.plane for v in shown] == [A, C, S, A]
        first.viewer.active = shown[3]
        first.view_actions["plane_coronal"].trigger()
        assert [v.plane for v in shown] == [A, C, S, C]
    finally:
        first.close()
    second = _window(qtbot, settings, 1600, 900)
    try:
        assert second.viewer.arrangement == Arrangement.default(Layout.MPR)  # nothing open yet
        _open_demo(qtbot, second, demo_folder)
        assert second.viewer.arrangement == Arrangement(Layout.GRID, (A, C, S, C))
        assert [v.plane for v in second.viewer.viewports if v.isVisible()] == [A, C, S, C]
        assert second.view_actions["grid"].isChecked()
    finally:
        second.close()


@pytest.mark.parametrize("key", ["Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4"])
def test_layout_shortcuts(qtbot: QtBot, settings: Settings, key: str) -> None:
    window = _window(qtbot, settings, 1280, 720)
    try:
        action = next(a for a in window.actions() if a.shortcut().toString() == key)
        action.trigger()
        expected = {"Ctrl+1": 1, "Ctrl+2": 2, "Ctrl+3": 3, "Ctrl+4": 4}[key]
        assert len([v for v in window.viewer.viewports if v.isVisible()]) == expected
    finally:
        window.close()
