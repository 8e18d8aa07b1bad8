"""Assembles the review: panel, controllers, overlays, key and export actions, and wires them together.

Slots here read a widget, call one controller method and return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from meddiag_desktop.core.ood import CheckStatus
from meddiag_desktop.inference.analyze import DEFAULT_CLS_MODEL
from meddiag_desktop.review.model import Decision, ReviewStatus, SignOffSummary
from meddiag_desktop.ui.actions import make_action
from meddiag_desktop.ui.controllers.analysis_controller import AnalysisController
from meddiag_desktop.ui.controllers.edit_controller import EditController, EditMode
from meddiag_desktop.ui.controllers.measurement_controller import MeasurementController
from meddiag_desktop.ui.controllers.review_controller import ReviewController
from meddiag_desktop.ui.dialogs import ood_dialog, review_dialogs
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.review.export_actions import ExportActions
from meddiag_desktop.ui.review.oversight import Oversight
from meddiag_desktop.ui.review.review_keys import application_wide, guarded
from meddiag_desktop.ui.review.review_overlays import ReviewOverlays
from meddiag_desktop.ui.review.review_panel import ReviewPanel
from meddiag_desktop.ui.viewer.slice_view import PAINT_TOOLS, Tool

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMainWindow, QMenu

    from meddiag_desktop.config import ReadingMode, Settings
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget
    from meddiag_desktop.ui.workers import TaskRunner

THRESHOLD_RECORD_MS = 800
EXPLAIN_MS = 6000
UNDO_TIP = "Undo the last decision (Ctrl+Z), until sign-off; the undo is audited and nothing is deleted"
UNDO_OFF_TIP = "Undo is off: the review is signed off (read-only); amend it (with a reason) to change it"

REVIEW_KEYS = (
    ("run", "Run AI on this series", "Ctrl+I"),
    ("card", "Segmentation model card…", ""),
    ("cls_card", "Classification model card…", ""),
    ("overlays", "Toggle all AI overlays", "O"),
    ("next", "Next finding", "N"),
    ("previous", "Previous finding", "P"),
    ("undecided", "Next undecided finding", "U"),
    ("accept", "Accept finding", "A"),
    ("reject", "Reject finding…", "R"),
    ("edit", "Edit finding's mask", "E"),
    ("add", "Draw a missed lesion", "D"),
    ("save_mask", "Save edited mask", "Ctrl+Return"),
    ("cancel_edit", "Cancel mask edit", "Esc"),
    ("undo", "Undo (the brush stroke while editing, else the last decision)", "Ctrl+Z"),
    ("redo", "Redo stroke", "Ctrl+Shift+Z"),
    ("smaller", "Smaller brush", "["),
    ("larger", "Larger brush", "]"),
    ("sign", "Sign off review…", "Ctrl+Shift+S"),
    ("amend", "Amend signed review…", ""),
    ("reveal", "Reveal AI findings (read first)", "Ctrl+Shift+R"),
    ("history", "Review history", ""),
    ("stats", "AI statistics…", ""),
)
MenuMaps = tuple["NDArray[Any] | None", "NDArray[Any] | None"]


class ReviewScreen(QObject):
    """The review dock and its controllers for one main window."""

    preference_changed = Signal(str, object)  # Settings field, new value (the main window saves it)

    def __init__(self, settings: Settings, runner: TaskRunner, viewer: ViewerWidget, notes: NotificationPanel,
                 ask_display_name: Callable[[], str], parent: QMainWindow) -> None:  # fmt: skip
        super().__init__(parent)
        self._window, self._viewer, self._notes, self._ask_name = parent, viewer, notes, ask_display_name
        self.panel = ReviewPanel()
        self.analysis = AnalysisController(settings, runner, notes, self)
        self.review = ReviewController(settings, notes, self)
        self.measurements = MeasurementController(viewer.store, self.review, lambda: viewer.state.info.study_uid,
                                                  notes, self)  # fmt: skip
        self.overlays = ReviewOverlays(viewer, self.review, self)
        self.editing = EditController(viewer, self.review, notes, self, runner=runner, registry=self.analysis.registry,
                                      threads=settings.inference_threads)  # fmt: skip
        self.exports = ExportActions(settings, runner, viewer, self.review, self.panel, notes, parent)
        self.oversight = Oversight(settings, runner, self.review, notes, self.editing.cancel, parent)
        self._fresh_maps: dict[str, MenuMaps] = {}  # run id -> maps of a run made in this session
        self._maps_run = ""  # the run whose maps are on screen ("" = none)
        self._amend_series = self._amend_reason = ""  # a Run AI on a signed review, waiting for its result
        self._threshold_timer = QTimer(self, singleShot=True, interval=THRESHOLD_RECORD_MS)
        self.actions: dict[str, QAction] = {}  # review keys stay enabled: one that cannot act says why
        self._undo_decision = guarded("undo_decision", self.review, self.review.undo, self._explain)
        self._connect_controllers()
        self._connect_panel()
        self.panel.model_label.setText(f"Model: {self.analysis.model_label()}")
        self.panel.set_threshold_text(0.0)
        self.panel.auto_run.setChecked(settings.auto_run_ai)
        self._refresh()

    def build_menu(self, menu: QMenu) -> dict[str, QAction]:
        slots: dict[str, Callable[[], object]] = {
            "run": self._on_run_triggered, "card": self._on_card_triggered, "overlays": self._on_overlays_triggered,
            "cls_card": self._on_cls_card_triggered, "reveal": self.review.reveal,
            "history": self._on_history_triggered, "stats": self.oversight.show_stats,
            "next": lambda: self.review.step(1), "previous": lambda: self.review.step(-1),
            "accept": self._on_accept_triggered, "reject": self._on_reject_triggered, "edit": self._on_edit_triggered,
            "add": self._on_add_triggered, "save_mask": self.editing.save, "cancel_edit": self.editing.cancel,
            "undo": self._on_undo_triggered, "redo": self.editing.redo, "undecided": self._on_undecided_triggered,
            "smaller": lambda: self.editing.set_radius(self.editing.radius_mm - 0.5),
            "larger": lambda: self.editing.set_radius(self.editing.radius_mm + 0.5),
            "sign": self._on_sign_triggered, "amend": self._on_amend_triggered,
        }  # fmt: skip
        for name, text, key in REVIEW_KEYS:
            self.actions[name] = make_action(self._window, text, key, guarded(name, self.review, slots[name],
                                                                                self._explain))  # fmt: skip
            application_wide(name, self.actions[name])
            menu.addAction(self.actions[name])
            if name in ("cls_card", "undecided", "add", "larger", "reveal"):
                menu.addSeparator()
        menu.addSeparator()
        menu.addActions(list(self.exports.actions.values()))
        self.actions.update(self.exports.actions)
        self._refresh()
        return self.actions

    # -- wiring ------------------------------------------------------------------------------

    def _connect_controllers(self) -> None:
        self.analysis.busy_changed.connect(self._on_analysis_busy_changed)
        self.analysis.refusal_changed.connect(self._on_analysis_busy_changed)  # both only refresh the panel
        self.analysis.finished.connect(self._on_analysis_finished)
        self.analysis.override_needed.connect(self._on_analysis_override_needed)
        self.review.state_changed.connect(self._on_review_state_changed)
        self.review.selection_changed.connect(self._on_review_selection_changed)
        self.review.threshold_changed.connect(self._on_review_threshold_changed)
        self.review.signed.connect(self._on_review_signed)
        self.review.saving_changed.connect(self._on_review_saving_changed)
        self.editing.changed.connect(self._on_editing_changed)
        self.measurements.listed.connect(self.panel.show_measurements)
        self.overlays.heat_changed.connect(self._on_overlays_heat_changed)
        self._viewer.state.volume_changed.connect(self._on_state_volume_changed)
        self._viewer.state.loading_changed.connect(self._on_state_loading_changed)
        self._viewer.tool_changed.connect(self._on_viewer_tool_changed)
        self._threshold_timer.timeout.connect(self.review.record_threshold)

    def _connect_panel(self) -> None:
        p = self.panel
        p.run_button.clicked.connect(self._on_run_triggered)
        p.cancel_button.clicked.connect(self.analysis.cancel)
        p.card_button.clicked.connect(self._on_card_triggered)
        p.cls_card_button.clicked.connect(self._on_cls_card_triggered)
        p.reveal_button.clicked.connect(self.review.reveal)
        p.auto_run.toggled.connect(self._on_auto_run_toggled)
        p.table.finding_chosen.connect(self.review.select)
        p.table.finding_activated.connect(self._on_table_finding_activated)
        p.accept_button.clicked.connect(self._on_accept_triggered)
        p.reject_button.clicked.connect(self._on_reject_triggered)
        p.edit_button.clicked.connect(self._on_edit_triggered)
        p.add_button.clicked.connect(self._on_add_triggered)
        p.sign_button.clicked.connect(self._on_sign_triggered)
        p.amend_button.clicked.connect(self._on_amend_triggered)
        p.undo_button.clicked.connect(self._undo_decision)
        p.shown.toggled.connect(self.overlays.set_shown)
        p.style_box.currentIndexChanged.connect(self._on_look_changed)
        p.opacity.valueChanged.connect(self._on_look_changed)
        p.heat_box.currentIndexChanged.connect(self._on_heat_changed)
        p.heat_opacity.valueChanged.connect(self._on_heat_changed)
        p.threshold.valueChanged.connect(self._on_threshold_value_changed)
        e = p.edit_bar
        e.brush.clicked.connect(lambda: self._viewer.set_tool(Tool.BRUSH))
        e.eraser.clicked.connect(lambda: self._viewer.set_tool(Tool.ERASER))
        e.radius.valueChanged.connect(self.editing.set_radius)
        e.undo.clicked.connect(self.editing.undo)
        e.redo.clicked.connect(self.editing.redo)
        e.save.clicked.connect(self.editing.save)
        e.cancel.clicked.connect(self.editing.cancel)

    # -- series and AI runs ------------------------------------------------------------------

    def on_series_loaded(self, series_uid: str) -> None:
        """A series is fully loaded: restore its newest review, or run the AI if the user asked for that."""
        self.review.restore_latest(series_uid, self._on_review_restored)
        self._refresh()

    def _on_review_restored(self, restored: bool) -> None:
        if restored:
            self._notes.notify(Level.INFO, "The stored AI review of this series was restored.")
        elif self.auto_run and self.analysis.matches(self._viewer.state.volume):
            self._on_run_triggered()
        self._refresh()

    @property
    def auto_run(self) -> bool:
        """The ``auto_run_ai`` preference, honoured in concurrent mode only (read first: the user starts)."""
        return self.panel.auto_run.isChecked() and not self.review.read_first

    def set_reading_mode(self, mode: ReadingMode) -> None:
        self.review.set_reading_mode(mode)
        self._refresh()

    def _on_auto_run_toggled(self, checked: bool) -> None:
        self.preference_changed.emit("auto_run_ai", checked)

    def _on_state_volume_changed(self) -> None:
        self.editing.cancel()
        self.analysis.forget()
        self.review.close()

    def _on_state_loading_changed(self, _loading: bool) -> None:
        self._refresh()

    def _on_run_triggered(self) -> None:
        state = self._viewer.state
        if state.volume is None or state.loading:
            self._notes.notify(Level.INFO, "Open a series and let it load before running the AI.")
            return
        self._amend_series = self._amend_reason = ""
        signed = self.review.state
        if signed is not None and signed.signoff is not None and signed.series_uid == state.volume.series_instance_uid:
            s = signed.signoff
            who = f"{s.display_name} ({s.os_user})" if s.display_name else s.os_user
            reason = review_dialogs.ask_amend_for_run(self._window, signed.latest_version or signed.version, who)
            if reason is None:
                self._notes.notify(Level.INFO, "AI not run: the signed review stays as it is.")
                return
            self._amend_series, self._amend_reason = signed.series_uid, reason
        self.analysis.run(state.volume, state.info.study_uid, self.review.actor)

    def _on_analysis_override_needed(self, check: InputCheck) -> None:
        """Soft issues: the radiologist types why (recorded and audited) or the AI is not run."""
        reason = ood_dialog.ask_override(self._window, check)
        if reason is None:
            self.analysis.decline_override()
        else:
            self.review.record_override(check, self._viewer.state.info.study_uid, reason, self._on_override_recorded)

    def _on_override_recorded(self, overridden: InputCheck | None) -> None:
        if overridden is None:
            self.analysis.decline_override()
        else:
            self.analysis.run_overridden(overridden)

    def _on_analysis_busy_changed(self, _busy_or_refusal: bool | str) -> None:
        self._refresh()

    def _on_analysis_finished(self, outcome: Any) -> None:
        volume = self._viewer.state.volume
        if volume is None or volume.series_instance_uid != outcome.series_uid:
            return
        self._fresh_maps[outcome.run_id] = (outcome.result.probability, outcome.saliency)
        if self._amend_series == outcome.series_uid:
            self.review.amend_with_run(self._amend_reason, outcome.run_id)
        else:
            self.review.open_run(outcome.run_id)
        self._amend_series = self._amend_reason = ""
        if self.review.read_first:  # a new run opens hidden in read-first mode (shown once the store has it)
            self._notes.notify(Level.INFO, "AI finished; its findings stay hidden (read first): mark your own "
                               "findings (D), then Reveal AI findings (Ctrl+Shift+R).")  # fmt: skip
        else:
            count = len(outcome.result.findings)
            self._notes.notify(Level.INFO, f"AI ({self.analysis.model_label()}) found {count} finding(s).")

    def _sync_maps(self) -> None:
        """Show the heat maps of the run on screen: none while hidden (read first), fresh or stored ones."""
        state = self.review.state
        run = "" if state is None or state.ai_hidden else state.run_id
        if run == self._maps_run:
            return
        self._maps_run = run
        if not run:
            probability, saliency = None, None
        elif run in self._fresh_maps:
            probability, saliency = self._fresh_maps[run]
        else:
            maps = self.review.stored_maps()
            probability, saliency = maps.get("probability"), maps.get("saliency")
        self.overlays.set_maps(probability, saliency)
        self.editing.probability = probability

    def _on_card_triggered(self) -> None:
        review_dialogs.show_text(self._window, "Segmentation model card", self.analysis.model_card())

    def _on_cls_card_triggered(self) -> None:
        model = self.analysis.cls_model or DEFAULT_CLS_MODEL
        review_dialogs.show_text(self._window, "Classification model card", self.analysis.model_card(model))

    def _on_history_triggered(self) -> None:
        dock = self.oversight.history.parentWidget()
        if dock is not None:
            dock.show()
            dock.raise_()

    # -- decisions ---------------------------------------------------------------------------

    def _on_accept_triggered(self) -> None:
        self.review.accept()

    def _on_reject_triggered(self) -> None:
        if self.review.selected_finding() is None or not self.review.editable:
            return
        choice = review_dialogs.ask_reject(self._window, self.review.selected)
        if choice is not None:
            self.review.reject(*choice)

    def _on_edit_triggered(self) -> None:
        if self.editing.begin_edit():
            self._viewer.set_tool(Tool.BRUSH)

    def _on_add_triggered(self) -> None:
        if self.editing.begin_add():
            self._viewer.set_tool(Tool.BRUSH)

    def _on_undecided_triggered(self) -> None:
        if not self.review.next_undecided():
            self._explain("Every finding is decided: none left to review (sign off with Ctrl+Shift+S).")

    def _on_undo_triggered(self) -> None:
        """Ctrl+Z: a brush stroke while a mask is being edited, else the review's last decision."""
        if self.editing.mode is EditMode.NONE:
            self._undo_decision()
        else:
            self.editing.undo()

    def _explain(self, why: str) -> None:
        """A review key that cannot act says why (notification area and status bar)."""
        self._notes.notify(Level.INFO, why)
        self._window.statusBar().showMessage(why, EXPLAIN_MS)

    def _on_sign_triggered(self) -> None:
        if self.review.state is None:
            return
        if not self.review.actor.display_name:
            self.review.set_display_name(self._ask_name())
        if not self.review.actor.display_name:
            self._notes.notify(Level.WARNING, "Set your display name (Edit ▸ Preferences) before signing off.")
            return
        self.editing.cancel()
        state, actor = self.review.state, self.review.actor
        if not review_dialogs.confirm_sign_off(self._window, SignOffSummary.of(state), state.version, actor.os_user,
                                               actor.display_name):  # fmt: skip
            self._notes.notify(Level.INFO, "Not signed: the review stays open.")
            return
        self.review.sign_off()

    def _on_review_signed(self, _state: ReviewState) -> None:
        actor = self.review.actor
        self._notes.notify(Level.INFO, f"Review signed off by {actor.display_name} ({actor.os_user}).")

    def _on_amend_triggered(self) -> None:
        if self.review.state is None or self.review.state.status is not ReviewStatus.SIGNED:
            return
        reason = review_dialogs.ask_text(self._window, "Amend review", "Why is the signed review re-opened?")
        if reason is not None:
            self.review.amend(reason)

    # -- selection, threshold, overlays ------------------------------------------------------

    def _on_review_state_changed(self, _state: ReviewState | None) -> None:
        self._sync_maps()
        self._refresh()

    def _on_review_saving_changed(self, _pending: int) -> None:
        self._refresh_status()

    def _on_review_selection_changed(self, finding_id: str) -> None:
        self.panel.table.select_id(finding_id)
        self._jump(finding_id)
        self._refresh_buttons()

    def _on_table_finding_activated(self, finding_id: str) -> None:
        self.review.select(finding_id)
        self._jump(finding_id)

    def _jump(self, finding_id: str) -> None:
        """To the finding: its centre in-plane, on the slice of its RECIST axes (where they are drawn)."""
        item = self.review.selected_finding()
        if item is None or item.id != finding_id:
            return
        z, y, x = item.finding.centroid_index
        axes = self.overlays.recist_axes()
        self._viewer.state.set_position((float(axes.slice_index) if axes is not None else z, y, x))

    def _on_threshold_value_changed(self, value: int) -> None:
        self.review.set_threshold(value / 100.0)
        self._threshold_timer.start()

    def _on_review_threshold_changed(self, threshold: float) -> None:
        self.panel.set_threshold_text(threshold)
        if round(threshold * 100) != self.panel.threshold.value():
            self.panel.threshold.blockSignals(True)
            self.panel.threshold.setValue(round(threshold * 100))
            self.panel.threshold.blockSignals(False)
        self._refresh_table()

    def _on_overlays_triggered(self) -> None:
        self.panel.shown.setChecked(not self.panel.shown.isChecked())

    def _on_look_changed(self) -> None:
        self.overlays.set_look(self.panel.style_box.currentData(), self.panel.opacity.value() / 100.0)

    def _on_heat_changed(self) -> None:
        self.overlays.set_heat(self.panel.heat_box.currentData(), self.panel.heat_opacity.value() / 100.0)

    def _on_overlays_heat_changed(self, scale: tuple[str, float, float] | None) -> None:
        self.panel.colour_bar.setVisible(scale is not None)
        if scale is not None:
            self.panel.colour_bar.set_scale(*scale)

    def _on_editing_changed(self) -> None:
        bar, editing = self.panel.edit_bar, self.editing
        bar.setVisible(editing.mode is not EditMode.NONE)
        verb = "Editing the mask of" if editing.mode is EditMode.EDIT else "Drawing new finding"
        bar.title.setText(f"{verb} {editing.finding_id}: paint on any view, slice by slice.")
        bar.radius.blockSignals(True)
        bar.radius.setValue(editing.radius_mm)
        bar.radius.blockSignals(False)
        editor = editing.editor
        bar.undo.setEnabled(editor is not None and editor.can_undo)
        bar.redo.setEnabled(editor is not None and editor.can_redo)
        if editing.mode is EditMode.NONE and self._viewer.tool in PAINT_TOOLS:
            self._viewer.set_tool(Tool.WINDOW)

    def _on_viewer_tool_changed(self, tool: Tool) -> None:
        self.panel.edit_bar.eraser.setChecked(tool is Tool.ERASER)
        self.panel.edit_bar.brush.setChecked(tool is not Tool.ERASER)

    # -- panel refresh -----------------------------------------------------------------------

    def _refresh(self) -> None:
        self._refresh_table()
        self._refresh_status()
        self._refresh_buttons()

    def _refresh_table(self) -> None:
        state = self.review.state
        rows = [] if state is None else [
            (item, self.overlays.colours.get(item.id, 1), self.review.visible(item))
            for item in state.findings if self.review.listed(item)
        ]  # fmt: skip
        check = self.review.input_check if state is not None else None
        self.panel.table.show_findings(rows, self._viewer.state.volume, self.review.selected, check)

    def _refresh_status(self) -> None:
        state = self.review.state
        saving = " · saving to the review store…" if self.review.saving and state is not None else ""
        refused = self.analysis.refusal(self._viewer.state.info.series_uid)
        self.panel.status.setText((refused + "\n" if refused else "") + status_text(state, bool(refused)) + saving)
        hidden = state is not None and state.ai_hidden
        self.panel.reading_label.setVisible(self.review.read_first or (state is not None and state.read_first))
        self.panel.reading_label.setText(reading_text(state, self.review.read_first))
        self.panel.reveal_button.setVisible(hidden)
        self.panel.auto_run.setEnabled(not self.review.read_first)
        banner = input_check_text(self.review.input_check if state is not None else None, self._viewer.state.volume)
        self.panel.input_check_label.setText(banner)
        self.panel.input_check_label.setVisible(state is not None and bool(banner))

    def _refresh_buttons(self) -> None:
        p, state = self.panel, self._viewer.state
        busy, open_ = self.analysis.busy, self.review.editable
        chosen = self.review.selected_finding() is not None
        refused = self.analysis.refusal(state.info.series_uid)
        p.run_button.setEnabled(state.volume is not None and not state.loading and not busy and not refused)
        p.run_button.setText("Run AI (Ctrl+I)" if not busy else "AI running…")  # the models are named above it
        p.run_button.setToolTip(refused or f"Run {self.analysis.model_label()} on this series")
        p.cancel_button.setEnabled(busy)
        for button in (p.accept_button, p.reject_button, p.edit_button):
            button.setEnabled(open_ and chosen)
        p.add_button.setEnabled(open_)
        review = self.review.state
        hidden = review is not None and review.ai_hidden
        p.sign_button.setEnabled(open_ and not hidden)
        p.reveal_button.setEnabled(open_ and hidden)
        signed = review is not None and review.status is ReviewStatus.SIGNED and not review.historical
        p.amend_button.setEnabled(signed)
        p.undo_button.setEnabled(open_ and review is not None and any(f.decision.decided for f in review.findings))
        p.undo_button.setToolTip(UNDO_TIP if open_ or review is None else UNDO_OFF_TIP)


