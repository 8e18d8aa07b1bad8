"""Headless demo run: open a study, show its largest image series, save a PNG, quit."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from meddiag_desktop.ui.browser.snapshot import image_series

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from meddiag_desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)
SETTLE_MS = 400
TIMEOUT_MS = 120_000


class ScreenshotDriver(QObject):
    """Drives ``window`` like a user would and saves ``target`` when the series is on screen."""

    def __init__(
        self, window: MainWindow, target: Path, *, before_save: Callable[[MainWindow], None] | None = None
    ) -> None:
        super().__init__(window)
        self._window, self._target, self._before_save = window, target, before_save
        self.exit_code = 1
        window.studies.scan_finished.connect(self._on_studies_scan_finished)
        window.series.loaded.connect(self._on_series_loaded)
        window.studies.details_finished.connect(self._on_details_finished)
        self._loaded = False
        self._details = False
        self._timeout = QTimer(self)  # for the loading only: what ``before_save`` does may take longer
        self._timeout.setSingleShot(True)
        self._timeout.timeout.connect(self._on_timeout)
        self._timeout.start(TIMEOUT_MS)

    def _on_studies_scan_finished(self, snapshot: Any) -> None:
        found = image_series(snapshot)
        if not found:
            log.error("screenshot: no image series found")
            self._finish(1)
            return
        self._window.browser.setCurrentIndex(self._window.browser.series_index(found[0].series_instance_uid))
        self._window.series.open(found[0].series_instance_uid)

    def _on_series_loaded(self, _uid: str) -> None:
        self._loaded = True
        self._maybe_save()

    def _on_details_finished(self) -> None:
        self._details = True
        self._maybe_save()

    def _maybe_save(self) -> None:
        if self._loaded and self._details:
            QTimer.singleShot(SETTLE_MS, self._save)

    def _save(self) -> None:
        self._timeout.stop()
        if self._before_save is not None:
            self._before_save(self._window)
        QApplication.processEvents()
        self._target.parent.mkdir(parents=True, exist_ok=True)
        saved = self._window.grab().save(str(self._target))
        log.info("screenshot saved: %s", saved)
        self._finish(0 if saved else 1)

    def _on_timeout(self) -> None:
        log.error("screenshot: the study did not load in time")
        self._finish(1)

    def _finish(self, code: int) -> None:
        self.exit_code = code
        self._window.close()
        QApplication.exit(code)
