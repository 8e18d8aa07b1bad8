"""Map one plain function over many items as dask tasks; results stream back as they finish.

The client keeps the small result of each task only until the caller has taken it. A worker
that dies mid-task is replaced by its nanny and the scheduler runs the task elsewhere; a task
whose workers die ``distributed.scheduler.allowed-failures`` times (e.g. out of memory) comes
back as a failure in words, and so does any other error of one task: the rest go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from distributed import Client, Future

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class TaskFailure:
    """Why a task gave no result, in words."""

    message: str


@dataclass(frozen=True)
class Finished(Generic[Item, Result]):
    """One item and its task's result, or its failure."""

    item: Item
    result: Result | None
    failure: TaskFailure | None = None


def _failure(exc: BaseException) -> TaskFailure:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return TaskFailure(
            "the worker process running it died each time it was tried (out of memory? a crash in a library?)"
        )
    return TaskFailure(f"the task failed: {type(exc).__name__}: {exc}")


def _take(future: Future[Any]) -> tuple[object, TaskFailure | None]:
    try:
        return future.result(), None
    # One study's unexpected error must not end a batch of thousands: it is recorded and logged.
    except Exception as exc:
        logger.warning("a batch task failed: %s", type(exc).__name__)  # not the message: it may hold a path
        return None, _failure(exc)


def stream_tasks(
    client: Client,
    function: Callable[..., Result],
    items: Sequence[Item],
    arguments: Callable[[Item], tuple[object, ...]],
) -> Iterator[Finished[Item, Result]]:
    """Submit ``function(*arguments(item))`` for every item; yield each as it finishes."""
    from distributed import as_completed

    pending: dict[Future[Any], Item] = {}
    for item in items:
        pending[client.submit(function, *arguments(item), pure=False)] = item
    for future in as_completed(list(pending), loop=client.loop):
        item = pending.pop(future)
        result, failure = _take(future)
        future.release()
        yield Finished(item, cast("Result | None", result), failure)