def status_text(state: ReviewState | None, refused: bool = False) -> str:
    """One line: version, open or signed (by whom, when), decided count, amendment reason."""
    if state is None:
        return "No AI review for this series." if refused else "No AI review for this series yet: press Run AI."
    decided = sum(f.decision is not Decision.PENDING for f in state.findings)
    shown = f"v{state.version}" + (f" of {state.latest_version} (from the history)" if state.historical else "")
    head = f"Review {shown} · {decided} of {len(state.findings)} findings decided"
    if state.signoff is not None:
        s = state.signoff
        who = f"{s.display_name} ({s.os_user})" if s.display_name else s.os_user
        when = s.time_utc[:19].replace("T", " ")
        return f"{head} · SIGNED by {who} at {when} UTC (threshold {s.threshold:.2f}); read-only."
    amended = f" · amendment: {state.amendment_reason}" if state.amendment_reason else ""
    return f"{head} · open{amended}"


def input_check_text(check: InputCheck | None, volume: Volume | None) -> str:
    """The banner over the findings: the run's override (who, why) and the series' geometry warnings."""
    parts = []
    if check is not None and check.status is CheckStatus.OVERRIDDEN and check.override is not None:
        o = check.override
        issues = "; ".join(i.message for i in check.soft)
        parts.append(f"⚠ AI run by override of {o.who}. Reason: “{o.reason}” · Outside the validated range: {issues}")
    shown = " ".join(parts)
    warnings = [w.message for w in volume.warnings] if volume is not None else []
    parts += [f"⚠ Series: {w}" for w in warnings if w not in shown]
    return "\n".join(parts)


def reading_text(state: ReviewState | None, read_first: bool) -> str:
    """The read-first banner: what to do now, or when the AI was revealed."""
    if state is not None and state.ai_hidden:
        own = sum(f.origin != "ai" for f in state.findings)
        return (f"Read first: the AI's result is ready and hidden. Mark your own findings (D; {own} so far), "
                "then reveal the AI with one action.")  # fmt: skip
    if state is not None and state.read_first and state.revealed_utc:
        return f"Read first: AI revealed at {state.revealed_utc[:19].replace('T', ' ')} UTC, after your own read."
    return "Read first: the AI's findings stay hidden until you have marked your own." if read_first else ""
