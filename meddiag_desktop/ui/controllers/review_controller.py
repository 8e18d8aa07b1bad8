"""The open review: decisions go to ``ReviewService`` (one durable transaction each), state comes back.

A model without views: it emits ``state_changed`` and ``selection_changed``; the findings panel
and the overlays listen. Errors (a signed review, a missing reason) reach the notification area.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.config import ReadingMode
from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.review.audit import Actor
from meddiag_desktop.review.model import Decision, ReviewStatus
from meddiag_desktop.review.ood_record import record_override, run_input_check
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    from numpy.typing import NDArray

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.review.history import HistoryItem
    from meddiag_desktop.review.model import RejectReason, ReviewFinding, ReviewState
    from meddiag_desktop.ui.panels import NotificationPanel

log = logging.getLogger(__name__)


class ReviewController(QObject):
    """One review at a time, for the series on screen."""

    state_changed = Signal(object)  # ReviewState | None
    selection_changed = Signal(str)  # finding id ("" = none)
    threshold_changed = Signal(float)

    def __init__(self, settings: Settings, notes: NotificationPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings, self._notes = settings, notes
        self._store: ReviewStore | None = None
        self._service: ReviewService | None = None
        self.actor = Actor(settings.os_user, settings.reviewer_display_name)
        self.reading_mode = settings.reading_mode
        self.state: ReviewState | None = None
        self.selected = ""
        self.threshold = 0.0
        self._recorded_threshold = 0.0
        self._thresholds: dict[str, float] = {}  # per series: the slider is not global (issue 11)
        self.input_check: InputCheck | None = None  # of the shown run (None: not recorded, or no review)
        self._checked_run = ""

    # -- store -----------------------------------------------------------------------------

    @property
    def service(self) -> ReviewService:
        if self._service is None:
            self._store = ReviewStore(self._settings.review_store_path, self._settings.config_dir)
            self._service = ReviewService(self._store, self.actor)
        return self._service

    def set_display_name(self, name: str) -> None:
        self.actor = Actor(self.actor.os_user, name)
        if self._service is not None:
            self._service.actor = self.actor

    @property
    def read_first(self) -> bool:
        return self.reading_mode is ReadingMode.READ_FIRST

    def set_reading_mode(self, mode: ReadingMode) -> None:
        """Applies to reviews (and amendments with a new run) opened from now on."""
        self.reading_mode = mode

    def close_store(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = self._service = None

    @contextmanager
    def _reporting(self) -> Iterator[None]:
        """The one place review errors become a plain sentence for the user."""
        try:
            yield
        except MeddiagError as exc:
            self._notes.report(exc)

    # -- opening -----------------------------------------------------------------------------

    def open_run(self, run_id: str) -> None:
        with self._reporting():
            self._set_state(self.service.open_review(run_id, read_first=self.read_first))
            self.select(self._first_id())

    def amend_with_run(self, reason: str, run_id: str) -> None:
        """A new AI run on a signed review: a new version reviewing that run (the signed one stays)."""
        if self.state is not None:
            with self._reporting():
                self._set_state(self.service.amend(self.state, reason, run_id, self.read_first))
                self.select(self._first_id())

    def reveal(self) -> None:
        """Read first: show the AI's findings (an audit event recording what was found before)."""
        if self.state is not None and self.state.ai_hidden:
            with self._reporting():
                self._set_state(self.service.reveal_ai(self.state))
                self.select(self._first_id())

    def open_version(self, version: int | None) -> None:
        """Show ``version`` of the open review (read-only unless it is the newest); None: the newest."""
        if self.state is not None:
            with self._reporting():
                self._set_state(self.service.restore(self.state.review_id, version))
                self.select(self._first_id())

    def history(self) -> list[HistoryItem]:
        if self.state is None:
            return []
        with self._reporting():
            return self.service.history(self.state.review_id)
        return []

    def restore_latest(self, series_uid: str) -> bool:
        """Re-open the newest stored review of ``series_uid``; True when there was one."""
        with self._reporting():
            runs = self.service.runs_for_series(series_uid)
            if runs:
                self.open_run(runs[0][0])
                return True
        return False

    def record_override(self, check: InputCheck, study_uid: str, reason: str) -> InputCheck | None:
        """Keep the radiologist's override of the input check (audited); the check with it, or None on error."""
        with self._reporting():
            return record_override(self.service, check, study_uid, "; ".join(check.models), reason)
        return None

    def stored_maps(self) -> dict[str, NDArray[np.float32]]:
        """Heat maps kept with the current review's AI run (8-bit precision, for display)."""
        return self.service.run_maps(self.state.run_id) if self.state else {}

    def close(self) -> None:
        self.state, self.selected = None, ""
        self.input_check, self._checked_run = None, ""
        self.state_changed.emit(None)
        self.selection_changed.emit("")

    def _set_state(self, state: ReviewState) -> None:
        switched = self.state is None or self.state.series_uid != state.series_uid
        self.state = state
        if state.run_id != self._checked_run:  # the run's input check, read once per run shown
            self._checked_run = state.run_id
            self.input_check = None
            with self._reporting():
                self.input_check = run_input_check(self.service.store.db, state.run_id)
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
            with self._reporting():
                self.service.record_event(self.state, "finding_shown", finding_id)

    def step(self, delta: int) -> None:
        """Select the next (``+1``) or previous (``-1``) finding, wrapping around."""
        if self.state is None or not self.state.findings:
            return
        ids = [f.id for f in self.state.findings if self.listed(f)]
        if not ids:
            return
        here = ids.index(self.selected) if self.selected in ids else -1 if delta > 0 else 0
        self.select(ids[(here + delta) % len(ids)])

    def listed(self, item: ReviewFinding) -> bool:
        """In the findings list: everything, except the AI's findings while they are hidden (read first)."""
        return not (self.state is not None and self.state.ai_hidden and item.origin == "ai")

    def selected_finding(self) -> ReviewFinding | None:
        if self.state is None or not self.selected:
            return None
        try:
            return self.state.finding(self.selected)
        except KeyError:
            return None

    def _first_id(self) -> str:
        if self.state is None:
            return ""
        listed = [f for f in self.state.findings if self.listed(f)]
        pending = [f.id for f in listed if f.decision is Decision.PENDING]
        return (pending or [f.id for f in listed] or [""])[0]

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if self.state is not None:
            self._thresholds[self.state.series_uid] = threshold
        self.threshold_changed.emit(threshold)

    def record_threshold(self) -> None:
        """Audit the threshold once the user lets go of the slider."""
        if self.state is None or self.threshold == self._recorded_threshold:
            return
        with self._reporting():
            details = {"from": self._recorded_threshold, "to": self.threshold}
            self.service.record_event(self.state, "threshold_changed", details=details)
            self._recorded_threshold = self.threshold

    # -- decisions ---------------------------------------------------------------------------

    @property
    def editable(self) -> bool:
        return self.state is not None and self.state.status is ReviewStatus.OPEN

    def accept(self) -> None:
        if self.state is not None and self.selected:
            with self._reporting():
                self._set_state(self.service.accept(self.state, self.selected))
                self._advance()

    def reject(self, reason: RejectReason, note: str) -> None:
        if self.state is not None and self.selected:
            with self._reporting():
                self._set_state(self.service.reject(self.state, self.selected, reason, note))
                self._advance()

    def save_edit(self, edited: Finding) -> None:
        if self.state is not None:
            with self._reporting():
                self._set_state(self.service.edit(self.state, edited))

    def add(self, drawn: Finding) -> None:
        if self.state is not None:
            with self._reporting():
                self._set_state(self.service.add(self.state, drawn))
                self.select(drawn.id)

    def next_added_id(self) -> str:
        return self.service.next_added_id(self.state) if self.state is not None else "R1"

    def sign_off(self) -> bool:
        if self.state is None:
            return False
        self.record_threshold()
        with self._reporting():
            self._set_state(self.service.sign_off(self.state, self.threshold))
            return True
        return False

    def amend(self, reason: str) -> None:
        if self.state is not None:
            with self._reporting():
                self._set_state(self.service.amend(self.state, reason))

    def _advance(self) -> None:
        """After a decision, move on to the next undecided finding (if any)."""
        if self.state is None:
            return
        undecided = [f.id for f in self.state.findings if self.listed(f) and not f.decision.decided]
        ids = [f.id for f in self.state.findings]
        if undecided and self.selected not in undecided and self.selected in ids:
            after = ids[ids.index(self.selected) + 1 :] + ids
            self.select(next(i for i in after if i in undecided))
