"""Build the GUI: QApplication, Settings, MainWindow, error hooks; ``run_gui`` is the entry."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

    from meddiag_desktop.config import Settings

log = logging.getLogger(__name__)


def run_gui(settings: Settings, *, path: Path | None, offscreen: bool, screenshot: Path | None) -> int:
    """Show the main window (optionally opening ``path``); with ``screenshot``, save a PNG and quit.

    Returns the process exit code.
    """
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.ui.main_window import MainWindow
    from meddiag_desktop.ui.screenshot import ScreenshotDriver

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("MedDiag Desktop")
    window = MainWindow(settings)
    previous_hook = sys.excepthook
    sys.excepthook = _error_hook(window)
    driver = ScreenshotDriver(window, screenshot) if screenshot is not None else None
    window.show()
    if path is not None:
        window.open_path(path)
    elif driver is not None:
        log.error("--screenshot needs a PATH to open")
        return 2
    try:
        code = int(app.exec())
    finally:
        sys.excepthook = previous_hook
    return driver.exit_code if driver is not None else code


def _error_hook(window: object) -> Callable[[type[BaseException], BaseException, TracebackType | None], None]:
    """Uncaught exceptions in slots go to the notification area, not to a traceback dialog."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("uncaught %s", kind.__name__, exc_info=(kind, exc, tb))
        notes = getattr(window, "notes", None)
        if notes is not None:
            notes.report(exc)

    return hook
