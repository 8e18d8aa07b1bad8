"""``meddiag-desktop batch``: analyse every chest CT series under some folders, one dask task each.

The client indexes the folders, drops the series already done (same files, same models), sends
one task per remaining series and stores each summary as it arrives. Killed at any moment, it
keeps every stored result; run again, it analyses only what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from meddiag_desktop.batch.cluster import ClusterSpec, open_cluster
from meddiag_desktop.batch.engine import stream_tasks
from meddiag_desktop.batch.jobs import scan_roots, series_jobs
from meddiag_desktop.batch.models import ModelSpec, pin_models
from meddiag_desktop.batch.outcome import OutcomeStatus, SeriesOutcome
from meddiag_desktop.batch.store import ResultsStore
from meddiag_desktop.batch.task import TaskOptions, analyse_series
from meddiag_desktop.core.progress import ProgressFn, no_progress

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from meddiag_desktop.batch.cluster import ClusterSession
    from meddiag_desktop.batch.engine import Finished
    from meddiag_desktop.batch.jobs import SeriesJob
    from meddiag_desktop.batch.models import ModelPin
    from meddiag_desktop.io.index import SeriesIndex

logger = logging.getLogger(__name__)

EXPORT_FOLDER = "exports"


@dataclass(frozen=True)
class BatchRequest:
    """What to analyse, with which models, where the results go and where the tasks run."""

    paths: tuple[Path, ...]
    out_dir: Path
    models: ModelSpec
    export: bool = False
    cluster: ClusterSpec = field(default_factory=ClusterSpec)


@dataclass
class BatchSummary:
    """Counts of this run; ``skipped`` were done by an earlier run (files unchanged)."""

    series: int = 0
    skipped: int = 0
    analysed: int = 0
    not_analysed: int = 0
    failed: int = 0
    already_done: int = 0
    notes: tuple[str, ...] = ()
    failures: list[tuple[str, str]] = field(default_factory=list)  # (folder, message)

    def count(self, job: SeriesJob, outcome: SeriesOutcome) -> None:
        if outcome.status is OutcomeStatus.ANALYSED:
            self.analysed += 1
        elif outcome.status is OutcomeStatus.NOT_ANALYSED:
            self.not_analysed += 1
        elif outcome.status is OutcomeStatus.ALREADY_DONE:
            self.already_done += 1
        else:
            self.failed += 1
            self.failures.append((job.folder, outcome.message))


@dataclass(frozen=True)
class BatchStart:
    """Told once the cluster is up: where the tasks run, how many series, with which models."""

    session: ClusterSession
    series: int
    model_ref: str


@dataclass(frozen=True)
class BatchHooks:
    """Callbacks of a run: cluster started, each outcome stored (with its job), scan progress."""

    on_start: Callable[[BatchStart], None] = lambda start: None
    on_outcome: Callable[[SeriesJob, SeriesOutcome], None] = lambda job, outcome: None
    scan_progress: ProgressFn = no_progress


def outcome_of(finished: Finished[SeriesJob, SeriesOutcome]) -> SeriesOutcome:
    """The task's outcome, or a failed one when the task itself gave none."""
    if finished.result is not None:
        return finished.result
    message = finished.failure.message if finished.failure else "the task gave no result"
    return SeriesOutcome(finished.item.series_instance_uid, OutcomeStatus.FAILED, message)


def _todo(jobs: Sequence[SeriesJob], store: ResultsStore, pin: ModelPin) -> list[SeriesJob]:
    done = store.done_files(pin)
    return [j for j in jobs if (j.series_instance_uid, j.files_sha256) not in done]


def _run_tasks(
    request: BatchRequest, jobs: list[SeriesJob], store: ResultsStore, pin: ModelPin, summary: BatchSummary,
    hooks: BatchHooks,
) -> int:  # fmt: skip
    """Run the jobs on the cluster, storing each outcome as it comes; returns the run's id."""
    done_keys = store.done_keys(pin)
    export_dir = str(request.out_dir.resolve() / EXPORT_FOLDER) if request.export else None
    with open_cluster(request.cluster) as session:
        run_id = store.start_run(pin, session.description, len(jobs), summary.skipped)
        hooks.on_start(BatchStart(session, len(jobs), pin.ref))
        options = TaskOptions(request.models, pin, session.threads_per_task, export_dir)

        def arguments(job: SeriesJob) -> tuple[object, ...]:
            return job, options, done_keys.get(job.series_instance_uid, frozenset())

        for finished in stream_tasks(session.client, analyse_series, jobs, arguments):
            outcome = outcome_of(finished)
            store.record(finished.item, outcome, pin, run_id)
            summary.count(finished.item, outcome)
            hooks.on_outcome(finished.item, outcome)
    return run_id


def run_batch(request: BatchRequest, index: SeriesIndex, hooks: BatchHooks | None = None) -> BatchSummary:
    """Index, pick the series, analyse what is not done yet, store every outcome.

    Raises
    ------
    ModelIntegrityError
        A model is missing or its files do not match its manifest (checked before anything runs).
    ClusterError
        The cluster cannot be started or reached.
    ResultsStoreError
        The results store cannot be opened or written.
    """
    hooks = hooks or BatchHooks()
    pin = pin_models(request.models)
    found = series_jobs(index, scan_roots(request.paths, index, hooks.scan_progress))
    with ResultsStore(request.out_dir) as store:
        todo = _todo(found.jobs, store, pin)
        summary = BatchSummary(len(found.jobs), len(found.jobs) - len(todo), notes=found.notes)
        if todo:
            run_id = _run_tasks(request, todo, store, pin, summary, hooks)
        else:
            run_id = store.start_run(pin, "no cluster: nothing to do", 0, summary.skipped)
        store.finish_run(run_id)
    logger.info("batch: %d series, %d analysed, %d failed", summary.series, summary.analysed, summary.failed)
    return summary
