"""Menu and toolbar actions of the viewer (keyboard shortcuts live here, in one table)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QSpinBox, QToolButton

from meddiag_desktop.core.slab import DEFAULT_MM, MAX_MM, MIN_MM, SlabMode
from meddiag_desktop.core.window_level import PRESETS
from meddiag_desktop.ui.viewer.layouts import Layout
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.slice_view import Tool

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtWidgets import QMainWindow, QToolBar

    from meddiag_desktop.ui.viewer.layouts import Arrangement
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget

TOOL_KEYS = {
    Tool.WINDOW: ("Window/level", "W"),
    Tool.CROSSHAIR: ("Crosshair", "C"),
    Tool.LENGTH: ("Length", "M"),
    Tool.ELLIPSE: ("Ellipse ROI", "Shift+E"),  # E edits the selected AI finding's mask
    Tool.RECTANGLE: ("Rectangle ROI", "T"),
    Tool.BRUSH: ("Brush (mask edit)", "B"),
    Tool.ERASER: ("Eraser (mask edit)", "X"),
}
TOOLBAR_TEXT = {Tool.WINDOW: "W/L", Tool.CROSSHAIR: "Cross", Tool.ELLIPSE: "Ellipse", Tool.RECTANGLE: "Rect",
                Tool.BRUSH: "Brush", Tool.ERASER: "Eraser"}  # fmt: skip  # short, so the toolbar fits 1280 px


def short_label(action: QAction, text: str) -> None:
    """``text`` on the toolbar, the full name and key in its tooltip (the menu keeps the full name)."""
    action.setIconText(text)
    key = action.shortcut().toString()
    action.setToolTip(f"{action.text()} ({key})" if key else action.text())


def make_action(window: QMainWindow, text: str, key: str, slot: Callable[[], object]) -> QAction:
    action = QAction(text, window)
    if key:
        action.setShortcut(QKeySequence(key))
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    return action


def key_table(window: QMainWindow) -> str:
    """Every shortcut of the window as a Markdown table (Help ▸ Keys)."""
    shortcuts = [a for a in window.actions() if not a.shortcut().isEmpty()]
    rows = [(a.text().replace("&", ""), a.shortcut().toString()) for a in shortcuts]
    lines = ["| Key | Action |", "|---|---|", *(f"| {key} | {text} |" for text, key in rows)]
    extra = ["| Wheel / ↑ ↓ / PgUp PgDn / Home End | Scroll slices |", "| Ctrl+wheel, right-drag | Zoom |",
             "| Middle-drag, Shift+drag | Pan |",
             "| Ctrl+click (any tool), click (crosshair tool) | Set the crosshair |",
             "| Enter (findings list) | Jump to the finding |"]  # fmt: skip
    return "\n".join([*lines, *extra])


def build_view_menu(window: QMainWindow, menu: QMenu, viewer: ViewerWidget) -> dict[str, QAction]:
    """Layouts, presets, invert, privacy, zoom and cine."""
    actions: dict[str, QAction] = {}
    actions["layout"] = make_action(window, "Toggle one viewport / the last layout", "L", viewer.toggle_layout)
    menu.addAction(actions["layout"])
    layout_menu = menu.addMenu("Layout")
    build_layout_actions(window, layout_menu, viewer, actions)
    actions["layout_menu"] = layout_menu.menuAction()
    build_plane_actions(window, menu.addMenu("Plane of the active viewport"), viewer, actions)
    menu.addSeparator()
    presets = menu.addMenu("Window presets")
    for preset in PRESETS:
        text = f"{preset.name} ({preset.window.center:g}/{preset.window.width:g})"
        apply = partial(viewer.apply_preset, preset.key)
        actions[f"preset{preset.key}"] = make_action(window, text, str(preset.key), apply)
        presets.addAction(actions[f"preset{preset.key}"])
    actions["header_window"] = make_action(window, "Series' own window", "0", viewer.apply_header_window)
    presets.addAction(actions["header_window"])
    for name, text, key, slot in (
        ("invert", "Invert", "I", viewer.toggle_invert),
        ("privacy", "Privacy: hide patient identity", "H", viewer.toggle_privacy),
        ("fit", "Fit to window", "F", viewer.fit_all),
        ("one_to_one", "1:1 pixels", "=", viewer.one_to_one),
        ("reset", "Reset view", "Ctrl+R", viewer.reset),  # R rejects the selected AI finding
        ("cine", "Cine play / pause", "Space", viewer.toggle_cine),
    ):
        actions[name] = make_action(window, text, key, slot)
        menu.addAction(actions[name])
    return actions


LAYOUT_KEYS = {
    Layout.SINGLE: ("single", "1×1: one viewport", "Ctrl+1"),
    Layout.PAIR: ("pair", "1×2: axial and coronal", "Ctrl+2"),
    Layout.MPR: ("mpr", "1×3 MPR: axial, coronal, sagittal", "Ctrl+3"),
    Layout.GRID: ("grid", "2×2: axial, coronal, sagittal and axial", "Ctrl+4"),
}
PLANE_KEYS = {Plane.AXIAL: "Shift+A", Plane.CORONAL: "Shift+C", Plane.SAGITTAL: "Shift+S"}


def build_layout_actions(window: QMainWindow, menu: QMenu, viewer: ViewerWidget, actions: dict[str, QAction]) -> None:
    """One checkable action per layout (exclusive), kept in step with the viewer."""
    group = QActionGroup(window)
    for layout, (name, text, key) in LAYOUT_KEYS.items():
        action = make_action(window, text, key, partial(viewer.set_layout, layout))
        action.setCheckable(True)
        action.setChecked(layout is viewer.current_layout)
        group.addAction(action)
        menu.addAction(action)
        actions[name] = action
    viewer.layout_changed.connect(lambda arrangement: actions[LAYOUT_KEYS[arrangement.layout][0]].setChecked(True))


def build_plane_actions(window: QMainWindow, menu: QMenu, viewer: ViewerWidget, actions: dict[str, QAction]) -> None:
    """Axial, coronal or sagittal in the active viewport (right-click a viewport for its own menu)."""
    for plane, key in PLANE_KEYS.items():
        actions[f"plane_{plane.value}"] = make_action(window, plane.value.capitalize(), key,
                                                      partial(viewer.set_plane, plane))  # fmt: skip
        menu.addAction(actions[f"plane_{plane.value}"])


def build_layout_button(toolbar: QToolBar, menu_action: QAction, viewer: ViewerWidget) -> QToolButton:
    """A toolbar button naming the current layout; it opens the Layout menu (``menu_action``'s)."""
    button = QToolButton()
    menu = menu_action.menu()
    if isinstance(menu, QMenu):
        button.setMenu(menu)
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    button.setToolTip("Viewport layout (Ctrl+1 1×1, Ctrl+2 1×2, Ctrl+3 1×3, Ctrl+4 2×2; L toggles one viewport)")

    def show(arrangement: Arrangement) -> None:
        button.setText(f"Layout {arrangement.layout.label}")

    show(viewer.arrangement)
    viewer.layout_changed.connect(show)
    toolbar.addWidget(button)
    return button


def build_tools(window: QMainWindow, menu: QMenu, toolbar: QToolBar, viewer: ViewerWidget) -> dict[Tool, QAction]:
    """Exclusive mouse tools, in the Tools menu and on the toolbar."""
    group = QActionGroup(window)
    actions: dict[Tool, QAction] = {}
    for tool, (text, key) in TOOL_KEYS.items():
        action = make_action(window, text, key, partial(viewer.set_tool, tool))
        action.setCheckable(True)
        short_label(action, TOOLBAR_TEXT.get(tool, text))
        group.addAction(action)
        menu.addAction(action)
        toolbar.addAction(action)
        actions[tool] = action
    actions[Tool.WINDOW].setChecked(True)
    viewer.tool_changed.connect(lambda tool: actions[tool].setChecked(True))
    return actions


def build_cine_controls(toolbar: QToolBar, viewer: ViewerWidget) -> QSpinBox:
    toolbar.addWidget(QLabel(" fps "))
    fps = QSpinBox()
    fps.setToolTip("Cine speed, frames per second")
    fps.setRange(1, 60)
    fps.setValue(viewer.cine_fps)
    fps.valueChanged.connect(viewer.set_cine_fps)
    toolbar.addWidget(fps)
    return fps


SLAB_MODES = ((SlabMode.OFF, "Off"), (SlabMode.MIP, "MIP"), (SlabMode.MEAN, "Mean"))


def build_slab_controls(toolbar: QToolBar, viewer: ViewerWidget) -> tuple[QComboBox, QSpinBox]:
    """Thick slab on every view: off / MIP / mean, 5-20 mm (display only; read-outs stay the voxels')."""
    toolbar.addWidget(QLabel(" Slab "))
    mode = QComboBox()
    for value, text in SLAB_MODES:
        mode.addItem(text, value)
    mode.setToolTip("Thick slab: maximum (MIP) or mean of the slices around the plane, for display only")
    thickness = QSpinBox()
    thickness.setRange(round(MIN_MM), round(MAX_MM))
    thickness.setSuffix(" mm")
    thickness.setValue(round(DEFAULT_MM))
    thickness.setToolTip("Slab thickness")

    def apply(_value: object = None) -> None:
        viewer.state.set_slab(mode.currentData(), float(thickness.value()))

    mode.currentIndexChanged.connect(apply)
    thickness.valueChanged.connect(apply)
    toolbar.addWidget(mode)
    toolbar.addWidget(thickness)
    return mode, thickness


def build_stack_selector(toolbar: QToolBar) -> QComboBox:
    toolbar.addWidget(QLabel(" Stack "))
    combo = QComboBox()
    combo.setEnabled(False)
    combo.setMinimumContentsLength(14)
    toolbar.addWidget(combo)
    return combo
