"""The viewer: one or three slice views sharing a state, plus layout, tools and cine."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from meddiag_desktop.core.window_level import preset_for_key
from meddiag_desktop.ui.viewer.measure_store import MeasurementStore
from meddiag_desktop.ui.viewer.orientation import Plane, native_plane
from meddiag_desktop.ui.viewer.slice_view import SliceView, Tool
from meddiag_desktop.ui.viewer.state import ViewerState

if TYPE_CHECKING:
    from meddiag_desktop.ui.viewer.layers import SliceLayer


class Layout(enum.Enum):
    SINGLE = "single"
    MPR = "mpr"


class ViewerWidget(QWidget):
    """Axial, coronal and sagittal views; ``Layout.SINGLE`` shows only the active one."""

    layout_changed = Signal(object)
    cine_changed = Signal(bool)
    tool_changed = Signal(object)  # Tool
    stroke = Signal(object, float, float, bool, bool)  # view, x mm, y mm, first, last (brush / eraser)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ViewerState(self)
        self.store = MeasurementStore(self)
        self.views = {plane: SliceView(self.state, plane, self.store, self) for plane in Plane}
        self.active = self.views[Plane.AXIAL]
        self.current_layout = Layout.MPR
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        for view in self.views.values():
            box.addWidget(view)
            view.activated.connect(self._on_view_activated)
            view.stroke.connect(self.stroke)
        self._cine = QTimer(self)
        self._cine.timeout.connect(self._on_cine_timeout)
        self.cine_fps = 10
        self.state.volume_changed.connect(self._on_state_volume_changed)

    # -- layout and tools ------------------------------------------------------------------

    def set_layout(self, layout: Layout) -> None:
        self.current_layout = layout
        for view in self.views.values():
            view.setVisible(layout is Layout.MPR or view is self.active)
        QTimer.singleShot(0, self.fit_all)
        self.layout_changed.emit(layout)

    def toggle_layout(self) -> None:
        self.set_layout(Layout.SINGLE if self.current_layout is Layout.MPR else Layout.MPR)

    def set_tool(self, tool: Tool) -> None:
        for view in self.views.values():
            view.tool = tool
        self.tool_changed.emit(tool)

    @property
    def tool(self) -> Tool:
        return self.active.tool

    def add_layers(self, layers: dict[Plane, SliceLayer]) -> None:
        """Add one overlay layer per plane (the review issue's finding masks and heat maps)."""
        for plane, layer in layers.items():
            self.views[plane].add_layer(layer)

    def remove_layers(self, name: str) -> None:
        for view in self.views.values():
            view.remove_layer(name)

    def refresh_layers(self, name: str = "") -> None:
        for view in self.views.values():
            view.refresh_layers(name)

    def _on_view_activated(self, view: SliceView) -> None:
        self.active = view

    def _on_state_volume_changed(self) -> None:
        volume = self.state.volume
        if volume is not None and self.current_layout is Layout.SINGLE:
            self.active = self.views[native_plane(volume.affine)]
            self.set_layout(Layout.SINGLE)

    # -- window / level --------------------------------------------------------------------

    def apply_preset(self, key: int) -> None:
        preset = preset_for_key(key)
        if preset is not None:
            self.state.set_window(preset.window)

    def apply_header_window(self) -> None:
        window = self.state.header_window()
        if window is not None:
            self.state.set_window(window)

    def toggle_invert(self) -> None:
        self.state.set_invert(not self.state.invert)

    def toggle_privacy(self) -> None:
        self.state.set_privacy(not self.state.privacy)

    def reset(self) -> None:
        """Initial window, centred cursor and fitted views."""
        volume = self.state.volume
        if volume is None:
            return
        self.state.set_window(self.state.initial_window(volume))
        self.state.set_invert(volume.display.invert)
        z, y, x = volume.shape
        self.state.set_position(((z - 1) / 2.0, (y - 1) / 2.0, (x - 1) / 2.0))
        self.fit_all()

    def fit_all(self) -> None:
        for view in self.views.values():
            view.fit()

    def one_to_one(self) -> None:
        self.active.one_to_one()

    # -- cine --------------------------------------------------------------------------------

    def set_cine(self, playing: bool) -> None:
        if playing:
            self._cine.start(max(1, round(1000 / max(self.cine_fps, 1))))
        else:
            self._cine.stop()
        self.cine_changed.emit(playing)

    def toggle_cine(self) -> None:
        self.set_cine(not self._cine.isActive())

    def set_cine_fps(self, fps: int) -> None:
        self.cine_fps = max(1, fps)
        if self._cine.isActive():
            self._cine.setInterval(max(1, round(1000 / self.cine_fps)))

    @property
    def cine_playing(self) -> bool:
        return self._cine.isActive()

    def _on_cine_timeout(self) -> None:
        geometry = self.active.geometry
        if geometry is None:
            return
        following = (self.active.slice_index + 1) % max(geometry.slice_count, 1)
        self.active.go_to_slice(following)
