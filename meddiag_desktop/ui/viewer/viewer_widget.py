"""The viewer: up to four viewports sharing one state (volume, cursor, window), plus layout, tools and cine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QGridLayout, QMenu, QWidget

from meddiag_desktop.core.window_level import preset_for_key
from meddiag_desktop.ui.viewer.layouts import MAX_VIEWPORTS, Arrangement, Layout
from meddiag_desktop.ui.viewer.measure_store import MeasurementStore
from meddiag_desktop.ui.viewer.orientation import Plane, native_plane
from meddiag_desktop.ui.viewer.slice_view import SliceView, Tool
from meddiag_desktop.ui.viewer.state import ViewerState

if TYPE_CHECKING:
    from PySide6.QtCore import QPoint

__all__ = ["Layout", "ViewerWidget"]  # Layout lives in layouts.py; importing it from here still works

_START_PLANES = (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL, Plane.AXIAL)


class ViewerWidget(QWidget):
    """Viewports in a 1×1, 1×2, 2×2 or 1×3 grid, each showing its own plane of one shared ``ViewerState``.

    ``viewports`` holds all four (hidden ones too, so overlay layers reach a viewport before it
    is shown); ``views[plane]`` is the viewport showing ``plane``, a shown one first.
    """

    layout_changed = Signal(object)  # Arrangement: the layout or a viewport's plane changed
    cine_changed = Signal(bool)
    tool_changed = Signal(object)  # Tool
    stroke = Signal(object, float, float, bool, bool)  # view, x mm, y mm, first, last (brush / eraser)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ViewerState(self)
        self.store = MeasurementStore(self)
        self.viewports = [SliceView(self.state, plane, self.store, self) for plane in _START_PLANES[:MAX_VIEWPORTS]]
        self.active = self.viewports[0]
        self.arrangement = Arrangement.default(Layout.MPR)
        self._planes_by_layout: dict[Layout, tuple[Plane, ...]] = {}
        self._last_multi = Layout.MPR
        self._menu: QMenu | None = None
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        for view in self.viewports:
            view.activated.connect(self._on_view_activated)
            view.stroke.connect(self.stroke)
            view.menu_requested.connect(self._on_view_menu_requested)
        self._place_viewports()
        self._cine = QTimer(self)
        self._cine.timeout.connect(self._on_cine_timeout)
        self.cine_fps = 10
        self.state.volume_changed.connect(self._on_state_volume_changed)

    # -- viewports and layout --------------------------------------------------------------

    @property
    def views(self) -> dict[Plane, SliceView]:
        """The viewport showing each plane, preferring shown viewports (a plane none shows is absent)."""
        found: dict[Plane, SliceView] = {}
        for view in [*self.shown_viewports(), *self.viewports]:
            found.setdefault(view.plane, view)
        return found

    @property
    def current_layout(self) -> Layout:
        return self.arrangement.layout

    def shown_viewports(self) -> list[SliceView]:
        return self.viewports[: self.arrangement.layout.count]

    def set_arrangement(self, arrangement: Arrangement) -> None:
        """Show ``arrangement``: its layout, and its planes in the viewports row by row."""
        self.arrangement = arrangement
        self._planes_by_layout[arrangement.layout] = arrangement.planes
        if arrangement.layout is not Layout.SINGLE:
            self._last_multi = arrangement.layout
        for view, plane in zip(self.viewports, arrangement.planes, strict=False):
            view.set_plane(plane)
        self._place_viewports()
        if self.active not in self.shown_viewports():
            self.active = self.viewports[0]
        QTimer.singleShot(0, self.fit_all)
        self.layout_changed.emit(arrangement)

    def set_layout(self, layout: Layout) -> None:
        """Switch layout: one viewport shows the active viewport's plane; more get the planes they had last."""
        if layout is Layout.SINGLE:
            planes: tuple[Plane, ...] = (self.active.plane,)
        else:
            planes = self._planes_by_layout.get(layout, Arrangement.default(layout).planes)
        self.set_arrangement(Arrangement(layout, planes))

    def toggle_layout(self) -> None:
        """One viewport, or back to the last multi-viewport layout."""
        self.set_layout(self._last_multi if self.current_layout is Layout.SINGLE else Layout.SINGLE)

    def set_plane(self, plane: Plane, view: SliceView | None = None) -> None:
        """Show ``plane`` in ``view`` (default: the active viewport)."""
        index = self.viewports.index(view or self.active)
        if index < self.current_layout.count:
            self.set_arrangement(self.arrangement.with_plane(index, plane))

    def plane_menu(self, view: SliceView) -> QMenu:
        """The viewport's menu: which plane it shows."""
        menu = QMenu(self)
        group = QActionGroup(menu)
        for plane in Plane:
            action = menu.addAction(plane.value.capitalize())
            action.setCheckable(True)
            action.setChecked(plane is view.plane)
            action.triggered.connect(lambda _checked=False, p=plane: self.set_plane(p, view))
            group.addAction(action)
        return menu

    def _place_viewports(self) -> None:
        layout = self.arrangement.layout
        for view in self.viewports:
            self._grid.removeWidget(view)
        for index, view in enumerate(self.viewports):
            shown = index < layout.count
            if shown:
                self._grid.addWidget(view, *layout.cell(index))
            view.setVisible(shown)
        rows, cols = layout.grid
        for i in range(MAX_VIEWPORTS):
            self._grid.setRowStretch(i, 1 if i < rows else 0)
            self._grid.setColumnStretch(i, 1 if i < cols else 0)

    def set_tool(self, tool: Tool) -> None:
        for view in self.viewports:
            view.tool = tool
        self.tool_changed.emit(tool)

    @property
    def tool(self) -> Tool:
        return self.active.tool

    def remove_layers(self, name: str) -> None:
        for view in self.viewports:
            view.remove_layer(name)

    def refresh_layers(self, name: str = "") -> None:
        for view in self.viewports:
            view.refresh_layers(name)

    def _on_view_activated(self, view: SliceView) -> None:
        self.active = view

    def _on_view_menu_requested(self, view: SliceView, position: QPoint) -> None:
        if self._menu is not None:
            self._menu.deleteLater()
        self._menu = self.plane_menu(view)
        self._menu.popup(position)

    def _on_state_volume_changed(self) -> None:
        volume = self.state.volume
        if volume is not None and self.current_layout is Layout.SINGLE:
            self.set_arrangement(Arrangement.default(Layout.SINGLE, native_plane(volume.affine)))

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
        for view in self.viewports:
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
