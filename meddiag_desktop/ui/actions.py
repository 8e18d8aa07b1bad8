"""Menu and toolbar actions of the viewer (keyboard shortcuts live here, in one table)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from meddiag_desktop.core.slab import DEFAULT_MM, MAX_MM, MIN_MM, SlabMode
from meddiag_desktop.core.window_level import PRESETS
from meddiag_desktop.ui.viewer.slice_view import Tool
from meddiag_desktop.ui.viewer.viewer_widget import Layout

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

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
    actions["layout"] = make_action(window, "Toggle single / 1×3 MPR layout", "L", viewer.toggle_layout)
    actions["single"] = make_action(window, "Single view", "Ctrl+1", lambda: viewer.set_layout(Layout.SINGLE))
    actions["mpr"] = make_action(
        window, "1×3 MPR (axial, coronal, sagittal)", "Ctrl+3", lambda: viewer.set_layout(Layout.MPR)
    )
    menu.addActions([actions["layout"], actions["single"], actions["mpr"]])
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


def build_tools(window: QMainWindow, menu: QMenu, toolbar: QToolBar, viewer: ViewerWidget) -> dict[Tool, QAction]:
    """Exclusive mouse tools, in the Tools menu and on the toolbar."""
    group = QActionGroup(window)
    actions: dict[Tool, QAction] = {}
    for tool, (text, key) in TOOL_KEYS.items():
        action = make_action(window, text, key, partial(viewer.set_tool, tool))
        action.setCheckable(True)
        group.addAction(action)
        menu.addAction(action)
        toolbar.addAction(action)
        actions[tool] = action
    actions[Tool.WINDOW].setChecked(True)
    viewer.tool_changed.connect(lambda tool: actions[tool].setChecked(True))
    return actions


def build_cine_controls(toolbar: QToolBar, viewer: ViewerWidget) -> QSpinBox:
    toolbar.addWidget(QLabel(" Cine fps "))
    fps = QSpinBox()
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
