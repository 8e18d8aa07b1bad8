"""The review's export actions: ask where (and the pseudonym), start the export in the background, say what it wrote.

Slots here read a widget or a dialog, start one export and return; ``ExportController`` runs it.
Every dialog and every message says whether the export is VERIFIED (signed off) or UNVERIFIED.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.ui.actions import make_action
from meddiag_desktop.ui.controllers.export_controller import (
    ExportController,
    ExportJob,
    ExportKind,
    outcome_text,
    verification_text,
)
from meddiag_desktop.ui.dialogs import export_dialogs
from meddiag_desktop.ui.panels import Level

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMainWindow

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.controllers.review_controller import ReviewController
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.review.review_panel import ReviewPanel
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget
    from meddiag_desktop.ui.workers import TaskRunner

EXPORT_ACTIONS = (
    ("export", "Export SEG + SR…"),
    ("export_deid", "Export de-identified…"),
    ("report", "Save report…"),
)
NO_PSEUDONYM = "A de-identified export needs a pseudonym; nothing was exported."


class ExportActions(QObject):
    """Export buttons of the review panel and the matching menu actions, enabled while a review is open."""

    def __init__(self, settings: Settings, runner: TaskRunner, viewer: ViewerWidget, review: ReviewController,
                 panel: ReviewPanel, notes: NotificationPanel, parent: QMainWindow) -> None:  # fmt: skip
        super().__init__(parent)
        self._settings, self._viewer, self._review = settings, viewer, review
        self._panel, self._notes, self._window = panel, notes, parent
        self.controller = ExportController(runner, self)
        self._privacy = viewer.state.privacy
        slots: dict[str, Callable[[], object]] = {
            "export": self._on_export_triggered, "export_deid": self._on_deid_triggered,
            "report": self._on_report_triggered,
        }  # fmt: skip
        self.actions: dict[str, QAction] = {
            name: make_action(parent, text, "", slots[name]) for name, text in EXPORT_ACTIONS
        }
        panel.export_button.clicked.connect(self._on_export_triggered)
        panel.deid_button.clicked.connect(self._on_deid_triggered)
        panel.report_button.clicked.connect(self._on_report_triggered)
        self._connect()
        self.refresh()

    def _connect(self) -> None:
        self.controller.busy_changed.connect(self._on_controller_busy_changed)
        self.controller.finished.connect(self._on_controller_finished)
        self.controller.failed.connect(self._on_controller_failed)
        self._review.state_changed.connect(self._on_review_state_changed)
        self._viewer.state.loading_changed.connect(self._on_state_loading_changed)
        self._viewer.state.volume_changed.connect(self._on_state_volume_changed)
        self._viewer.state.display_changed.connect(self._on_state_display_changed)

    @property
    def ready(self) -> bool:
        """A review is open on a fully loaded series and no export is running."""
        state = self._viewer.state
        return self._review.state is not None and state.volume is not None and not state.loading and not self.busy

    @property
    def busy(self) -> bool:
        return self.controller.busy

    def refresh(self) -> None:
        ready = self.ready
        for button in (self._panel.export_button, self._panel.deid_button, self._panel.report_button):
            button.setEnabled(ready)
        for action in self.actions.values():
            action.setEnabled(ready)

    # -- user actions ------------------------------------------------------------------------

    def _on_export_triggered(self) -> None:
        folder = self._ask_folder("Export SEG + SR")
        if folder is not None:
            self._start(ExportKind.SEG_SR, folder)

    def _on_deid_triggered(self) -> None:
        if not self.ready:
            return
        pseudonym = export_dialogs.ask_pseudonym(self._window, f"Export de-identified, {self._verification()}")
        if pseudonym is None:
            return
        if not pseudonym:
            self._notes.notify(Level.WARNING, NO_PSEUDONYM)
            self._panel.set_export_status(NO_PSEUDONYM, error=True)
            return
        folder = self._ask_folder("Export de-identified")
        if folder is not None:
            self._start(ExportKind.DEIDENTIFIED, folder, pseudonym=pseudonym)

    def _on_report_triggered(self) -> None:
        state = self._review.state
        if not self.ready or state is None:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        start = (self._results_folder() or Path()) / f"review-{state.review_id}-v{state.version}_{stamp}.html"
        title = f"Save report ({'signed off' if state.signoff else 'DRAFT: not signed off'})"
        path = export_dialogs.ask_report_file(self._window, title, start)
        if path is not None:
            self._start(ExportKind.REPORT, path, privacy=self._panel.report_privacy.isChecked())

    def _ask_folder(self, what: str) -> Path | None:
        if not self.ready:
            return None
        title = f"{what}, {self._verification()}: choose the folder"
        return export_dialogs.ask_folder(self._window, title, self._results_folder())

    def _verification(self) -> str:
        return verification_text(self._review.state)

    def _results_folder(self) -> Path | None:
        """``meddiag-results/`` beside the study (found when the series was loaded)."""
        folder = self._viewer.state.info.results_folder
        return Path(folder) if folder else None

    def _start(self, kind: ExportKind, target: Path, *, pseudonym: str = "", privacy: bool = False) -> None:
        state, volume, settings = self._review.state, self._viewer.state.volume, self._settings
        if state is None or volume is None:
            return
        job = ExportJob(kind, state.review_id, volume, target, settings.review_store_path, settings.index_path,
                        self._review.actor, pseudonym, privacy, settings.config_dir)  # fmt: skip
        if self.controller.start(job):
            self._panel.set_export_status(f"Exporting the {kind.value}, {self._verification()}, to {target}…")

    # -- results -----------------------------------------------------------------------------

    def _on_controller_finished(self, outcome: Any) -> None:
        text = outcome_text(outcome)
        self._panel.set_export_status(text)
        self._notes.notify(Level.INFO, text)

    def _on_controller_failed(self, exc: BaseException) -> None:
        self._notes.report(exc)
        reason = str(exc) if isinstance(exc, MeddiagError) else f"unexpected problem ({type(exc).__name__})"
        self._panel.set_export_status(f"Export failed: {reason}", error=True)

    # -- state -------------------------------------------------------------------------------

    def _on_controller_busy_changed(self, _busy: bool) -> None:
        self.refresh()

    def _on_review_state_changed(self, _state: object) -> None:
        self.refresh()

    def _on_state_loading_changed(self, _loading: bool) -> None:
        self.refresh()

    def _on_state_volume_changed(self) -> None:
        if not self.busy:
            self._panel.set_export_status("")
        self.refresh()

    def _on_state_display_changed(self) -> None:
        """Privacy on screen (H) turns privacy on for the report too (and off again); the box can still be changed."""
        if self._viewer.state.privacy != self._privacy:
            self._privacy = self._viewer.state.privacy
            self._panel.report_privacy.setChecked(self._privacy)
