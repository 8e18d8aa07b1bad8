"""The review flow on the demo CT: keys wherever focus is, U for the next undecided, undo until sign-off, edits.

Issue 11 ("Review flow"). Every decision goes through the store writer; ``settle`` waits for it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from review_helpers import fixture_models, open_demo_series, settle, wait_saved
from ui_helpers import drag, to_widget

from meddiag_desktop.review.model import Decision, RejectReason, ReviewStatus
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.review.undo import UNDO_EVENT
from meddiag_desktop.ui.controllers.review_controller import NO_REVIEW
from meddiag_desktop.ui.dialogs import review_dialogs
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.findings_table import COLUMNS, RECOMPUTED, RECOMPUTING
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from PySide6.QtWidgets import QWidget
    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.review.model import ReviewState

NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def review_window(qtbot: QtBot, settings: Settings, tmp_path: Path, demo_folder: Path) -> Iterator[MainWindow]:
    models = fixture_models(tmp_path / "models")
    main = MainWindow(replace(settings, builtin_models_dir=models, inference_threads=1,
                              reviewer_display_name="Dr Test"))  # fmt: skip
    main.resize(1600, 900)
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    open_demo_series(qtbot, main, demo_folder)
    yield main
    main.close()


def _run_ai(qtbot: QtBot, window: MainWindow) -> ReviewState:
    with qtbot.waitSignal(window.review.analysis.finished, timeout=60000):
        window.review_actions["run"].trigger()
    settle(qtbot, window)
    state = window.review.review.state
    assert state is not None and len(state.findings) >= 3
    return state


def _key(
    qtbot: QtBot, window: MainWindow, widget: QWidget, key: Qt.Key, modifier: Qt.KeyboardModifier = NO_MOD
) -> None:
    """Focus ``widget`` (in whatever window it lives), press ``key`` there, wait until the store has the result."""
    widget.window().activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget.window(), timeout=5000)
    widget.setFocus()
    qtbot.keyClick(widget, key, modifier)
    settle(qtbot, window)


def _state(window: MainWindow) -> ReviewState:
    state = window.review.review.state
    assert state is not None
    return state


def _decisions(window: MainWindow) -> list[Decision]:
    return [f.decision for f in _state(window).findings]


def _axial(window: MainWindow) -> QWidget:
    return window.viewer.views[Plane.AXIAL]


def test_keys_work_wherever_focus_is_but_never_while_typing(
    qtbot: QtBot, review_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = review_window
    # No review yet: A does nothing but say why (notification area and status bar).
    _key(qtbot, window, window.browser, Qt.Key.Key_A)
    assert window.review.review.state is None
    assert any(NO_REVIEW in m for m in window.notes.messages())
    assert NO_REVIEW in window.statusBar().currentMessage()

    state = _run_ai(qtbot, window)
    first = state.findings[0].id
    assert window.review.review.selected == first

    # The browser floated onto its own window (a second screen): A there accepts the selected finding.
    window.browser_dock.setFloating(True)
    window.browser_dock.show()
    qtbot.waitExposed(window.browser_dock)
    _key(qtbot, window, window.browser, Qt.Key.Key_A)
    assert _state(window).finding(first).decision is Decision.ACCEPTED

    # Typing "a" into the browser's search box is typing, not a decision.
    before = _decisions(window)
    search = window.browser_panel.search
    _key(qtbot, window, search, Qt.Key.Key_A)
    _key(qtbot, window, search, Qt.Key.Key_U)
    assert search.text() == "au"
    assert _decisions(window) == before
    search.clear()
    window.browser_dock.setFloating(False)

    # The AI statistics window is a window of its own: R there still reaches the review.
    monkeypatch.setattr(review_dialogs, "ask_reject", lambda _parent, _fid: (RejectReason.ARTEFACT, ""))
    window.review_actions["stats"].trigger()
    dialog = window.review.oversight.stats_dialog
    assert dialog is not None and dialog.isWindow()
    qtbot.waitExposed(dialog)
    rejected = window.review.review.selected
    _key(qtbot, window, dialog, Qt.Key.Key_R)
    assert _state(window).finding(rejected).decision is Decision.REJECTED
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)
    dialog.close()

    # On the images, U jumps to the next undecided finding, A accepts it.
    window.review.review.select(first)
    _key(qtbot, window, _axial(window), Qt.Key.Key_U)
    second = window.review.review.selected
    assert second != first and _state(window).finding(second).decision is Decision.PENDING
    _key(qtbot, window, window.review.panel.table, Qt.Key.Key_A)  # the findings table has focus this time
    assert _state(window).finding(second).decision is Decision.ACCEPTED


def test_u_wraps_to_the_next_undecided_and_says_when_none_is_left(qtbot: QtBot, review_window: MainWindow) -> None:
    window = review_window
    state = _run_ai(qtbot, window)
    ids = [f.id for f in state.findings]
    review = window.review.review
    for fid in ids[1:]:  # decide every finding but the first
        review.select(fid)
        review.accept()
    settle(qtbot, window)
    review.select(ids[-1])
    _key(qtbot, window, _axial(window), Qt.Key.Key_U)
    assert review.selected == ids[0]  # wrapped around past the end
    _key(qtbot, window, _axial(window), Qt.Key.Key_A)
    _key(qtbot, window, _axial(window), Qt.Key.Key_U)
    assert "Every finding is decided" in window.statusBar().currentMessage()


def test_undo_decisions_until_sign_off_audited(
    qtbot: QtBot, review_window: MainWindow, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    window, screen = review_window, review_window.review
    state = _run_ai(qtbot, window)
    first, second = state.findings[0].id, state.findings[1].id
    axial = _axial(window)
    _key(qtbot, window, axial, Qt.Key.Key_A)
    monkeypatch.setattr(review_dialogs, "ask_reject", lambda _parent, _fid: (RejectReason.ARTEFACT, "motion"))
    screen.review.select(first)
    _key(qtbot, window, axial, Qt.Key.Key_R)  # changed her mind: accepted, then rejected
    assert _state(window).finding(first).decision is Decision.REJECTED

    _key(qtbot, window, axial, Qt.Key.Key_Z, CTRL)  # back to accepted, selected, and said so
    assert _state(window).finding(first).decision is Decision.ACCEPTED
    assert screen.review.selected == first
    assert any("Undone: the last decision on" in m for m in window.notes.messages())
    qtbot.mouseClick(screen.panel.undo_button, Qt.MouseButton.LeftButton)  # the button does the same
    settle(qtbot, window)
    assert _state(window).finding(first).decision is Decision.PENDING
    assert not screen.panel.undo_button.isEnabled()  # nothing decided is left to undo

    for fid in [f.id for f in _state(window).findings]:
        screen.review.select(fid)
        screen.review.accept()
    settle(qtbot, window)
    monkeypatch.setattr(review_dialogs, "confirm_sign_off", lambda *_args: True)
    window.review_actions["sign"].trigger()
    wait_saved(window)
    assert _state(window).status is ReviewStatus.SIGNED
    assert not screen.panel.undo_button.isEnabled() and "signed off" in screen.panel.undo_button.toolTip()
    _key(qtbot, window, axial, Qt.Key.Key_Z, CTRL)
    assert "signed off and read-only (undo too)" in window.statusBar().currentMessage()
    assert _state(window).finding(second).decision is Decision.ACCEPTED

    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        assert store.verify_audit().ok
        undone = store.db.execute("SELECT finding_id, details FROM audit WHERE event = ?", (UNDO_EVENT,)).fetchall()
        rows = store.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    assert [fid for fid, _ in undone] == [first, first]
    assert '"undone":"rejected"' in undone[0][1] and '"undone":"accepted"' in undone[1][1]
    assert rows == 2 + len(state.findings)  # every decision row kept, the two undone ones too


def _paint(view: QWidget, index: tuple[float, float, float], dx_mm: float) -> None:
    geometry = view.geometry  # type: ignore[attr-defined]
    x, y = geometry.to_display(index)
    start = to_widget(view, x, y)
    drag(view, start, start + QPoint(max(2, round(dx_mm / view.box.viewPixelSize()[0])), 0))  # type: ignore[attr-defined]


def _row(window: MainWindow, finding_id: str) -> dict[str, str]:
    table = window.review.panel.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == finding_id)  # type: ignore[union-attr]
    return {name: table.item(row, c).text() for c, name in enumerate(COLUMNS)}  # type: ignore[union-attr]


def test_an_edit_shows_accepted_edited_with_new_measurements_and_undoes(qtbot: QtBot,
                                                                       review_window: MainWindow) -> None:  # fmt: skip
    window, screen = review_window, review_window.review
    state = _run_ai(qtbot, window)
    target = next(f for f in state.findings if f.finding.top_class)  # an AI finding with a class
    original = _row(window, target.id)
    screen.review.select(target.id)
    axial = _axial(window)
    _key(qtbot, window, axial, Qt.Key.Key_E)
    _paint(axial, target.finding.centroid_index, 25.0)
    _key(qtbot, window, axial, Qt.Key.Key_Return, CTRL)
    edited = _state(window).finding(target.id)
    assert edited.decision is Decision.EDITED and edited.mask_version == 1
    assert edited.finding.volume_ml > target.finding.volume_ml  # measured again on the new mask
    shown = _row(window, target.id)
    assert shown["State"] == "accepted, edited (mask v1)"
    assert shown["Vol mL"] == f"{edited.finding.volume_ml:.2f}" != original["Vol mL"]
    assert shown["Long mm"] == f"{edited.finding.long_axis_mm:.1f}"
    assert shown["Mean HU"] == f"{edited.finding.mean_hu:.0f}"
    # never the old mask's class: being recomputed, or recomputed (tests/ui/test_edit_reclassify.py)
    assert shown["Class (p)"] != original["Class (p)"]
    assert shown["Class (p)"] == RECOMPUTING or shown["Class (p)"].endswith(RECOMPUTED)

    _key(qtbot, window, axial, Qt.Key.Key_Z, CTRL)  # not editing any more: Ctrl+Z undoes the edit
    back = _state(window).finding(target.id)
    assert back.decision is Decision.PENDING and back.mask_version == 0
    assert _row(window, target.id) == original
