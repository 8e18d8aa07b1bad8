"""The main window: a shell that assembles menus, docks, the status bar and controllers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabBar,
    QToolBar,
    QWidget,
)

from meddiag_desktop.config import ReadingMode
from meddiag_desktop.io.decode_pool import DecodePool
from meddiag_desktop.ui import actions
from meddiag_desktop.ui.browser.browser_panel import BrowserPanel
from meddiag_desktop.ui.browser.study_browser import StudyBrowser
from meddiag_desktop.ui.controllers.results_controller import ResultsController
from meddiag_desktop.ui.controllers.series_controller import SeriesController
from meddiag_desktop.ui.controllers.study_controller import StudyController
from meddiag_desktop.ui.dialogs import review_dialogs
from meddiag_desktop.ui.hanging import FILE_NAME, HangingProtocol, HangingStore
from meddiag_desktop.ui.panel_strips import PanelStrips, scroll_vertically
from meddiag_desktop.ui.panels import Level, MeasurementsPanel, NotificationPanel
from meddiag_desktop.ui.results.results_panel import ResultsPanel
from meddiag_desktop.ui.review.review_screen import ReviewScreen
from meddiag_desktop.ui.viewer import corner_info
from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget
from meddiag_desktop.ui.workers import TaskRunner

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QMenu

    from meddiag_desktop.config import Settings

TITLE = "MedDiag Desktop — decision support only, not a medical device"
RIGHT_PANEL_WIDTH = 320  # with the browser on its strip, images get >= 70 % of a 1600x900 window
NOTES_HEIGHT = 110


class MainWindow(QMainWindow):
    """Menus, docks and status bar around the viewer; controllers do the work."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.runner = TaskRunner(max_threads=2, parent=self)
        self.viewer = ViewerWidget(self)
        self.setCentralWidget(self.viewer)
        self.notes = NotificationPanel(self)
        self.hanging = HangingProtocol(self.viewer, HangingStore(settings.config_dir / FILE_NAME), self.notes, self)
        self.browser = StudyBrowser(self)
        self.browser_panel = BrowserPanel(self.browser, self)
        self.measurements = MeasurementsPanel(self.viewer.store, self)
        self.studies = StudyController(settings, self.runner, self.browser, self.notes, self)
        self.decode_pool = DecodePool(workers=2)  # processes start only when an expensive codec is loaded
        self.series = SeriesController(
            settings, self.runner, self.viewer.state, self.viewer.store, self.notes, self.decode_pool, self
        )
        self.review = ReviewScreen(settings, self.runner, self.viewer, self.notes, self._ask_display_name, self)
        self.results_panel = ResultsPanel(self)
        self.results = ResultsController(settings, self.runner, self.viewer, self.browser, self.results_panel,
                                         self.notes, self.series.open, self)  # fmt: skip
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        self._connect()
        self.resize(1600, 900)

    # -- assembly --------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.strips.manage(dock, area)
        return dock

    def _build_docks(self) -> None:
        self.strips = PanelStrips(self)
        self.browser_dock = self._dock("Studies", self.browser_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.review_dock = self._dock("AI review", scroll_vertically(self.review.panel),
                                      Qt.DockWidgetArea.RightDockWidgetArea)  # fmt: skip
        measurements = self._dock("Measurements", self.measurements, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(measurements, self.review_dock)
        self.results_dock = self._dock("Reference results", self.results_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.review_dock, self.results_dock)
        self.history_dock = self._dock("Review history", self.review.oversight.history,
                                       Qt.DockWidgetArea.RightDockWidgetArea)  # fmt: skip
        self.tabifyDockWidget(self.results_dock, self.history_dock)
        self.review_dock.raise_()
        # under the review tabs, not across the bottom: the images keep the window's height
        self.notes_dock = self._dock("Notifications", self.notes, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.review_dock, self.browser_dock], [RIGHT_PANEL_WIDTH, 440], Qt.Orientation.Horizontal)
        QTimer.singleShot(0, self._on_docks_placed)  # the dock tabs and heights exist once the window is laid out

    def _on_docks_placed(self) -> None:
        self.resizeDocks([self.notes_dock], [NOTES_HEIGHT], Qt.Orientation.Vertical)
        for tabs in self.findChildren(QTabBar):  # full panel names on the tabs of a narrow side (they scroll)
            tabs.setElideMode(Qt.TextElideMode.ElideNone)
            tabs.setUsesScrollButtons(True)

    def _build_status_bar(self) -> None:
        self.status_label = QLabel("Open a DICOM folder (File ▸ Open folder, or drop it here).")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        bar = self.statusBar()
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(actions.make_action(self, "Open folder…", "Ctrl+O", self._on_open_folder_triggered))
        file_menu.addAction(actions.make_action(self, "Open DICOMDIR…", "Ctrl+D", self._on_open_dicomdir_triggered))
        self.recent_menu = file_menu.addMenu("Recent folders")
        file_menu.addSeparator()
        file_menu.addActions(list(self.review.exports.actions.values()))
        file_menu.addSeparator()
        file_menu.addAction(actions.make_action(self, "Quit", "Ctrl+Q", self.close))
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(actions.make_action(self, "Preferences…", "Ctrl+,", self._ask_display_name))
        self._build_reading_menu(edit_menu.addMenu("Reading mode"))
        self.view_actions = actions.build_view_menu(self, self.menuBar().addMenu("&View"), self.viewer)
        toolbar = QToolBar("Tools", self)
        toolbar.setObjectName("tools")
        self.addToolBar(toolbar)
        self.tool_actions = actions.build_tools(self, self.menuBar().addMenu("&Tools"), toolbar, self.viewer)
        toolbar.addSeparator()
        self.layout_button = actions.build_layout_button(toolbar, self.view_actions["layout_menu"], self.viewer)
        actions.short_label(self.view_actions["cine"], "Cine")
        toolbar.addAction(self.view_actions["cine"])
        self.fps_box = actions.build_cine_controls(toolbar, self.viewer)
        self.slab_mode_box, self.slab_mm_box = actions.build_slab_controls(toolbar, self.viewer)
        self.stack_box = actions.build_stack_selector(toolbar)
        self.review_actions = self.review.build_menu(self.menuBar().addMenu("&AI review"))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(actions.make_action(self, "Keys…", "F1", self._on_keys_triggered))
        self._on_studies_recent_changed()

    def _build_reading_menu(self, menu: QMenu) -> None:
        """Concurrent (AI shown at once) or read first (own findings first, then reveal): a per-user setting."""
        group = QActionGroup(self)
        self.reading_actions = {}
        texts = {ReadingMode.CONCURRENT: "Concurrent: AI findings shown at once",
                 ReadingMode.READ_FIRST: "Read first: mark my findings, then reveal the AI"}  # fmt: skip
        for mode, text in texts.items():
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(mode is self.studies.settings.reading_mode)
            action.triggered.connect(lambda _checked=False, m=mode: self._on_reading_mode_triggered(m))
            group.addAction(action)
            self.reading_actions[mode] = action

    def _connect(self) -> None:
        self.browser.series_activated.connect(self.series.open)
        self.studies.series_chosen.connect(self.series.open)
        self.browser.result_activated.connect(self._on_browser_result_activated)
        self.studies.scan_finished.connect(self.results.list_results)
        self.series.loaded.connect(self.results.on_series_loaded)
        self.studies.progress.connect(self._on_task_progress)
        self.studies.busy_changed.connect(self._on_studies_busy_changed)
        self.studies.recent_changed.connect(self._on_studies_recent_changed)
        self.series.load_progress.connect(self._on_task_progress)
        self.series.stacks_changed.connect(self._on_series_stacks_changed)
        self.series.loaded.connect(self._on_series_loaded)
        self.series.loaded.connect(self.review.on_series_loaded)
        self.review.preference_changed.connect(self._on_review_preference_changed)
        self.review.analysis.progress.connect(self._on_task_progress)
        self.review.exports.controller.progress.connect(self._on_task_progress)
        self.stack_box.activated.connect(self._on_stack_box_activated)
        self.cancel_button.clicked.connect(self.studies.cancel)
        self.viewer.state.display_changed.connect(self._on_state_display_changed)
        self.viewer.state.volume_changed.connect(self._on_state_volume_changed)
        self.notes.notified.connect(self._on_notes_notified)

    # -- slots -----------------------------------------------------------------------------

    def open_path(self, path: Path) -> None:
        self.studies.open(path)

    def _on_open_folder_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if folder:
            self.open_path(Path(folder))

    def _on_open_dicomdir_triggered(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a DICOMDIR", "", "DICOMDIR (DICOMDIR);;All files (*)")
        if name:
            self.open_path(Path(name))

    def _on_studies_recent_changed(self) -> None:
        self.recent_menu.clear()
        for folder in self.studies.settings.recent_folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _checked=False, f=folder: self.open_path(Path(f)))
        self.recent_menu.setEnabled(bool(self.studies.settings.recent_folders))

    def _on_task_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setVisible(total > 0 and done < total)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status_label.setText(message)

    def _on_studies_busy_changed(self, busy: bool) -> None:
        if busy:  # a folder is being opened: show its studies
            self.strips.expand(self.browser_dock)
        self.cancel_button.setVisible(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.status_label.setText("Scanning…")
        else:
            self.status_label.setText("Double-click a series (or select it and press Enter) to open it.")

    def _on_browser_result_activated(self, sop_instance_uid: str) -> None:
        self.results_dock.raise_()
        self.results.activate(sop_instance_uid)

    def _on_series_stacks_changed(self, sizes: tuple[int, ...], shown: int) -> None:
        self.stack_box.clear()
        self.stack_box.addItems([f"{i + 1}: {n} images" for i, n in enumerate(sizes)])
        self.stack_box.setCurrentIndex(shown)
        self.stack_box.setEnabled(len(sizes) > 1)

    def _on_stack_box_activated(self, index: int) -> None:
        self.series.open(self.series.series_uid, stack=index)

    def _on_series_loaded(self, _series_uid: str) -> None:
        self.progress.setVisible(False)
        volume = self.viewer.state.volume
        suspect = volume is not None and corner_info.pixel_problems(volume)
        self.status_label.setText("Series loaded — ⚠ pixel data probably corrupt." if suspect else "Series loaded.")

    def _ask_display_name(self) -> str:
        """Edit ▸ Preferences: the reviewer's display name, saved once for every later sign-off."""
        current = self.studies.settings.reviewer_display_name
        name = review_dialogs.ask_text(self, "Preferences", "Your name as it appears on sign-offs:", current)
        if name is None or not name.strip():
            return current
        self.studies.settings = dataclasses.replace(self.studies.settings, reviewer_display_name=name.strip())
        try:
            self.studies.settings.save_preferences()
        except OSError as exc:
            self.notes.notify(Level.WARNING, f"Preferences could not be saved: {exc.strerror}")
        self.review.review.set_display_name(name.strip())
        return name.strip()

    def _on_reading_mode_triggered(self, mode: ReadingMode) -> None:
        self.review.set_reading_mode(mode)
        self._on_review_preference_changed("reading_mode", mode)

    def _on_review_preference_changed(self, name: str, value: Any) -> None:
        self.studies.settings = dataclasses.replace(self.studies.settings, **{name: value})
        try:
            self.studies.settings.save_preferences()
        except OSError as exc:
            self.notes.notify(Level.WARNING, f"Preferences could not be saved: {exc.strerror}")

    def _on_keys_triggered(self) -> None:
        review_dialogs.show_text(self, "Keys", actions.key_table(self))

    def _on_state_volume_changed(self) -> None:
        """A series opened: the study browser steps aside to a strip (one click brings it back)."""
        if self.viewer.state.volume is not None:
            self.strips.collapse(self.browser_dock)

    def _on_notes_notified(self, _level: str, _text: str) -> None:
        self.strips.count_unseen(self.notes_dock)

    def _on_state_display_changed(self) -> None:
        self.browser.set_privacy(self.viewer.state.privacy)

    # -- window events ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(Path(urls[0].toLocalFile()))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.review.analysis.busy:
            yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
            question = "An AI analysis is running. Quit and cancel it?"
            if QMessageBox.question(self, "Quit MedDiag Desktop", question, yes | no, no) != yes:
                event.ignore()  # the run goes on and the window stays
                return
        # Quitting cancels every task, the AI run too (it stops at its next step; nothing of it is stored).
        self.viewer.set_cine(False)
        self.runner.shutdown()
        self.decode_pool.close()
        self.review.review.close_store()
        super().closeEvent(event)
