"""Progress reporting and cooperative cancellation for long domain operations.

Domain functions stay synchronous and Qt-free: they take a ``progress`` callback
and a ``CancelToken``; ``ui/workers.py`` runs them off the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from meddiag_desktop.errors import Cancelled

ProgressFn = Callable[[int, int, str], None]
"""``progress(done, total, message)``; called from the worker thread."""


def no_progress(done: int, total: int, message: str) -> None:
    """A progress callback that ignores everything."""


class CancelToken:
    """A thread-safe flag a worker checks between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, what: str = "Operation") -> None:
        if self._event.is_set():
            raise Cancelled(what)
