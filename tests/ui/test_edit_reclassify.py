"""After a mask edit the class is recomputed in a worker with the run's own classifier (bundled demo CT).

Issue 11 ("Review flow": an edited finding's measurements and class are recomputed after the edit).
The class shows as recomputed, survives a restart, goes back with an undo, is sealed by the audit
log; without the run's classifier it stays "not recomputed after edit" and the tooltip says why.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from review_helpers import fixture_models, open_demo_series, settle
from ui_helpers import drag, to_widget

from meddiag_desktop.inference import classify
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.review.model import ClassStatus, Decision, ReviewStatus
from meddiag_desktop.review.reclassify import CLASS_RECOMPUTED, classifier_ref
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.controllers import edit_controller
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.findings_table import CLASS_COLUMN, COLUMNS, NOT_RECOMPUTED, RECOMPUTED, RECOMPUTING
from meddiag_desktop.ui.viewer.orientation import Plane

if TYPE_CHECKING:
    from pathlib import Path

    from PySide6.QtWidgets import QWidget
    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.review.model import ReviewFinding, ReviewState

CTRL = Qt.KeyboardModifier.ControlModifier
CLS = "lung-lesion-cls"


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path) -> Settings:
    models = fixture_models(tmp_path / "models")
    return replace(settings, builtin_models_dir=models, inference_threads=1, reviewer_display_name="Dr Test")


def _window(qtbot: QtBot, settings: Settings, demo_folder: Path) -> MainWindow:
    window = MainWindow(settings)
    window.resize(1600, 900)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    open_demo_series(qtbot, window, demo_folder)
    return window


def _state(window: MainWindow) -> ReviewState:
    state = window.review.review.state
    assert state is not None
    return state


def _run_ai(qtbot: QtBot, window: MainWindow) -> ReviewFinding:
    """Run the AI; the AI finding with a class that the edits below work on."""
    with qtbot.waitSignal(window.review.analysis.finished, timeout=60000):
        window.review_actions["run"].trigger()
    settle(qtbot, window)
    return next(f for f in _state(window).findings if f.finding.top_class)


def _key(qtbot: QtBot, window: MainWindow, widget: QWidget, key: Qt.Key, modifier: Qt.KeyboardModifier) -> None:
    widget.window().activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget.window(), timeout=5000)
    widget.setFocus()
    qtbot.keyClick(widget, key, modifier)
    settle(qtbot, window)


def _edit(qtbot: QtBot, window: MainWindow, target: ReviewFinding, dx_mm: float) -> None:
    """Select ``target``, press E, paint a stroke from its centre, save with Ctrl+Return (as a user does)."""
    window.review.review.select(target.id)
    axial = window.viewer.views[Plane.AXIAL]
    _key(qtbot, window, axial, Qt.Key.Key_E, Qt.KeyboardModifier.NoModifier)
    x, y = axial.geometry.to_display(target.finding.centroid_index)  # type: ignore[attr-defined]
    start = to_widget(axial, x, y)
    drag(axial, start, start + QPoint(max(2, round(dx_mm / axial.box.viewPixelSize()[0])), 0))  # type: ignore[attr-defined]
    _key(qtbot, window, axial, Qt.Key.Key_Return, CTRL)


def _wait_class(qtbot: QtBot, window: MainWindow) -> None:
    """The worker has classified and the store writer has kept (and the GUI shown) the class."""
    qtbot.waitUntil(lambda: window.runner.active_count == 0 and not window.review.review.classes_pending, timeout=30000)
    settle(qtbot, window)


def _row(window: MainWindow, finding_id: str) -> dict[str, str]:
    table = window.review.panel.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == finding_id)  # type: ignore[union-attr]
    return {name: table.item(row, c).text() for c, name in enumerate(COLUMNS)}  # type: ignore[union-attr]


def _class_tip(window: MainWindow, finding_id: str) -> str:
    table = window.review.panel.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == finding_id)  # type: ignore[union-attr]
    cell = table.item(row, CLASS_COLUMN)
    assert cell is not None
    return cell.toolTip()


def _run_model_ref(settings: Settings) -> str:
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        return str(store.db.execute("SELECT model_ref FROM ai_runs").fetchone()[0])


def test_the_class_is_recomputed_kept_after_a_restart_undone_and_sealed(
    qtbot: QtBot, app_settings: Settings, demo_folder: Path
) -> None:
    window = _window(qtbot, app_settings, demo_folder)
    try:
        target = _run_ai(qtbot, window)
        original = _row(window, target.id)
        _edit(qtbot, window, target, 25.0)
        _wait_class(qtbot, window)
        edited = _state(window).finding(target.id)
        assert edited.decision is Decision.EDITED and edited.mask_version == 1
        note = edited.recomputed_class
        classifier = classifier_ref(_run_model_ref(app_settings))
        assert note is not None and note.status is ClassStatus.RECOMPUTED and note.model_ref == classifier
        # the same classifier on the new mask's centre gives exactly these probabilities
        session = ModelRegistry(app_settings.builtin_models_dir).session(CLS)
        crop, _ = classify.crop_for(window.viewer.state.volume, edited.finding, session.manifest)  # type: ignore[arg-type]
        expected = dict(zip(session.manifest.class_names, classify.predict(session, crop[None])[0], strict=True))
        assert edited.finding.class_probabilities == pytest.approx(expected)
        top = edited.finding.top_class
        shown = f"{top} {edited.finding.class_probabilities[top]:.2f} {RECOMPUTED}"
        assert _row(window, target.id)["Class (p)"] == shown != original["Class (p)"]
        assert classifier in _class_tip(window, target.id) and "mask v1" in _class_tip(window, target.id)
    finally:
        window.close()

    again = _window(qtbot, app_settings, demo_folder)  # a restart: the store has it all
    try:
        assert _row(again, target.id)["Class (p)"] == shown
        assert _state(again).finding(target.id).recomputed_class == note
        _key(qtbot, again, again.viewer.views[Plane.AXIAL], Qt.Key.Key_Z, CTRL)  # undo the edit
        back = _state(again).finding(target.id)
        assert back.mask_version == 0 and back.recomputed_class is None
        assert _row(again, target.id) == original  # the AI's class, as before the edit
    finally:
        again.close()

    with ReviewStore(app_settings.review_store_path, app_settings.config_dir) as record:
        assert record.verify_audit().ok
        entry = record.db.execute("SELECT model_ref, details FROM audit WHERE event = ?", (CLASS_RECOMPUTED,))
        ref, details = entry.fetchone()
        assert ref == classifier and json.loads(details)["mask_version"] == 1
        record.db.execute("DROP TRIGGER reclassifications_no_update")
        record.db.execute('UPDATE reclassifications SET class_probabilities = \'{"solid": 0.5, "subsolid": 0.5}\'')
        report = record.verify_audit()
        assert not report.ok and "class recomputation 1" in report.reason


def test_without_the_run_classifier_the_class_is_not_recomputed_and_the_tooltip_says_why(
    qtbot: QtBot, app_settings: Settings, demo_folder: Path
) -> None:
    window = _window(qtbot, app_settings, demo_folder)
    try:
        target = _run_ai(qtbot, window)
        shutil.rmtree(app_settings.builtin_models_dir / CLS)  # removed after the run
        _edit(qtbot, window, target, 25.0)
        _wait_class(qtbot, window)
        note = _state(window).finding(target.id).recomputed_class
        assert note is not None and note.status is ClassStatus.NOT_RECOMPUTED
        assert _row(window, target.id)["Class (p)"] == NOT_RECOMPUTED
        tip = _class_tip(window, target.id)
        assert tip == note.why and CLS in tip and "is installed" in tip
    finally:
        window.close()


def test_sign_off_waits_for_the_class_being_recomputed(
    qtbot: QtBot, app_settings: Settings, demo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = edit_controller.recompute_class

    def slow(*args: object, **kwargs: object) -> object:
        assert release.wait(30.0)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(edit_controller, "recompute_class", slow)
    window = _window(qtbot, app_settings, demo_folder)
    try:
        target = _run_ai(qtbot, window)
        _edit(qtbot, window, target, 25.0)
        assert _row(window, target.id)["Class (p)"] == RECOMPUTING  # the edit is stored, its class on its way
        controller = window.review.review
        for item in _state(window).findings:
            if not item.decision.decided:
                controller.select(item.id)
                controller.accept()
        settle(qtbot, window)
        controller.sign_off()
        settle(qtbot, window)
        assert _state(window).status is ReviewStatus.OPEN and _row(window, target.id)["Class (p)"] == RECOMPUTING
        with qtbot.waitSignal(controller.signed, timeout=30000):
            release.set()
        signed = _state(window)
        assert signed.status is ReviewStatus.SIGNED
        assert signed.finding(target.id).recomputed_class is not None
        assert _row(window, target.id)["Class (p)"].endswith(RECOMPUTED)
    finally:
        release.set()
        window.close()


def test_a_class_arriving_while_another_review_is_shown_is_stored_not_shown_there(
    qtbot: QtBot, app_settings: Settings, demo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = edit_controller.recompute_class

    def slow(*args: object, **kwargs: object) -> object:
        assert release.wait(30.0)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(edit_controller, "recompute_class", slow)
    window = _window(qtbot, app_settings, demo_folder)
    try:
        target = _run_ai(qtbot, window)
        series = _state(window).series_uid
        _edit(qtbot, window, target, 25.0)
        controller = window.review.review
        shown = _state(window)
        controller.close()  # what showing another series does; then that series' review (no public setter)
        other_review = replace(shown, review_id=shown.review_id + 1000, series_uid="2.25.1")
        controller._set_state(other_review)
        release.set()
        qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)
        settle(qtbot, window)
        assert _state(window) is not None and _state(window).review_id == other_review.review_id  # not replaced
        controller.close()
        with qtbot.waitSignal(controller.state_changed, timeout=30000):
            controller.restore_latest(series, lambda _found: None)
        settle(qtbot, window)
        assert _row(window, target.id)["Class (p)"].endswith(RECOMPUTED)  # stored while another series was shown
        other = next(f for f in _state(window).findings if not f.decision.decided)
        controller.select(other.id)
        controller.accept()
        settle(qtbot, window)
        controller.undo()
        settle(qtbot, window)
        assert _state(window).finding(other.id).decision is Decision.PENDING  # the undo shows: nothing hangs
    finally:
        release.set()
        window.close()
