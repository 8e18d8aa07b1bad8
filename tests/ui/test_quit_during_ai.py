"""Quitting while an AI run is going asks first: No keeps the window and the run, Yes cancels it and quits.

Issue 11 ("Review flow"), on the bundled demo CT with the fixture models. The question box is
answered by a stand-in (monkeypatched ``QMessageBox.question``) that records what it was asked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from PySide6.QtWidgets import QMessageBox
from review_helpers import fixture_models, open_demo_series

from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.main_window import MainWindow

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings

YES, NO = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No


@pytest.fixture
def window(qtbot: QtBot, settings: Settings, tmp_path: Path, demo_folder: Path) -> Iterator[MainWindow]:
    models = fixture_models(tmp_path / "models")
    main = MainWindow(replace(settings, builtin_models_dir=models, inference_threads=1))
    main.show()
    qtbot.waitExposed(main)
    open_demo_series(qtbot, main, demo_folder)
    yield main
    if main.isVisible():
        main.close()


def _answer(monkeypatch: pytest.MonkeyPatch, answer: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent: object, _title: str, text: str, *_args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_no_keeps_the_window_and_the_run_yes_cancels_it_and_quits(
    qtbot: QtBot, window: MainWindow, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = window.review.analysis
    window.review.panel.run_button.click()
    assert analysis.busy

    asked = _answer(monkeypatch, NO)
    assert not window.close()
    assert asked == ["An AI analysis is running. Quit and cancel it?"]
    assert window.isVisible() and analysis.busy  # the run goes on

    asked = _answer(monkeypatch, YES)
    assert window.close()
    assert asked == ["An AI analysis is running. Quit and cancel it?"]
    assert not window.isVisible() and window.runner.active_count == 0  # cancelled, and its thread has ended
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        assert store.db.execute("SELECT COUNT(*) FROM ai_runs").fetchone()[0] == 0  # nothing of it was stored


def test_without_a_run_quitting_asks_nothing(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _answer(monkeypatch, NO)
    assert window.close() and not window.isVisible() and asked == []
