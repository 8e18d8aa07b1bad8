"""Open a folder or DICOMDIR: scan in a worker, fill the browser as series are found, open the largest."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.records import ObjectKind
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.ui.browser.snapshot import BrowserSnapshot, image_series, read_snapshot, series_details
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.workers import TaskCallbacks, TaskHandle

if TYPE_CHECKING:
    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.records import ScanSummary
    from meddiag_desktop.ui.browser.study_browser import StudyBrowser
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.workers import TaskContext, TaskRunner

log = logging.getLogger(__name__)
SNAPSHOT_INTERVAL_S = 0.4
MAX_RECENT = 10
MAX_PROBLEM_LINES = 20


class StudyController(QObject):
    """Scans, recent folders and the browser's contents."""

    progress = Signal(int, int, str)  # done, total, message
    busy_changed = Signal(bool)
    scan_finished = Signal(object)  # BrowserSnapshot
    details_finished = Signal()
    recent_changed = Signal()
    series_chosen = Signal(str)  # the folder's largest image series, to open once the scan ends

    def __init__(
        self,
        settings: Settings,
        runner: TaskRunner,
        browser: StudyBrowser,
        notes: NotificationPanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self._runner, self._browser, self._notes = settings, runner, browser, notes
        self._generation = 0
        self._scan: TaskHandle | None = None
        self._details: TaskHandle | None = None
        self.snapshot = BrowserSnapshot(())

    # -- actions ---------------------------------------------------------------------------

    def open(self, path: Path) -> None:
        """Scan ``path`` (folder or DICOMDIR) in the background."""
        self.cancel()
        self._generation += 1
        self._remember(path)
        self.busy_changed.emit(True)
        index_path = self.settings.index_path
        callbacks = TaskCallbacks(
            on_finished=self._on_scan_finished,
            on_error=self._on_scan_error,
            on_progress=self._on_scan_progress,
            on_event=self._on_scan_event,
            on_cancelled=self._on_scan_cancelled,
        )
        self._scan = self._runner.start(lambda ctx: _scan_task(ctx, path, index_path), self._generation, callbacks)

    def cancel(self) -> None:
        for handle in (self._scan, self._details):
            if handle is not None:
                handle.cancel.cancel()

    def _remember(self, path: Path) -> None:
        text = str(path.resolve())
        recent = (text, *(p for p in self.settings.recent_folders if p != text))[:MAX_RECENT]
        self.settings = replace(self.settings, recent_folders=recent)
        try:
            self.settings.save_preferences()
        except OSError as exc:
            self._notes.notify(Level.WARNING, f"Recent folders could not be saved: {exc.strerror}")
        self.recent_changed.emit()

    # -- scan results (GUI thread) -----------------------------------------------------------

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _on_scan_progress(self, generation: int, done: int, total: int, message: str) -> None:
        if self._current(generation):
            self.progress.emit(done, total, message)

    def _on_scan_event(self, generation: int, snapshot: Any) -> None:
        if self._current(generation):
            self.snapshot = snapshot
            self._browser.apply_snapshot(snapshot)

    def _on_scan_finished(self, generation: int, result: Any) -> None:
        if not self._current(generation):
            return
        summary, snapshot = result
        self.snapshot = snapshot
        self._browser.apply_snapshot(snapshot)
        self._report(summary, snapshot)
        self.busy_changed.emit(False)
        self.scan_finished.emit(snapshot)
        self._choose_series(snapshot)
        self._start_details(generation, snapshot)

    def _choose_series(self, snapshot: BrowserSnapshot) -> None:
        """Select and open the opened folder's largest image series (``image_series`` says which)."""
        found = image_series(snapshot, folder_only=True)
        if not found:
            self._notes.notify(Level.INFO, "No image series was found in this folder.")
            return
        self._browser.select_series(found[0].series_instance_uid)
        self.series_chosen.emit(found[0].series_instance_uid)

    def _report(self, summary: ScanSummary, snapshot: BrowserSnapshot) -> None:
        self._notes.notify(
            Level.INFO,
            f"{summary.files_seen} files in {summary.root}: {summary.files_parsed} read, "
            f"{summary.files_unchanged} unchanged ({summary.seconds:.1f} s).",
        )
        if snapshot.problems:  # from the index, so they are listed again on every open, not only the first scan
            count = len(snapshot.problems)
            self._notes.notify(
                Level.WARNING,
                f"{count} {'file' if count == 1 else 'files'} in this folder: not DICOM or unreadable "
                "(the Studies panel lists each file and why).",
            )
        unindexed = {p.path for p in snapshot.problems}
        by_reason: dict[str, list[str]] = {}
        for problem in (p for p in summary.problems if p.path not in unindexed):  # indexed, but not images
            by_reason.setdefault(problem.reason, []).append(Path(problem.path).name)
        for reason, names in list(by_reason.items())[:MAX_PROBLEM_LINES]:
            more = f" and {len(names) - 1} more files" if len(names) > 1 else ""
            self._notes.notify(Level.WARNING, f"{names[0]}{more}: {reason}")

    def _on_scan_error(self, generation: int, exc: BaseException) -> None:
        if self._current(generation):
            self.busy_changed.emit(False)
            self._notes.report(exc)

    def _on_scan_cancelled(self, generation: int) -> None:
        if self._current(generation):
            self.busy_changed.emit(False)
            self._notes.notify(Level.INFO, "Scan cancelled; the series found so far are listed.")

    # -- details: warnings and thumbnails ------------------------------------------------------

    def _start_details(self, generation: int, snapshot: BrowserSnapshot) -> None:
        index_path = self.settings.index_path
        callbacks = TaskCallbacks(
            on_event=self._on_details_event, on_finished=self._on_details_finished, on_error=self._on_details_error
        )
        self._details = self._runner.start(lambda ctx: _details_task(ctx, snapshot, index_path), generation, callbacks)

    def _on_details_event(self, generation: int, details: Any) -> None:
        if self._current(generation):
            self._browser.apply_details(details)

    def _on_details_finished(self, generation: int, _result: Any) -> None:
        if self._current(generation):
            self._browser.fit_columns()  # thumbnails widen the first column
            self.details_finished.emit()

    def _on_details_error(self, generation: int, exc: BaseException) -> None:
        if self._current(generation):
            self._notes.report(exc)


def _scan_task(ctx: TaskContext, path: Path, index_path: Path) -> tuple[ScanSummary, BrowserSnapshot]:
    """Worker thread: scan, sending a browser snapshot now and then so the tree fills in."""
    folder = str(_folder_of(path))
    with SeriesIndex(index_path) as index:
        last = [time.monotonic()]

        def progress(done: int, total: int, message: str) -> None:
            ctx.progress(done, total, message)
            if time.monotonic() - last[0] > SNAPSHOT_INTERVAL_S:
                last[0] = time.monotonic()
                ctx.emit(read_snapshot(index, folder))

        summary = scan(path, index, progress=progress, cancel=ctx.cancel)
        return summary, read_snapshot(index, summary.root)


def _folder_of(path: Path) -> Path:
    """The folder a scan indexes: ``path`` itself, or the folder holding a DICOMDIR (as ``scan`` does)."""
    resolved = path.resolve()
    return resolved if resolved.is_dir() else resolved.parent


def _details_task(ctx: TaskContext, snapshot: BrowserSnapshot, index_path: Path) -> None:
    with SeriesIndex(index_path) as index:
        for entry in snapshot.patients:
            for study in entry.studies:
                for series in study.series:
                    ctx.cancel.raise_if_cancelled("Reading thumbnails")
                    if series.kind is ObjectKind.IMAGE:
                        ctx.emit(series_details(index, series))
