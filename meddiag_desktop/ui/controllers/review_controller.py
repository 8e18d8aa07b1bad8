"""The open review: every store write goes to one writer thread (``StoreWriter``); the GUI never waits.

A model without views: it emits ``state_changed`` and ``selection_changed``; the findings panel
and the overlays listen. A decision (accept, reject, edit, add) shows at once, marked as being
saved, and the state the store returns replaces it when the write is done; if the write fails,
the error is shown and the stored state comes back. Opening, amending, revealing and signing
show when the store has them. Reads for display use a second connection (WAL: never blocked by
a writer). Errors (a signed review, a missing reason) reach the notification area.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.config import ReadingMode
from meddiag_desktop.errors import MeddiagError, ReviewStateError
from meddiag_desktop.review import navigation
from meddiag_desktop.review.audit import Actor
from meddiag_desktop.review.history import review_history
from meddiag_desktop.review.model import (
    ClassStatus,
    Decision,
    RecomputedClass,
    RejectReason,
    ReviewFinding,
    ReviewStatus,
)
from meddiag_desktop.review.ood_record import record_override, run_input_check
from meddiag_desktop.review.reclassify import marked_recomputing, record_class
from meddiag_desktop.review.service import ReviewService, next_added_id, stored_maps
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.store_writer import StoreWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import numpy as np
    from numpy.typing import NDArray

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.review.history import HistoryItem
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.review.reclassify import ClassResult
    from meddiag_desktop.ui.panels import NotificationPanel

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 2.0
NO_REVIEW = "No AI review open: press Run AI (Ctrl+I) first."


class ReviewController(QObject):
    """One review at a time, for the series on screen."""

    state_changed = Signal(object)  # ReviewState | None
    selection_changed = Signal(str)  # finding id ("" = none)
    threshold_changed = Signal(float)
    saving_changed = Signal(int)  # review actions waiting to be stored
    signed = Signal(object)  # ReviewState, once a sign-off is stored

    def __init__(self, settings: Settings, notes: NotificationPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings, self._notes = settings, notes
        self._writer: StoreWriter | None = None
        self._reader: sqlite3.Connection | None = None
        self.actor = Actor(settings.os_user, settings.reviewer_display_name)
        self.reading_mode = settings.reading_mode
        self.state: ReviewState | None = None
        self.selected = ""
        self.threshold = 0.0
        self._recorded_threshold = 0.0
        self._thresholds: dict[str, float] = {}  # per series: the slider is not global (issue 11)
        self.input_check: InputCheck | None = None  # of the shown run (None: not recorded, or no review)
        self._checked_run = ""
        self._generation = 0  # bumped when the series on screen changes: results for the old one are dropped
        self._unsettled = 0  # decisions shown before the store has them
        self._stored: ReviewState | None = None  # the store's state after the last of them (None: it failed)
        self._recomputing: dict[str, int] = {}  # finding id -> edited mask version whose class is being computed
        self._sign_when_classified = False  # sign-off asked for while a class was being recomputed
        self._closed = False

    # -- store -----------------------------------------------------------------------------

    @property
    def writer(self) -> StoreWriter:
        """The one thread that writes the review store (started with the first job)."""
        if self._writer is None:
            path, config = self._settings.review_store_path, self._settings.config_dir
            self._writer = StoreWriter(lambda: ReviewService(ReviewStore(path, config), self.actor), self)
            self._writer.errored.connect(self._notes.report)
            self._writer.waiting.connect(self._on_writer_waiting)
            self._writer.pending_changed.connect(self.saving_changed)
        return self._writer

    @property
    def saving(self) -> int:
        return 0 if self._writer is None else self._writer.pending

    def set_display_name(self, name: str) -> None:
        self.actor = Actor(self.actor.os_user, name)

    @property
    def read_first(self) -> bool:
        return self.reading_mode is ReadingMode.READ_FIRST

    def set_reading_mode(self, mode: ReadingMode) -> None:
        """Applies to reviews (and amendments with a new run) opened from now on."""
        self.reading_mode = mode

    def close_store(self) -> None:
        """Write everything still queued, then close both connections (the app is quitting)."""
        if self._writer is not None and not self._writer.close():
            log.error("%d review action(s) could not be saved before closing", self._writer.pending)
        if self._reader is not None:
            self._reader.close()
        self._writer = self._reader = None
        self._closed = True  # a class arriving from a worker now is not written (restore says it is missing)

    def submit(self, run: Callable[[ReviewService], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> None:  # fmt: skip
        """Queue ``run`` for the writer as the current actor; ``on_done`` is dropped if the series changed."""
        actor, generation = self.actor, self._generation

        def as_actor(service: ReviewService) -> Any:
            service.actor = actor
            return run(service)

        def done(result: Any) -> None:
            if on_done is not None and generation == self._generation:
                on_done(result)

        def failed(exc: BaseException) -> None:
            if on_error is not None and generation == self._generation:
                on_error(exc)
            else:
                self._notes.report(exc)

        with self._reporting():
            self.writer.submit(as_actor, done, failed)

    def read_db(self) -> sqlite3.Connection | None:
        """The GUI thread's read-only connection (None while no store exists)."""
        path = self._settings.review_store_path
        if self._reader is None and path.exists():
            self._reader = sqlite3.connect(path, timeout=READ_TIMEOUT_S, isolation_level=None)
            self._reader.execute("PRAGMA query_only=ON")
        return self._reader

    @contextmanager
    def _reporting(self) -> Iterator[None]:
        """The one place review errors become a plain sentence for the user."""
        try:
            yield
        except MeddiagError as exc:
            self._notes.report(exc)
        except sqlite3.Error as exc:
            self._notes.report(ReviewStateError(f"The review store could not be read ({exc})."))

    def _on_writer_waiting(self, message: str) -> None:
        self._notes.notify(Level.WARNING, message)

    # -- opening -----------------------------------------------------------------------------

    def open_run(self, run_id: str) -> None:
        read_first = self.read_first
        self.submit(lambda s: s.open_review(run_id, read_first=read_first), self._show_opened)

    def amend_with_run(self, reason: str, run_id: str) -> None:
        """A new AI run on a signed review: a new version reviewing that run (the signed one stays)."""
        if self.state is not None:
            state, read_first = self.state, self.read_first
            self.submit(lambda s: s.amend(state, reason, run_id, read_first), self._show_opened)

    def reveal(self) -> None:
        """Read first: show the AI's findings (an audit event recording what was found before)."""
        if self.state is not None and self.state.ai_hidden:
            state = self.state
            self.submit(lambda s: s.reveal_ai(state), self._show_opened)

    def open_version(self, version: int | None) -> None:
        """Show ``version`` of the open review (read-only unless it is the newest); None: the newest."""
        if self.state is not None:
            review_id = self.state.review_id
            self.submit(lambda s: s.restore(review_id, version), self._show_opened)

    def _show_opened(self, state: ReviewState) -> None:
        self._set_state(state)
        self.select(navigation.first_id(self.state))

    def history(self) -> list[HistoryItem]:
        if self.state is None:
            return []
        with self._reporting():
            db = self.read_db()
            return [] if db is None else review_history(db, self.state.review_id)
        return []

    def restore_latest(self, series_uid: str, on_done: Callable[[bool], None]) -> None:
        """Re-open the newest stored review of ``series_uid``; ``on_done(True)`` when there was one."""
        read_first = self.read_first

        def newest(service: ReviewService) -> ReviewState | None:
            runs = service.runs_for_series(series_uid)
            return service.open_review(runs[0][0], read_first=read_first) if runs else None

        def shown(state: ReviewState | None) -> None:
            if state is not None:
                self._show_opened(state)
            on_done(state is not None)

        self.submit(newest, shown)

    def record_override(self, check: InputCheck, study_uid: str, reason: str,
                        on_done: Callable[[InputCheck | None], None]) -> None:  # fmt: skip
        """Keep the radiologist's override of the input check (audited); ``on_done(check with it)``, None on error."""

        def failed(exc: BaseException) -> None:
            self._notes.report(exc)
            on_done(None)

        models = "; ".join(check.models)
        self.submit(lambda s: record_override(s, check, study_uid, models, reason), on_done, failed)

    def stored_maps(self) -> dict[str, NDArray[np.float32]]:
        """Heat maps kept with the current review's AI run (8-bit precision, for display)."""
        with self._reporting():
            db = self.read_db()
            return stored_maps(db, self.state.run_id) if self.state and db else {}
        return {}

    def close(self) -> None:
        self._generation += 1
        self.state, self.selected = None, ""
        self.input_check, self._checked_run = None, ""
        self._unsettled, self._stored = 0, None
        self._recomputing, self._sign_when_classified = {}, False
        self.state_changed.emit(None)
        self.selection_changed.emit("")

    def _set_state(self, state: ReviewState) -> None:
        state = marked_recomputing(state, self._recomputing)
        switched = self.state is None or self.state.series_uid != state.series_uid
        self.state = state
        if state.run_id != self._checked_run:  # the run's input check, read once per run shown
            self._checked_run = state.run_id
            self.input_check = None
            with self._reporting():
                db = self.read_db()
                self.input_check = run_input_check(db, state.run_id) if db is not None else None
        if switched:  # each series keeps its own threshold (0 until the user moves the slider)
            self.threshold = self._recorded_threshold = self._thresholds.get(state.series_uid, 0.0)
        self.state_changed.emit(state)
        if switched:
            self.threshold_changed.emit(self.threshold)
        if state.signoff is not None and state.signoff.threshold != self.threshold:
            self.threshold = self._recorded_threshold = state.signoff.threshold
            self.threshold_changed.emit(self.threshold)

    # -- selection and visibility ------------------------------------------------------------

    def visible(self, item: ReviewFinding) -> bool:
        """Shown on the images: radiologist findings always, AI ones at or above the threshold once revealed."""
        if item.origin != "ai":
            return True
        return self.state is not None and not self.state.ai_hidden and item.finding.max_prob >= self.threshold

    def select(self, finding_id: str) -> None:
        if finding_id == self.selected:
            return
        self.selected = finding_id
        self.selection_changed.emit(finding_id)
        if finding_id and self.state is not None:
            state = self.state
            self.submit(lambda s: s.record_event(state, "finding_shown", finding_id))

    def step(self, delta: int) -> None:
        """Select the next (``+1``) or previous (``-1``) finding, wrapping around."""
        if self.state is None or not self.state.findings:
            return
        chosen = navigation.stepped(self.state, self.selected, delta)
        if chosen:
            self.select(chosen)

    def listed(self, item: ReviewFinding) -> bool:
        """In the findings list: everything, except the AI's findings while they are hidden (read first)."""
        return navigation.is_listed(self.state, item)

    def selected_finding(self) -> ReviewFinding | None:
        if self.state is None or not self.selected:
            return None
        try:
            return self.state.finding(self.selected)
        except KeyError:
            return None

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if self.state is not None:
            self._thresholds[self.state.series_uid] = threshold
        self.threshold_changed.emit(threshold)

    def record_threshold(self) -> None:
        """Audit the threshold once the user lets go of the slider."""
        if self.state is None or self.threshold == self._recorded_threshold:
            return
        state, details = self.state, {"from": self._recorded_threshold, "to": self.threshold}
        self.submit(lambda s: s.record_event(state, "threshold_changed", details=details))
        self._recorded_threshold = self.threshold

    # -- decisions ---------------------------------------------------------------------------

    @property
    def editable(self) -> bool:
        return self.state is not None and self.state.status is ReviewStatus.OPEN

    def accept(self) -> None:
        item = self.selected_finding()
        if self.state is not None and item is not None:
            state, fid = self.state, item.id
            self._decide(item.decided(Decision.ACCEPTED), lambda s: s.accept(state, fid))
            self._advance()

    def reject(self, reason: RejectReason, note: str) -> None:
        item = self.selected_finding()
        if self.state is not None and item is not None:
            state, fid = self.state, item.id
            shown = None if reason is RejectReason.OTHER and not note.strip() else item
            local = shown.decided(Decision.REJECTED, reason, note.strip()) if shown is not None else None
            self._decide(local, lambda s: s.reject(state, fid, reason, note))
            self._advance()

    def save_edit(self, edited: Finding) -> None:
        if self.state is not None:
            state, current = self.state, self.state.finding(edited.id)
            version = current.mask_version + 1
            recomputing = RecomputedClass(ClassStatus.RECOMPUTING, version)
            local = replace(current, finding=edited, mask_version=version, recomputed_class=recomputing)
            self._decide(local.decided(Decision.EDITED), lambda s: s.edit(state, edited))

    # -- the class of an edited mask ---------------------------------------------------------

    @property
    def classes_pending(self) -> int:
        """Edited masks whose class is being computed or stored."""
        return len(self._recomputing)

    def recomputing(self, finding_id: str, mask_version: int) -> None:
        """The class of ``finding_id``'s mask ``mask_version`` is being computed: shown as such, sign-off waits."""
        self._recomputing[finding_id] = mask_version

    def record_class(self, review_id: int, result: ClassResult) -> None:
        """Store the class computed for an edited mask (audited) and show it."""
        fid = result.finding.id
        if self._closed:
            log.warning("the class of %s arrived after the review store was closed; not stored", fid)
            return
        if self.state is None or self.state.review_id != review_id:  # another series is shown: store it only
            self.submit(lambda s: record_class(s, review_id, result))
            return

        def stored(state: ReviewState) -> None:
            self._recomputing.pop(fid, None)
            self._on_decision_stored(state)
            self._sign_if_waiting()

        def failed(exc: BaseException) -> None:
            self._recomputing.pop(fid, None)
            self._on_decision_failed(exc)
            self._sign_if_waiting()

        self._unsettled += 1
        self.submit(lambda s: record_class(s, review_id, result), stored, failed)

    def _sign_if_waiting(self) -> None:
        if self._sign_when_classified and not self._recomputing:
            self._sign_when_classified = False
            self.sign_off()

    def add(self, drawn: Finding) -> None:
        if self.state is not None:
            state = self.state
            taken = drawn.origin != "radiologist" or any(f.id == drawn.id for f in state.findings)
            self._decide(None if taken else ReviewFinding(drawn).decided(Decision.ADDED), lambda s: s.add(state, drawn))
            self.select(drawn.id)

    def undo(self) -> None:
        """Take back the newest decision of the open review (a new audited entry); the store refuses after sign-off."""
        state = self.state
        if state is None:
            return
        self._unsettled += 1
        self.submit(lambda s: s.undo_last(state), self._on_undo_stored, self._on_decision_failed)

    def _on_undo_stored(self, stored: ReviewState) -> None:
        before = self.state
        self._on_decision_stored(stored)
        changed = navigation.undone_id(before, stored)
        if changed is None:
            return
        now = next((f for f in stored.findings if f.id == changed), None)
        text = f"it is {now.decision.value} now" if now is not None else "the lesion you drew is removed"
        self._notes.notify(Level.INFO, f"Undone: the last decision on {changed}; {text}.")
        self.select(changed if now is not None else navigation.first_id(self.state))

    def next_undecided(self) -> str:
        """Select the next undecided finding after the selected one (wrapping); "" when every one is decided."""
        if self.state is None:
            return ""
        chosen = navigation.next_undecided(self.state, self.selected)
        if chosen:
            self.select(chosen)
        return chosen

    def why_not(self, needs_finding: bool = False, needs_open: bool = True) -> str:
        """Why a review key does nothing now, in plain words ("" when it can act)."""
        state = self.state
        if state is None:
            return NO_REVIEW
        if needs_open and state.historical:
            return f"Version {state.version} is shown read-only from the history; open the newest version to change it."
        if needs_open and state.status is ReviewStatus.SIGNED:
            return "This review is signed off and read-only (undo too); amend it (with a reason) to change it."
        if needs_finding and self.selected_finding() is None:
            return "Select a finding first (N / P, U, or click it in the findings list)."
        return ""

    def next_added_id(self) -> str:
        return next_added_id(self.state) if self.state is not None else "R1"

    def _decide(self, local: ReviewFinding | None, write: Callable[[ReviewService], ReviewState]) -> None:
        """Show ``local`` now (unless the store will refuse it) and queue ``write``; settle when it is stored."""
        state = self.state
        if state is None:
            return
        refused = not self.editable or state.historical or (state.ai_hidden and local is not None
                                                             and local.origin == "ai")  # fmt: skip
        self._unsettled += 1
        self.submit(write, self._on_decision_stored, self._on_decision_failed)
        if local is not None and not refused:
            self._set_state(state.with_finding(local))

    def _on_decision_stored(self, stored: ReviewState) -> None:
        self._stored = stored
        self._settle()

    def _on_decision_failed(self, exc: BaseException) -> None:
        self._notes.report(exc)
        self._stored = None
        self._settle(failed=True)

    def _settle(self, failed: bool = False) -> None:
        """After the last queued decision: show the store's state (re-read it if that write failed)."""
        self._unsettled = max(0, self._unsettled - 1)
        if self._unsettled or self.state is None:
            return
        if self._stored is not None and not failed:
            stored = marked_recomputing(self._stored, self._recomputing)
            if _shown_as(stored) == _shown_as(self.state):
                self.state = stored  # what is on screen is stored: no redraw
            else:
                self._set_state(stored)
        else:
            review_id = self.state.review_id
            self.submit(lambda s: s.restore(review_id), self._set_state)

    def sign_off(self) -> None:
        """Queue the sign-off (after every decision before it); ``signed`` is emitted once it is stored."""
        if self.state is None:
            return
        if self._recomputing:  # the class of an edit is on its way: the signed record must include it
            self._sign_when_classified = True
            waiting = ", ".join(sorted(self._recomputing))
            self._notes.notify(Level.INFO, f"Signing off as soon as the class of {waiting} is recomputed.")
            return
        self.record_threshold()
        state, threshold = self.state, self.threshold
        self.submit(lambda s: s.sign_off(state, threshold), self._on_signed)

    def _on_signed(self, state: ReviewState) -> None:
        self._set_state(state)
        self.signed.emit(state)

    def amend(self, reason: str) -> None:
        if self.state is not None:
            state = self.state
            self.submit(lambda s: s.amend(state, reason), self._set_state)

    def _advance(self) -> None:
        """After a decision, move on to the next undecided finding (if any)."""
        chosen = navigation.after_decision(self.state, self.selected) if self.state is not None else ""
        if chosen:
            self.select(chosen)


def _shown_as(state: ReviewState) -> tuple[object, ...]:
    """What the panel and overlays show of ``state`` (masks by their version: arrays do not compare with ==)."""
    items = tuple((f.id, f.decision, f.reason, f.note, f.mask_version, f.recomputed_class) for f in state.findings)
    return (state.review_id, state.version, state.latest_version, state.signoff, state.revealed_utc, items)
