"""Drawing and editing measurements in one slice view (items come from ``measure_items``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meddiag_desktop.ui.viewer.measure_items import make_label, make_roi, roi_points, set_roi_points
from meddiag_desktop.ui.viewer.measure_model import MeasureKind, Measurement, with_stats

if TYPE_CHECKING:
    import pyqtgraph as pg
    from PySide6.QtCore import QPointF

    from meddiag_desktop.ui.viewer.slice_view import SliceView, Tool

_KIND_OF_TOOL = {"length": MeasureKind.LENGTH, "ellipse": MeasureKind.ELLIPSE, "rectangle": MeasureKind.RECTANGLE}


class MeasureTool:
    """Shows the store's measurements of the current slice as editable ROIs."""

    def __init__(self, view: SliceView) -> None:
        self._view = view
        self._items: list[pg.GraphicsObject] = []
        self._drawing: pg.ROI | None = None

    def drag(self, tool: Tool, start: QPointF, now: QPointF, is_start: bool, is_finish: bool) -> None:
        kind = _KIND_OF_TOOL[tool.value]
        p0, p1 = (start.x(), start.y()), (now.x(), now.y())
        if is_start or self._drawing is None:
            self._drawing = make_roi(kind, p0, p1)
            self._view.box.addItem(self._drawing)
        set_roi_points(self._drawing, kind, p0, p1)
        if is_finish:
            self._view.box.removeItem(self._drawing)
            self._drawing = None
            self.add(kind, p0, p1)

    def add(self, kind: MeasureKind, p0: tuple[float, float], p1: tuple[float, float]) -> Measurement | None:
        """Store a new measurement on the current slice (ignored when it has no size)."""
        if abs(p1[0] - p0[0]) < 1e-6 and abs(p1[1] - p0[1]) < 1e-6:
            return None
        store = self._view.store
        measurement = Measurement(
            number=store.next_number(),
            kind=kind,
            plane=self._view.plane,
            slice_index=self._view.slice_index,
            p0=p0,
            p1=p1,
            units=self._units(),
        )
        measurement = self._with_stats(measurement)
        store.add(measurement)
        return measurement

    def rebuild(self) -> None:
        """Replace the shown items with the store's measurements of this slice."""
        for item in self._items:
            self._view.box.removeItem(item)
        self._items.clear()
        if self._view.geometry is None:
            return
        for measurement in self._view.store.on_slice(self._view.plane, self._view.slice_index):
            self._show(measurement)

    def _show(self, measurement: Measurement) -> None:
        roi = make_roi(measurement.kind, measurement.p0, measurement.p1)
        label = make_label(measurement)
        roi.sigRegionChangeFinished.connect(lambda r: self._on_roi_changed(measurement, r))
        for item in (roi, label):
            self._view.box.addItem(item)
            self._items.append(item)

    def _on_roi_changed(self, measurement: Measurement, roi: pg.ROI) -> None:
        p0, p1 = roi_points(roi, measurement.kind)
        self._view.store.update(self._with_stats(measurement.moved(p0, p1)))

    def _with_stats(self, measurement: Measurement) -> Measurement:
        geometry = self._view.geometry
        if geometry is None:
            return measurement
        spacing_hv = (geometry.spacing[geometry.axes.h_axis], geometry.spacing[geometry.axes.v_axis])
        return with_stats(measurement, self._view.plane_values(), spacing_hv)

    def _units(self) -> str:
        volume = self._view.state.volume
        return volume.display.units if volume is not None else ""
