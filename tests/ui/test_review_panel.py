"""The review screen on a small synthetic chest (no corpus): cancel, overlays, threshold, sign-off, amend, keys."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import Qt
from review_helpers import chest_volume, settle, wait_saved, write_model

from meddiag_desktop.review.model import ReviewStatus
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.dialogs import review_dialogs
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.review.overlay_layers import MASK_LAYER, OUTLINE, MaskStyle
from meddiag_desktop.ui.review.review_overlays import HeatSource
from meddiag_desktop.ui.viewer.orientation import Plane
from meddiag_desktop.ui.viewer.state import SeriesInfo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.slice_view import SliceView

STUDY = "1.2.3.9"


@pytest.fixture
def window(qtbot: QtBot, settings: Settings, tmp_path: Path) -> Iterator[MainWindow]:
    for task, model_id in (("segmentation", "lung-nodule-seg"), ("classification", "lung-lesion-cls")):
        write_model(tmp_path / "models", model_id, task)
    main = MainWindow(replace(settings, builtin_models_dir=tmp_path / "models", inference_threads=1))
    main.resize(1400, 800)
    main.show()
    qtbot.waitExposed(main)
    volume = chest_volume()
    main.viewer.state.set_volume(volume, SeriesInfo(series_uid=volume.series_instance_uid, study_uid=STUDY))
    main.viewer.state.finish_loading(volume)
    yield main
    main.close()


def _run(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.review.analysis.finished, timeout=30000):
        window.review_actions["run"].trigger()
    settle(qtbot, window)


def _mask_pixels(view: SliceView) -> np.ndarray:
    layer = next(la for la in view.layers if la.name == MASK_LAYER)
    return np.asarray(layer.item.image)


def test_cancel_stores_nothing(qtbot: QtBot, window: MainWindow, settings: Settings) -> None:
    screen = window.review
    screen.panel.run_button.click()
    assert screen.analysis.busy and not screen.panel.run_button.isEnabled()
    screen.panel.cancel_button.click()
    qtbot.waitUntil(lambda: not screen.analysis.busy, timeout=30000)
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=30000)
    assert screen.review.state is None
    assert "AI run cancelled; nothing was stored." in window.notes.messages()
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        assert store.db.execute("SELECT COUNT(*) FROM ai_runs").fetchone()[0] == 0


def test_overlays_look_toggle_threshold_and_heat(qtbot: QtBot, window: MainWindow) -> None:
    _run(qtbot, window)
    screen = window.review
    state = screen.review.state
    assert state is not None and [f.id for f in state.findings] == ["F1"]
    location = screen.panel.table.item(0, 1)
    assert location is not None and location.text() == "right lung, middle third · slice 11 of 20"  # x 22 of 64
    axial = window.viewer.views[Plane.AXIAL]
    assert not ((_mask_pixels(axial) > 0) & (_mask_pixels(axial) < OUTLINE)).any()  # outline by default
    screen.panel.style_box.setCurrentIndex(list(MaskStyle).index(MaskStyle.BOTH))
    both = _mask_pixels(axial)
    assert (both > OUTLINE).any() and ((both > 0) & (both < OUTLINE)).any()  # outline and fill
    screen.panel.opacity.setValue(80)  # the slider stops at 30 %
    layer = next(la for la in axial.layers if la.name == MASK_LAYER)
    assert layer.opacity == pytest.approx(0.3)

    window.activateWindow()
    axial.setFocus()
    qtbot.keyClick(axial, Qt.Key.Key_O)  # one key hides every AI overlay
    assert not screen.panel.shown.isChecked()
    assert all(not la.item.isVisible() for la in axial.layers)
    qtbot.keyClick(axial, Qt.Key.Key_O)
    assert all(la.item.isVisible() for la in axial.layers)

    screen.panel.threshold.setValue(100)  # F1's max p is below 1.0: hidden, still listed (greyed)
    assert not _mask_pixels(axial).any()
    assert screen.panel.table.rowCount() == 1
    screen.review.record_threshold()
    settle(qtbot, window)  # the store writer has it
    with ReviewStore(window.studies.settings.review_store_path, window.studies.settings.config_dir) as store:
        details = store.db.execute("SELECT details FROM audit WHERE event = 'threshold_changed'").fetchone()
    assert details is not None and '"to":1.0' in details[0]

    assert not screen.panel.colour_bar.isVisible()  # the hidden finding's heat map is hidden too
    screen.panel.threshold.setValue(0)
    assert screen.panel.colour_bar.isVisible() and "probability" in screen.panel.colour_bar.text()
    screen.panel.heat_box.setCurrentIndex(list(HeatSource).index(HeatSource.SALIENCY))
    assert "Saliency" in screen.panel.colour_bar.text()
    screen.panel.heat_box.setCurrentIndex(list(HeatSource).index(HeatSource.OFF))
    assert not screen.panel.colour_bar.isVisible()


def test_sign_off_asks_name_once_then_amend(qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(qtbot, window)
    screen = window.review
    asked: list[str] = []

    def ask_text(_parent: object, title: str, _label: str, _text: str = "") -> str:
        asked.append(title)
        return "Dr Who" if title == "Preferences" else "wrong side"

    monkeypatch.setattr(review_dialogs, "ask_text", ask_text)
    monkeypatch.setattr(review_dialogs, "confirm_sign_off", lambda *_args: True)
    window.review_actions["sign"].trigger()
    wait_saved(window)
    assert screen.review.state is not None and screen.review.state.status is ReviewStatus.OPEN  # F1 undecided
    assert any("not decided yet" in m for m in window.notes.messages())
    window.review_actions["accept"].trigger()
    window.review_actions["sign"].trigger()
    wait_saved(window)
    assert screen.review.state.status is ReviewStatus.SIGNED
    assert asked == ["Preferences"]  # asked once, then saved in preferences
    assert window.studies.settings.with_preferences().reviewer_display_name == "Dr Who"
    assert not screen.panel.accept_button.isEnabled()  # the A key stays live and says why (test_review_flow)
    window.review_actions["amend"].trigger()
    wait_saved(window)
    assert screen.review.state.status is ReviewStatus.OPEN and screen.review.state.version == 2
    assert "amendment: wrong side" in screen.panel.status.text()
    assert screen.panel.accept_button.isEnabled()


def test_keys_dialog_and_model_card(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: dict[str, str] = {}
    monkeypatch.setattr(review_dialogs, "show_text", lambda _p, title, text: shown.__setitem__(title, text))
    window._on_keys_triggered()
    keys = shown["Keys"]
    for line in ("| R | Reject finding… |", "| Ctrl+R | Reset view |", "| O | Toggle all AI overlays |",
                 "| Shift+E | Ellipse ROI |", "| H | Privacy"):  # fmt: skip
        assert line in keys
    window.review.panel.card_button.click()
    assert shown["Segmentation model card"].startswith("# lung-nodule-seg")
    window.review.panel.cls_card_button.click()
    assert shown["Classification model card"].startswith("# lung-lesion-cls")
