"""pyqtgraph ROI items for measurements (handles, dragging and hit-testing come from pyqtgraph)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QPointF

from meddiag_desktop.ui.viewer.measure_model import MeasureKind
from meddiag_desktop.ui.viewer.overlays import outlined

if TYPE_CHECKING:
    from meddiag_desktop.ui.viewer.measure_model import Measurement

PEN = pg.mkPen((80, 220, 255), width=2)
HOVER_PEN = pg.mkPen((255, 255, 120), width=2)


def make_roi(kind: MeasureKind, p0: tuple[float, float], p1: tuple[float, float]) -> pg.ROI:
    """A new ROI item for ``kind`` spanning ``p0``..``p1`` (view mm)."""
    if kind is MeasureKind.LENGTH:
        return pg.LineSegmentROI([p0, p1], pen=PEN, hoverPen=HOVER_PEN)
    x0, y0 = min(p0[0], p1[0]), min(p0[1], p1[1])
    size = (max(abs(p1[0] - p0[0]), 1e-3), max(abs(p1[1] - p0[1]), 1e-3))
    if kind is MeasureKind.RECTANGLE:
        roi = pg.ROI((x0, y0), size, pen=PEN, hoverPen=HOVER_PEN)
    else:
        roi = pg.EllipseROI((x0, y0), size, pen=PEN, hoverPen=HOVER_PEN)
        for handle in list(roi.getHandles()):
            roi.removeHandle(handle)
    roi.addScaleHandle((1, 1), (0, 0))
    roi.addScaleHandle((0, 0), (1, 1))
    return roi


def set_roi_points(roi: pg.ROI, kind: MeasureKind, p0: tuple[float, float], p1: tuple[float, float]) -> None:
    """Move ``roi`` to span ``p0``..``p1`` while the user is still drawing it."""
    if kind is MeasureKind.LENGTH:
        handles = roi.getHandles()
        roi.movePoint(handles[0], QPointF(*p0), finish=False)
        roi.movePoint(handles[1], QPointF(*p1), finish=False)
        return
    x0, y0 = min(p0[0], p1[0]), min(p0[1], p1[1])
    roi.setPos((x0, y0), update=False, finish=False)
    roi.setSize((max(abs(p1[0] - p0[0]), 1e-3), max(abs(p1[1] - p0[1]), 1e-3)), finish=False)


def roi_points(roi: pg.ROI, kind: MeasureKind) -> tuple[tuple[float, float], tuple[float, float]]:
    """The ROI's line ends or box corners in view mm."""
    if kind is MeasureKind.LENGTH:
        a, b = (roi.mapToParent(h.pos()) for h in roi.getHandles()[:2])
        return (a.x(), a.y()), (b.x(), b.y())
    pos, size = roi.pos(), roi.size()
    return (pos.x(), pos.y()), (pos.x() + size.x(), pos.y() + size.y())


def label_text(measurement: Measurement) -> str:
    """The short text drawn next to a measurement."""
    if measurement.kind is MeasureKind.LENGTH:
        return f"{measurement.length_mm:.1f} mm"
    stats = measurement.stats
    if stats is None or stats.count == 0:
        return ""
    unit = f" {measurement.units}" if measurement.units else ""
    return f"{stats.mean:.1f}{unit} ± {stats.sd:.1f}\n{stats.area_mm2:.0f} mm²"


def make_label(measurement: Measurement) -> pg.TextItem:
    label = pg.TextItem(label_text(measurement), color=(80, 220, 255), anchor=(0, 0))
    label.setPos(max(measurement.p0[0], measurement.p1[0]), max(measurement.p0[1], measurement.p1[1]))
    outlined(label)
    return label
