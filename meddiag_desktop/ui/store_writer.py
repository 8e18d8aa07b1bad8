"""One thread owns the review store's write connection; the GUI thread never waits on SQLite.

Jobs run in the order they were submitted (a decision, then the sign-off that counts it). Each
result or error comes back to the GUI thread through a queued signal and the job's callback.
While another program holds the database's write lock, a job is retried (SQLite waits up to its
busy timeout each time) and ``waiting`` says so in plain words: nothing the user did is dropped.
``close`` lets the queue drain before the connection closes (the app quits after its last write);
an idle writer ends on its own and the next job starts it again.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal

from meddiag_desktop.errors import MeddiagError, ReviewStateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from meddiag_desktop.review.service import ReviewService

log = logging.getLogger(__name__)

QUEUED = Qt.ConnectionType.QueuedConnection
RETRY_PAUSE_S = 0.5
CLOSE_TIMEOUT_S = 120.0
IDLE_EXIT_S = 1.0  # an idle writer closes its connection and ends (no thread outlives a quiet window)


@dataclass(frozen=True)
class _Queued:
    job_id: int
    run: Callable[[ReviewService], Any]


@dataclass(frozen=True)
class _Callbacks:
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None


class StoreWriter(QObject):
    """A FIFO of store jobs run by one thread with its own ``ReviewService`` (opened by ``open_service``)."""

    finished = Signal(int, object)  # job id, result (emitted in the writer thread, delivered queued)
    failed = Signal(int, object)  # job id, exception
    errored = Signal(object)  # an error of a job without an error callback
    waiting = Signal(str)  # the store is locked by someone else: what is waiting, in plain words
    pending_changed = Signal(int)  # jobs submitted and not yet reported back

    def __init__(self, open_service: Callable[[], ReviewService], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_service = open_service
        self._queue: queue.Queue[_Queued | None] = queue.Queue()
        self._callbacks: dict[int, _Callbacks] = {}
        self._next_id = 0
        self._give_up_at: float | None = None  # set by close: stop retrying a locked store after it
        self._thread: threading.Thread | None = None
        self._service: ReviewService | None = None  # used by the writer thread only
        self._starting = threading.Lock()  # a job queued just as an idle thread exits still finds a thread
        self.finished.connect(self._on_finished, QUEUED)
        self.failed.connect(self._on_failed, QUEUED)

    # -- GUI thread ------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def submit(self, run: Callable[[ReviewService], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> int:  # fmt: skip
        """Queue ``run(service)``; ``on_done(result)`` or ``on_error(exc)`` runs later in the GUI thread."""
        if self._give_up_at is not None:
            raise ReviewStateError("The review store is closing; this action was not saved.")
        self._next_id += 1
        self._callbacks[self._next_id] = _Callbacks(on_done, on_error)
        with self._starting:
            self._queue.put(_Queued(self._next_id, run))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="review-store-writer", daemon=True)
                self._thread.start()
        self.pending_changed.emit(self.pending)
        return self._next_id

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Write what is queued, then close the connection; False when jobs were still waiting at ``timeout_s``."""
        self._give_up_at = time.monotonic() + timeout_s
        with self._starting:
            thread = self._thread
            if thread is None:
                return True
            self._queue.put(None)
        thread.join(timeout_s + 5.0)
        drained = not thread.is_alive()
        if not drained:
            log.error("the review store writer did not finish within %.0f s", timeout_s)
        self._thread = None
        return drained

    def _on_finished(self, job_id: int, result: object) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        self.pending_changed.emit(self.pending)
        if callbacks is not None and callbacks.on_done is not None:
            callbacks.on_done(result)

    def _on_failed(self, job_id: int, exc: BaseException) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        self.pending_changed.emit(self.pending)
        if callbacks is not None and callbacks.on_error is not None:
            callbacks.on_error(exc)
        else:
            self.errored.emit(exc)

    # -- writer thread ---------------------------------------------------------------------------

    def _serve(self) -> None:
        """Run jobs until told to stop or idle for ``IDLE_EXIT_S`` (the next job starts a new thread)."""
        try:
            while (job := self._next_job()) is not None:
                self._run(job)
        finally:
            self._close_service()

    def _close_service(self) -> None:
        if self._service is not None:
            self._service.store.close()
            self._service = None

    def _next_job(self) -> _Queued | None:
        while True:
            try:
                return self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._starting:
                    if self._queue.empty():
                        # Closed before the thread slot is freed: a job arriving now starts a new
                        # thread, which must open its own store (SQLite objects stay in their thread).
                        self._close_service()
                        self._thread = None
                        return None

    def _opened(self) -> ReviewService:
        if self._service is None:
            self._service = self._open_service()
        return self._service

    def _run(self, job: _Queued) -> None:
        while True:
            try:
                result = job.run(self._opened())
            except (sqlite3.OperationalError, MeddiagError) as exc:
                if _locked(exc) and not self._past_deadline():
                    self.waiting.emit(f"The review store is locked by another program; {self._waiting_text()}")
                    time.sleep(RETRY_PAUSE_S)
                    continue
                self.failed.emit(job.job_id, exc if isinstance(exc, MeddiagError) else _plain(exc))
            except Exception as exc:  # the top of the writer thread: report it, never lose it
                log.exception("review store job failed")
                self.failed.emit(job.job_id, exc)
            else:
                self.finished.emit(job.job_id, result)
            return

    def _past_deadline(self) -> bool:
        return self._give_up_at is not None and time.monotonic() > self._give_up_at

    def _waiting_text(self) -> str:
        count = self._queue.qsize() + 1
        return f"{count} review action(s) are waiting to be saved and will be saved as soon as it is free."


def _locked(exc: BaseException) -> bool:
    """SQLite's busy timeout ran out (also when opening the store, where it is wrapped in a MeddiagError)."""
    cause = exc if isinstance(exc, sqlite3.OperationalError) else exc.__cause__
    text = str(cause).lower() if isinstance(cause, sqlite3.OperationalError) else ""
    return "locked" in text or "busy" in text


def _plain(exc: sqlite3.Error) -> ReviewStateError:
    return ReviewStateError(f"The review store could not save this action ({exc}); it was not saved.")
