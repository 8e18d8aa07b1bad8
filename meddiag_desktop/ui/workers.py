"""Run synchronous domain functions off the GUI thread; results come back as queued signals.

Every task carries a generation number chosen by its controller, so results of a request the
user has already replaced (a newer scan, another series) can be dropped on arrival.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

from meddiag_desktop.core.progress import CancelToken
from meddiag_desktop.errors import Cancelled, MeddiagError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

QUEUED = Qt.ConnectionType.QueuedConnection


class TaskSignals(QObject):
    """Signals of one task; emitted from the worker thread, delivered in the GUI thread."""

    progress = Signal(int, int, int, str)  # generation, done, total, message
    payload = Signal(int, object)  # generation, intermediate result
    finished = Signal(int, object)  # generation, result
    errored = Signal(int, object)  # generation, exception
    cancelled = Signal(int)
    done = Signal()  # always last, whatever the outcome


@dataclass
class TaskContext:
    """What a task function gets: its cancel token and ways to report back."""

    generation: int
    cancel: CancelToken
    signals: TaskSignals

    def progress(self, done: int, total: int, message: str) -> None:
        self.signals.progress.emit(self.generation, done, total, message)

    def emit(self, payload: object) -> None:
        self.signals.payload.emit(self.generation, payload)


@dataclass
class TaskCallbacks:
    """GUI-thread callbacks of a task (all optional)."""

    on_finished: Callable[[int, Any], None] | None = None
    on_error: Callable[[int, BaseException], None] | None = None
    on_progress: Callable[[int, int, int, str], None] | None = None
    on_event: Callable[[int, Any], None] | None = None
    on_cancelled: Callable[[int], None] | None = None


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[TaskContext], object], context: TaskContext) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._fn = fn
        self._context = context

    def run(self) -> None:
        signals = self._context.signals
        try:
            result = self._fn(self._context)
        except Cancelled:
            signals.cancelled.emit(self._context.generation)
        except MeddiagError as exc:
            signals.errored.emit(self._context.generation, exc)
        except Exception as exc:  # the top of a worker thread: report, never lose it
            log.exception("background task failed")
            signals.errored.emit(self._context.generation, exc)
        else:
            signals.finished.emit(self._context.generation, result)
        finally:
            signals.done.emit()


@dataclass
class TaskHandle:
    """A running task: its generation and the token that cancels it."""

    generation: int
    cancel: CancelToken
    _finished: threading.Event = field(default_factory=threading.Event)

    @property
    def is_done(self) -> bool:
        return self._finished.is_set()


class TaskRunner(QObject):
    """Owns a thread pool and a reference to every running task until it reports back."""

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, max_threads))
        self._running: dict[int, tuple[_Runnable, TaskSignals, TaskHandle]] = {}
        self._next_id = 0

    def start(self, fn: Callable[[TaskContext], object], generation: int, callbacks: TaskCallbacks) -> TaskHandle:
        """Run ``fn(context)`` in the pool; ``callbacks`` run in the GUI thread."""
        signals = TaskSignals()
        handle = TaskHandle(generation, CancelToken())
        runnable = _Runnable(fn, TaskContext(generation, handle.cancel, signals))
        self._next_id += 1
        task_id = self._next_id
        self._running[task_id] = (runnable, signals, handle)
        _connect(signals, callbacks)
        signals.done.connect(lambda: self._on_task_done(task_id), QUEUED)
        self._pool.start(runnable)
        return handle

    @property
    def active_count(self) -> int:
        return len(self._running)

    def cancel_all(self) -> None:
        for _, _, handle in self._running.values():
            handle.cancel.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything and wait for the threads; True when all stopped."""
        self.cancel_all()
        stopped = self._pool.waitForDone(timeout_ms)
        self._running.clear()
        return bool(stopped)

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Wait for running tasks without cancelling (tests, screenshot mode)."""
        return bool(self._pool.waitForDone(timeout_ms))

    def _on_task_done(self, task_id: int) -> None:
        entry = self._running.pop(task_id, None)
        if entry is not None:
            entry[2]._finished.set()


def _connect(signals: TaskSignals, callbacks: TaskCallbacks) -> None:
    if callbacks.on_finished is not None:
        signals.finished.connect(callbacks.on_finished, QUEUED)
    if callbacks.on_error is not None:
        signals.errored.connect(callbacks.on_error, QUEUED)
    if callbacks.on_progress is not None:
        signals.progress.connect(callbacks.on_progress, QUEUED)
    if callbacks.on_event is not None:
        signals.payload.connect(callbacks.on_event, QUEUED)
    if callbacks.on_cancelled is not None:
        signals.cancelled.connect(callbacks.on_cancelled, QUEUED)
