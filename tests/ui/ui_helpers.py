"""Helpers for the UI tests: synthetic volumes and user-like mouse gestures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from meddiag_desktop.core.volume import DisplayHints, Volume

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from meddiag_desktop.ui import workers
    from meddiag_desktop.ui.viewer.slice_view import SliceView

MOVE_INTERVAL_MS = 15


def axial_volume(
    shape: tuple[int, int, int] = (20, 40, 50), spacing: tuple[float, float, float] = (5.0, 0.5, 0.8), hu: bool = True
) -> Volume:
    """A synthetic axial CT: value = 100 * z + y (so every slice and row is recognisable)."""
    z, y, _x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    array = (100.0 * z + y).astype(np.float32) - 1000.0
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    affine[2, 0], affine[1, 1], affine[0, 2] = spacing[0], spacing[1], spacing[2]
    affine[:3, 3] = (-20.0, -10.0, -50.0)
    display = DisplayHints(windows=((40.0, 400.0),), units="HU" if hu else "")
    return Volume(array=array, affine=affine, series_instance_uid="1.2.3", modality="CT", display=display)


def wait_for_workers(qtbot: QtBot, runner: workers.TaskRunner, timeout: int = 20000) -> None:
    qtbot.waitUntil(lambda: runner.active_count == 0, timeout=timeout)


def to_widget(view: SliceView, x_mm: float, y_mm: float) -> QPoint:
    """Viewport pixel of a display-mm point."""
    scene = view.box.mapViewToScene(QPointF(x_mm, y_mm))
    return view.mapFromScene(scene)


def _send(
    view: SliceView,
    kind: QEvent.Type,
    pos: QPoint,
    button: Qt.MouseButton,
    buttons: Qt.MouseButton,
    modifiers: Qt.KeyboardModifier,
) -> None:
    viewport = view.viewport()
    event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(viewport, event)


def drag(
    view: SliceView,
    start: QPoint,
    end: QPoint,
    button: Qt.MouseButton = Qt.MouseButton.LeftButton,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
    steps: int = 6,
) -> None:
    """Press, move in ``steps`` and release, as a hand would (pyqtgraph drops moves < 10 ms apart)."""
    none = Qt.MouseButton.NoButton
    _send(view, QEvent.Type.MouseMove, start, none, none, modifiers)
    _send(view, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        point = start + (end - start) * (i / steps)
        QTest.qWait(MOVE_INTERVAL_MS)
        _send(view, QEvent.Type.MouseMove, point, none, button, modifiers)
    QTest.qWait(MOVE_INTERVAL_MS)
    _send(view, QEvent.Type.MouseButtonRelease, end, button, none, modifiers)


def click(view: SliceView, pos: QPoint, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    none, left = Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton
    _send(view, QEvent.Type.MouseButtonPress, pos, left, left, modifiers)
    _send(view, QEvent.Type.MouseButtonRelease, pos, left, none, modifiers)


def wheel(
    view: SliceView, pos: QPoint, notches: int, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    viewport = view.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)
