"""The radiologist's review on the demo CT, driven by keys and mouse, then a restart and the audit."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from review_helpers import fixture_models, open_demo_series, settle, wait_saved
from ui_helpers import drag, to_widget

from meddiag_desktop.review.model import Decision, RejectReason, ReviewStatus, SignOffSummary
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.dialogs import review_dialogs
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.overlay_layers import EDIT_LAYER, MASK_LAYER
from meddiag_desktop.ui.review.review_overlays import HeatSource
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.slice_view import SliceView


@pytest.fixture
def review_settings(settings: Settings, tmp_path: Path) -> Settings:
    models = fixture_models(tmp_path / "models")
    return replace(settings, builtin_models_dir=models, inference_threads=1, reviewer_display_name="Dr Test")


def _window(qtbot: QtBot, settings: Settings) -> MainWindow:
    window = MainWindow(settings)
    window.resize(1600, 900)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


@pytest.fixture
def windows(qtbot: QtBot) -> Iterator[list[MainWindow]]:
    opened: list[MainWindow] = []
    yield opened
    for window in opened:
        window.close()


def _press(qtbot: QtBot, window: MainWindow, key: Qt.Key, modifier: Qt.KeyboardModifier | None = None) -> None:
    """A key press in the axial view, as the radiologist types while looking at the images."""
    axial = window.viewer.views[Plane.AXIAL]
    axial.setFocus()
    qtbot.keyClick(axial, key, modifier or Qt.KeyboardModifier.NoModifier)


def _paint_at(view: SliceView, index: tuple[float, float, float], dx_mm: float) -> None:
    """A brush stroke on ``view`` through the display point of ``index``, ``dx_mm`` long."""
    assert view.geometry is not None
    x, y = view.geometry.to_display(index)
    start = to_widget(view, x, y)
    drag(view, start, start + QPoint(max(2, round(dx_mm / view.box.viewPixelSize()[0])), 0))


def _overlay_at(view: SliceView, index: tuple[float, float, float], radius: int = 0) -> int:
    """The strongest mask overlay pixel within ``radius`` pixels of ``index`` (outlines are hollow)."""
    layer = next(la for la in view.layers if la.name == MASK_LAYER)
    assert view.geometry is not None
    x, y = view.geometry.to_display(index)
    image = layer.item.image
    column = int(x / view.geometry.spacing[view.geometry.axes.h_axis])
    row = int(y / view.geometry.spacing[view.geometry.axes.v_axis])
    return int(image[max(0, row - radius) : row + radius + 1, max(0, column - radius) : column + radius + 1].max())


def test_run_decide_edit_add_sign_restart_audit(
    qtbot: QtBot, review_settings: Settings, demo_folder: Path, windows: list[MainWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    window = _window(qtbot, review_settings)
    windows.append(window)
    screen = window.review
    uid = open_demo_series(qtbot, window, demo_folder)

    # Run AI in the background; the images stay usable meanwhile.
    with qtbot.waitSignal(screen.analysis.finished, timeout=60000):
        qtbot.mouseClick(screen.panel.run_button, Qt.MouseButton.LeftButton)
        assert screen.analysis.busy and screen.panel.cancel_button.isEnabled()
        window.viewer.views[Plane.AXIAL].scroll_slices(1)
    settle(qtbot, window)  # the review opens once the store writer has it
    state = screen.review.state
    assert state is not None and len(state.findings) >= 3
    assert screen.panel.table.rowCount() == len(state.findings)
    first = state.findings[0]
    assert screen.review.selected == first.id
    axes = screen.overlays.recist_axes()
    assert axes is not None and first.finding.bbox[0] <= axes.slice_index < first.finding.bbox[3]
    _, y, x = first.finding.centroid_index  # its centre in-plane, on the slice where its RECIST axes are drawn
    shown_at = (float(axes.slice_index), y, x)
    assert window.viewer.state.position == pytest.approx(shown_at)
    for view in window.viewer.views.values():  # the overlay sits on the finding in all three views
        assert _overlay_at(view, shown_at, radius=40) > 0
    assert screen.panel.colour_bar.isVisible()

    # Accept the first (A), reject the second with a reason (R).
    _press(qtbot, window, Qt.Key.Key_A)
    assert screen.review.state is not None
    assert screen.review.state.findings[0].decision is Decision.ACCEPTED
    second = screen.review.state.findings[1].id
    assert screen.review.selected == second  # moved on to the next undecided finding
    monkeypatch.setattr(review_dialogs, "ask_reject", lambda _parent, _fid: (RejectReason.ARTEFACT, "motion"))
    _press(qtbot, window, Qt.Key.Key_R)
    assert screen.review.state.finding(second).decision is Decision.REJECTED

    # Edit the third with the brush (E), undo and redo a stroke, save (Ctrl+Enter).
    third = screen.review.state.findings[2]
    screen.review.select(third.id)
    _press(qtbot, window, Qt.Key.Key_E)
    editor = screen.editing.editor
    assert editor is not None and screen.panel.edit_bar.isVisible()
    axial = window.viewer.views[Plane.AXIAL]
    _paint_at(axial, third.finding.centroid_index, 15.0)
    grown = int(editor.mask.sum())
    assert grown > third.finding.mask.sum()
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert int(editor.mask.sum()) == third.finding.mask.sum()
    screen.editing.redo()
    assert int(editor.mask.sum()) == grown
    _press(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    edited = screen.review.state.finding(third.id)
    assert edited.decision is Decision.EDITED and edited.mask_version == 1
    assert int(edited.finding.mask.sum()) == grown
    assert not any(la.name == EDIT_LAYER for la in axial.layers)

    # Add a missed lesion by drawing it (D) on the coronal view.
    _press(qtbot, window, Qt.Key.Key_D)
    coronal = window.viewer.views[Plane.CORONAL]
    _paint_at(coronal, (32.0, 300.0, 150.0), 10.0)
    screen.editing.save()
    added = screen.review.state.finding("R1")
    assert added.decision is Decision.ADDED and added.origin == "radiologist"

    # Decide the rest, sign off (Ctrl+Shift+S): read-only afterwards.
    while screen.review.state.undecided:
        screen.review.select(screen.review.state.undecided[0])
        _press(qtbot, window, Qt.Key.Key_A)
    summaries: list[list[str]] = []

    def confirm(_parent: object, summary: SignOffSummary, *_args: object) -> bool:
        summaries.append(summary.lines())
        return True

    monkeypatch.setattr(review_dialogs, "confirm_sign_off", confirm)
    _press(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_saved(window)
    assert summaries and "Lesions you added: 1" in summaries[0] and "Undecided: 0" in summaries[0]
    signed = screen.review.state
    assert signed.status is ReviewStatus.SIGNED and signed.signoff is not None
    assert signed.signoff.display_name == "Dr Test"
    assert not screen.panel.accept_button.isEnabled() and screen.panel.amend_button.isEnabled()
    window.close()

    # Restart: the same review comes back exactly.
    again = _window(qtbot, review_settings)
    windows.append(again)
    assert open_demo_series(qtbot, again, demo_folder) == uid
    restored = again.review.review.state
    assert restored is not None and restored.status is ReviewStatus.SIGNED
    assert [(f.id, f.decision, f.mask_version) for f in restored.findings] == [
        (f.id, f.decision, f.mask_version) for f in signed.findings
    ]
    assert np.array_equal(restored.finding(third.id).finding.mask, edited.finding.mask)
    assert "SIGNED by Dr Test" in again.review.panel.status.text()
    assert HeatSource.PROBABILITY in again.review.overlays.available_heat()  # heat map restored too
    again.close()

    # The audit verifies; changing one row is detected.
    with ReviewStore(review_settings.review_store_path, review_settings.config_dir) as store:
        report = store.verify_audit()
        assert report.ok, report.reason
        events = [row[0] for row in store.db.execute("SELECT event FROM audit ORDER BY seq")]
    for event in ("ai_run", "finding_accepted", "finding_rejected", "finding_edited", "finding_added", "signed_off"):
        assert event in events
    db = sqlite3.connect(review_settings.review_store_path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET details = ? WHERE seq = 3", ('{"tampered":true}',))
    db.commit()
    db.close()
    with ReviewStore(review_settings.review_store_path, review_settings.config_dir) as store:
        assert store.verify_audit().first_broken == 3
