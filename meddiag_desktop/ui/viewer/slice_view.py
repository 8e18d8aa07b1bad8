"""One plane of the open volume: pyqtgraph ViewBox in millimetres, layer stack, overlays.

Mouse: wheel scrolls slices, Ctrl+wheel zooms, right-drag zooms, middle-drag or Shift+drag
pans, left-drag runs the active tool (window/level, crosshair, or a measurement), and a right
click asks for the viewport menu (its plane). A left click sets the crosshair point shared by
every view only with the crosshair tool or with Ctrl held: a plain click with any other tool
leaves every view's plane where it is.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal

from meddiag_desktop.core.window_level import WindowLevel, drag_window
from meddiag_desktop.ui.viewer import corner_info
from meddiag_desktop.ui.viewer.layers import GrayscaleLayer
from meddiag_desktop.ui.viewer.measure_tool import MeasureTool
from meddiag_desktop.ui.viewer.orientation import Plane, screen_letters, view_geometry
from meddiag_desktop.ui.viewer.overlays import Banner, CornerText, OrientationLetters, ScaleBar

if TYPE_CHECKING:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QWidget

    from meddiag_desktop.ui.viewer.layers import SliceLayer
    from meddiag_desktop.ui.viewer.measure_store import MeasurementStore
    from meddiag_desktop.ui.viewer.orientation import ViewGeometry
    from meddiag_desktop.ui.viewer.state import ViewerState

PLANE_COLORS = {Plane.AXIAL: (230, 80, 80), Plane.CORONAL: (80, 200, 90), Plane.SAGITTAL: (230, 200, 60)}
LOAD_REFRESH_MS = 120


class Tool(enum.Enum):
    WINDOW = "window"
    CROSSHAIR = "crosshair"
    LENGTH = "length"
    ELLIPSE = "ellipse"
    RECTANGLE = "rectangle"
    BRUSH = "brush"
    ERASER = "eraser"


PAINT_TOOLS = (Tool.BRUSH, Tool.ERASER)
POINT_MODIFIER = Qt.KeyboardModifier.ControlModifier  # Ctrl+click sets the crosshair with any tool


class _SliceViewBox(pg.ViewBox):  # type: ignore[misc]
    """A ViewBox whose mouse gestures are a radiology viewer's, not a plot's."""

    def __init__(self, view: SliceView) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02)
        self._view = view

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        self._view.scroll_slices(1 if ev.delta() > 0 else -1)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        button = ev.button()
        if button == Qt.MouseButton.RightButton:
            super().mouseDragEvent(ev, axis)
        elif button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            ev.accept()
            delta = self.mapToView(ev.lastPos()) - self.mapToView(ev.pos())
            self.translateBy(x=delta.x(), y=delta.y())
        elif button == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.tool_drag(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos()), ev)

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.click(self.mapToView(ev.pos()), ev.modifiers())
        elif ev.button() == Qt.MouseButton.RightButton:  # a right click, not a right-drag zoom
            ev.accept()
            self._view.activated.emit(self._view)
            self._view.menu_requested.emit(self._view, ev.screenPos().toPoint())


class SliceView(pg.GraphicsView):  # type: ignore[misc]
    """Shows one plane of ``state.volume``; all views share one ``ViewerState``."""

    activated = Signal(object)  # self, when the user interacts with it
    stroke = Signal(object, float, float, bool, bool)  # self, x mm, y mm, first, last (brush / eraser)
    menu_requested = Signal(object, QPoint)  # self, global position (right click: choose the plane)

    def __init__(
        self, state: ViewerState, plane: Plane, store: MeasurementStore, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, background="k")
        self.state, self.plane, self.store = state, plane, store
        self.tool = Tool.WINDOW
        self.geometry: ViewGeometry | None = None
        self.slice_index = 0
        self._drag_start_window: WindowLevel | None = None
        self.box = _SliceViewBox(self)
        self.setCentralItem(self.box)
        self.base = GrayscaleLayer()
        self.layers: list[SliceLayer] = []
        self.box.addItem(self.base.item)
        self._build_crosshair()
        self.corners = CornerText(self.box)
        self.letters = OrientationLetters(self.box, self.corners)
        self.scale_bar = ScaleBar(self.box)
        self.banner = Banner(self.box)
        self.measure = MeasureTool(self)
        self._hover: QPointF | None = None
        self._load_timer = QTimer(self, singleShot=True, interval=LOAD_REFRESH_MS)
        self._load_timer.timeout.connect(self._on_load_timer_timeout)
        self._rebuild_timer = QTimer(self, singleShot=True, interval=0)
        self._rebuild_timer.timeout.connect(self._on_rebuild_timer_timeout)
        self._connect_state()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _build_crosshair(self) -> None:
        self.v_line = pg.InfiniteLine(angle=90, movable=False)
        self.h_line = pg.InfiniteLine(angle=0, movable=False)
        for line in (self.v_line, self.h_line):
            line.setZValue(500)
            self.box.addItem(line, ignoreBounds=True)

    def _connect_state(self) -> None:
        self.state.volume_changed.connect(self._on_state_volume_changed)
        self.state.position_changed.connect(self._on_state_position_changed)
        self.state.display_changed.connect(self._on_state_display_changed)
        self.state.slice_loaded.connect(self._on_state_slice_loaded)
        self.store.changed.connect(self._on_store_changed)
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self.box.sigRangeChanged.connect(self._on_box_range_changed)

    # -- layers --------------------------------------------------------------------------

    def add_layer(self, layer: SliceLayer) -> None:
        """Add an overlay layer (label mask, heat map) above the image."""
        self.layers.append(layer)
        self.box.addItem(layer.item)
        self._render_layers()
        self._place(layer.item)

    def remove_layer(self, name: str) -> None:
        for layer in [la for la in self.layers if la.name == name]:
            self.box.removeItem(layer.item)
            self.layers.remove(layer)

    def refresh_layers(self, name: str = "") -> None:
        """Redraw the overlay layers (all, or those called ``name``) after their data changed."""
        if self.geometry is not None:
            for layer in (la for la in self.layers if not name or la.name == name):
                layer.render(self.state, self.geometry.axes, self.slice_index)

    def _place(self, item: pg.ImageItem) -> None:
        if self.geometry is not None:
            width, height = self.geometry.size_mm
            item.setRect(QRectF(0.0, 0.0, width, height))

    def _render_layers(self) -> None:
        if self.geometry is None:
            return
        self.base.render(self.state, self.geometry.axes, self.slice_index)
        for layer in self.layers:
            layer.render(self.state, self.geometry.axes, self.slice_index)

    # -- state changes -------------------------------------------------------------------

    def _on_state_volume_changed(self) -> None:
        for layer in list(self.layers):
            self.remove_layer(layer.name)
        self.base.item.clear()
        self._show_plane()

    def set_plane(self, plane: Plane) -> None:
        """Show another plane of the same volume; overlay layers stay and follow the new plane."""
        if plane is not self.plane:
            self.plane = plane
            self._show_plane()

    def _show_plane(self) -> None:
        volume = self.state.volume
        self.geometry = None if volume is None else view_geometry(volume, self.plane)
        if volume is None or self.geometry is None:
            return
        self.slice_index = round(self.state.position[self.geometry.axes.slice_axis])
        self._set_letters()
        color = PLANE_COLORS[self.plane]
        for line in (self.v_line, self.h_line):
            line.setPen(pg.mkPen((*color, 150), width=1))
        self._render_layers()
        for item in (self.base.item, *(layer.item for layer in self.layers)):
            self._place(item)
        self.fit()
        self.measure.rebuild()
        self._on_state_position_changed()

    def _set_letters(self) -> None:
        volume = self.state.volume
        if volume is None or self.geometry is None or corner_info.unpositioned(volume):
            self.letters.set_letters("", "", "", "")
            return
        self.letters.set_letters(*screen_letters(volume.affine, self.geometry.axes))

    def _on_state_position_changed(self) -> None:
        if self.geometry is None:
            return
        index = round(self.state.position[self.geometry.axes.slice_axis])
        if index != self.slice_index:
            self.slice_index = index
            self._render_layers()
            self.measure.rebuild()
        x, y = self.geometry.to_display(self.state.position)
        self.v_line.setPos(x)
        self.h_line.setPos(y)
        self._update_text()

    def _on_state_display_changed(self) -> None:
        if self.geometry is not None:
            self.base.render(self.state, self.geometry.axes, self.slice_index)
        self._update_text()

    def _on_state_slice_loaded(self, z: int) -> None:
        if self.geometry is None:
            return
        if self.geometry.axes.slice_axis == 0:
            if abs(z - self.slice_index) <= self.state.slab_half(0):  # a slice of the shown slab
                self._render_layers()
        elif not self._load_timer.isActive():
            self._load_timer.start()

    def _on_load_timer_timeout(self) -> None:
        self._render_layers()

    def _on_store_changed(self) -> None:
        self._rebuild_timer.start()  # not now: the ROI that changed may still be on the stack

    def _on_rebuild_timer_timeout(self) -> None:
        self.measure.rebuild()

    def _on_box_range_changed(self) -> None:
        self._update_text()

    def _on_scene_mouse_moved(self, scene_pos: QPointF) -> None:
        self._hover = self.box.mapSceneToView(scene_pos)
        self._update_text()

    def leaveEvent(self, ev: QEvent) -> None:
        """The cursor left the view: its read-out no longer describes anything under it."""
        super().leaveEvent(ev)
        self._hover = None
        self._update_text()

    # -- navigation ----------------------------------------------------------------------

    def scroll_slices(self, steps: int) -> None:
        if self.geometry is not None:
            self.activated.emit(self)
            self.state.step_slice(self.geometry.axes.slice_axis, steps)

    def go_to_slice(self, index: int) -> None:
        if self.geometry is not None:
            position = list(self.state.position)
            position[self.geometry.axes.slice_axis] = index
            self.state.set_position((position[0], position[1], position[2]))

    def set_point(self, point: QPointF) -> None:
        """Move the shared crosshair point to ``point`` (view mm) on this slice."""
        if self.geometry is None:
            return
        self.activated.emit(self)
        self.state.set_position(self.geometry.to_index(point.x(), point.y(), self.slice_index))

    def click(self, point: QPointF, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        """A left click: one brush dab with a paint tool; with the crosshair tool or Ctrl held,
        move the crosshair point; otherwise only make this the active view."""
        if self.tool in PAINT_TOOLS and self.geometry is not None:
            self.activated.emit(self)
            self.stroke.emit(self, point.x(), point.y(), True, True)
        elif self.tool is Tool.CROSSHAIR or modifiers & POINT_MODIFIER:
            self.set_point(point)
        else:
            self.activated.emit(self)

    def fit(self) -> None:
        if self.geometry is not None:
            width, height = self.geometry.size_mm
            self.box.setRange(QRectF(0.0, 0.0, width, height), padding=0.02)

    def one_to_one(self) -> None:
        """One screen pixel per voxel (horizontally), centred where the view is now."""
        if self.geometry is None:
            return
        centre = self.box.viewRect().center()
        spacing = self.geometry.spacing[self.geometry.axes.h_axis]
        half_w = self.box.width() * spacing / 2.0
        half_h = self.box.height() * spacing / 2.0
        self.box.setRange(QRectF(centre.x() - half_w, centre.y() - half_h, 2 * half_w, 2 * half_h), padding=0)

    def zoom_factor(self) -> float:
        """Screen pixels per voxel along the horizontal axis."""
        if self.geometry is None:
            return 1.0
        mm_per_px = float(self.box.viewPixelSize()[0])
        return self.geometry.spacing[self.geometry.axes.h_axis] / mm_per_px if mm_per_px > 0 else 1.0

    def keyPressEvent(self, ev: QKeyEvent) -> None:
        steps = corner_info.slice_steps_for_key(ev.key(), self.geometry.slice_count if self.geometry else 0)
        if steps is not None and self.geometry is not None:
            self.activated.emit(self)
            if ev.key() in (Qt.Key.Key_Home, Qt.Key.Key_End):
                self.go_to_slice(0 if ev.key() == Qt.Key.Key_Home else self.geometry.slice_count - 1)
            else:
                self.state.step_slice(self.geometry.axes.slice_axis, steps)
            ev.accept()
            return
        super().keyPressEvent(ev)

    # -- tools ---------------------------------------------------------------------------

    def tool_drag(self, start: QPointF, now: QPointF, ev: Any) -> None:
        self.activated.emit(self)
        if self.tool is Tool.WINDOW:
            self._drag_window(ev)
        elif self.tool is Tool.CROSSHAIR:
            self.set_point(now)
        elif self.tool in PAINT_TOOLS:
            self.stroke.emit(self, now.x(), now.y(), bool(ev.isStart()), bool(ev.isFinish()))
        else:
            self.measure.drag(self.tool, start, now, ev.isStart(), ev.isFinish())

    def _drag_window(self, ev: Any) -> None:
        if ev.isStart() or self._drag_start_window is None:
            self._drag_start_window = self.state.window
        delta = ev.screenPos() - ev.buttonDownScreenPos()
        self.state.set_window(drag_window(self._drag_start_window, delta.x(), delta.y(), self.state.value_range))
        if ev.isFinish():
            self._drag_start_window = None

    # -- text ----------------------------------------------------------------------------

    def _update_text(self) -> None:
        volume = self.state.volume
        if volume is None or self.geometry is None:
            for corner in ("tl", "tr", "bl", "br"):
                self.corners.set_text(corner, "")
            self.banner.set_text("")
            return
        self.corners.set_text("tl", corner_info.identity_text(self.state))
        self.corners.set_text("tr", corner_info.slice_text(self, volume))
        self.corners.set_text("bl", corner_info.cursor_text(self, volume, self._hover))
        self.corners.set_text("br", corner_info.status_text(self.state))
        self.banner.set_text(corner_info.banner_text(volume))

    def plane_values(self) -> np.ndarray[Any, np.dtype[Any]]:
        """Raw values of the displayed plane (rows = screen down, cols = screen right)."""
        if self.geometry is None:
            return np.zeros((0, 0), dtype=np.float32)
        return self.base.current_plane(self.state, self.geometry.axes, self.slice_index)
