"""Model monitoring statistics, computed in a worker (every stored review is restored) with its own store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.stats import model_stats, write_csv
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.workers import TaskCallbacks

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.config import Settings
    from meddiag_desktop.review.audit import Actor
    from meddiag_desktop.review.stats import ModelMonth
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.workers import TaskContext, TaskHandle, TaskRunner


def _stats_task(_ctx: TaskContext, settings: Settings, actor: Actor) -> list[ModelMonth]:
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        return model_stats(ReviewService(store, actor))


class StatsController(QObject):
    """``refresh()`` computes in the background; ``ready`` brings the rows back."""

    ready = Signal(object)  # list[ModelMonth]
    failed = Signal(str)

    def __init__(self, settings: Settings, runner: TaskRunner, notes: NotificationPanel,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._settings, self._runner, self._notes = settings, runner, notes
        self._generation = 0
        self._handle: TaskHandle | None = None
        self.rows: list[ModelMonth] = []

    def refresh(self, actor: Actor) -> None:
        self._generation += 1
        settings = self._settings
        callbacks = TaskCallbacks(on_finished=self._on_task_finished, on_error=self._on_task_error)
        self._handle = self._runner.start(lambda ctx: _stats_task(ctx, settings, actor), self._generation, callbacks)

    def save_csv(self, path: Path) -> None:
        write_csv(self.rows, path)  # a few rows: fast enough for the GUI thread

    def _on_task_finished(self, generation: int, rows: Any) -> None:
        if generation == self._generation:
            self.rows = list(rows)
            self.ready.emit(self.rows)

    def _on_task_error(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._notes.report(exc)
            self.failed.emit(str(exc))
