"""The review history dock and the statistics view, wired to the review controller.

Slots here read a widget, call one controller method and return.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from meddiag_desktop.ui.controllers.stats_controller import StatsController
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.review.history_panel import HistoryPanel
from meddiag_desktop.ui.review.stats_view import StatsDialog

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtWidgets import QWidget

    from meddiag_desktop.config import Settings
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.review.stats import ModelMonth
    from meddiag_desktop.ui.controllers.review_controller import ReviewController
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.workers import TaskRunner


class Oversight(QObject):
    """History panel (every version, run and decision; signed versions open read-only) and statistics."""

    def __init__(self, settings: Settings, runner: TaskRunner, review: ReviewController, notes: NotificationPanel,
                 before_switch: Callable[[], None], window: QWidget) -> None:  # fmt: skip
        super().__init__(window)
        self._review, self._notes, self._window, self._before_switch = review, notes, window, before_switch
        self.history = HistoryPanel()
        self.stats = StatsController(settings, runner, notes, self)
        self.stats_dialog: StatsDialog | None = None
        review.state_changed.connect(self._on_review_state_changed)
        self.history.version_requested.connect(self._on_history_version_requested)
        self.stats.ready.connect(self._on_stats_ready)
        self.stats.failed.connect(self._on_stats_failed)

    # -- history -----------------------------------------------------------------------------

    def _on_review_state_changed(self, state: ReviewState | None) -> None:
        if state is None:
            self.history.show_history([], 0, 0)
        else:
            self.history.show_history(self._review.history(), state.version, state.latest_version)

    def _on_history_version_requested(self, version: int) -> None:
        self._before_switch()
        self._review.open_version(version or None)
        if version and self._review.state is not None:
            self.history.select_version(version)
            self._notes.notify(Level.INFO, f"Version {version} (signed) is shown read-only; "
                               "“Back to the current version” returns to the newest.")  # fmt: skip

    # -- statistics --------------------------------------------------------------------------

    def show_stats(self) -> None:
        if self.stats_dialog is None:
            self.stats_dialog = StatsDialog(self._window)
            self.stats_dialog.refresh_requested.connect(self._on_stats_refresh_requested)
            self.stats_dialog.csv_requested.connect(self._on_stats_csv_requested)
        self.stats_dialog.set_status("Computing…")
        self.stats_dialog.show()
        self.stats_dialog.raise_()
        self._on_stats_refresh_requested()

    def _on_stats_refresh_requested(self) -> None:
        self.stats.refresh(self._review.actor)

    def _on_stats_ready(self, rows: list[ModelMonth]) -> None:
        if self.stats_dialog is not None:
            self.stats_dialog.show_rows(rows)

    def _on_stats_failed(self, message: str) -> None:
        if self.stats_dialog is not None:
            self.stats_dialog.set_status(f"Statistics could not be computed: {message}")

    def _on_stats_csv_requested(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self._window, "Save statistics", "meddiag-stats.csv", "CSV (*.csv)")
        if name:
            self.save_stats_csv(Path(name))

    def save_stats_csv(self, path: Path) -> None:
        try:
            self.stats.save_csv(path)
        except OSError as exc:
            self._notes.notify(Level.WARNING, f"The statistics could not be saved to {path}: {exc.strerror}")
            return
        self._notes.notify(Level.INFO, f"Statistics saved to {path}.")
