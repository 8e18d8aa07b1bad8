"""The terminal side of ``batch`` and of ``validate --workers/--scheduler``: arguments, progress, summary."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from meddiag_desktop.batch.arguments import cluster_spec
from meddiag_desktop.batch.models import ModelSpec
from meddiag_desktop.batch.outcome import OutcomeStatus
from meddiag_desktop.batch.progress import BatchProgress
from meddiag_desktop.batch.run import BatchHooks, BatchRequest, run_batch
from meddiag_desktop.batch.store import STORE_NAME
from meddiag_desktop.inference.analyze import DEFAULT_CLS_MODEL
from meddiag_desktop.review.events import ExportEvent
from meddiag_desktop.validation.results import CaseStatus

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from meddiag_desktop.batch.cluster import ClusterSession
    from meddiag_desktop.batch.jobs import SeriesJob
    from meddiag_desktop.batch.outcome import SeriesOutcome
    from meddiag_desktop.batch.run import BatchStart, BatchSummary
    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.progress import ProgressFn
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.review.service import ReviewService
    from meddiag_desktop.validation.cases import Discovery
    from meddiag_desktop.validation.results import CaseResult, ValidationReport
    from meddiag_desktop.validation.runner import Analyser

DISCLAIMER = "Decision support only; not a medical device."


class _Console:
    """Prints the cluster line and the progress bar; records each export in the audit log."""

    def __init__(self, service: ReviewService | None) -> None:
        self.service = service
        self.progress: BatchProgress | None = None
        self.model_ref = ""

    def on_start(self, start: BatchStart) -> None:
        _print_cluster(start.session)
        self.model_ref = start.model_ref
        self.progress = BatchProgress(start.series, sys.stderr)
        self.progress.draw()

    def on_outcome(self, job: SeriesJob, outcome: SeriesOutcome) -> None:
        if self.progress is not None:
            self.progress.advance(failed=outcome.status is OutcomeStatus.FAILED)
        if self.service is not None and outcome.exported:
            self.service.record_export(_export_event(job, outcome, self.model_ref))


def _print_cluster(session: ClusterSession) -> None:
    print(f"\r{session.description:<110}", file=sys.stderr)  # over the scan's progress line
    print(f"Dask dashboard: {session.dashboard}", file=sys.stderr)


def _export_event(job: SeriesJob, outcome: SeriesOutcome, model_ref: str) -> ExportEvent:
    count = len(outcome.findings)
    return ExportEvent(
        job.study_instance_uid, job.series_instance_uid, "unreviewed AI run (batch)", model_ref, False, count, count,
        outcome.exported,
    )  # fmt: skip


def format_batch_summary(summary: BatchSummary, out_dir: Path) -> str:
    lines = [
        f"{summary.series} series found; {summary.skipped + summary.already_done} done before (not analysed again); "
        f"{summary.analysed} analysed, {summary.not_analysed} not analysed (refused by the model), "
        f"{summary.failed} failed",
        *(f"note: {note}" for note in summary.notes),
        *(f"failed: {folder}: {message}" for folder, message in summary.failures),
        f"results: {out_dir / STORE_NAME}",
        DISCLAIMER,
    ]
    if summary.failed:
        lines.insert(-2, "Run the same command again to retry the failed series; done ones are skipped.")
    return "\n".join(lines)


def run_batch_command(args: argparse.Namespace, index: SeriesIndex, settings: Settings, scan: ProgressFn) -> int:
    models = ModelSpec(
        args.model, None if args.no_classifier else DEFAULT_CLS_MODEL,
        user_dir=str(args.models_dir.resolve()) if args.models_dir else None,
    )  # fmt: skip
    request = BatchRequest(tuple(args.paths), args.out, models, args.export_seg_sr, cluster_spec(args))
    if not args.export_seg_sr:
        summary = _run(request, index, _Console(None), scan)
    else:
        from meddiag_desktop.review.audit import Actor
        from meddiag_desktop.review.service import ReviewService
        from meddiag_desktop.review.store import ReviewStore

        with ReviewStore(settings.review_store_path, settings.config_dir) as store:
            service = ReviewService(store, Actor.current(settings.reviewer_display_name))
            summary = _run(request, index, _Console(service), scan)
    print(format_batch_summary(summary, args.out))
    return 1 if summary.failed else 0


def _run(request: BatchRequest, index: SeriesIndex, console: _Console, scan: ProgressFn) -> BatchSummary:
    hooks = BatchHooks(console.on_start, console.on_outcome, scan)
    return run_batch(request, index, hooks)


def validate_with_cluster(
    args: argparse.Namespace, found: Discovery, analyser: Analyser, index: SeriesIndex
) -> ValidationReport:
    """The cases of ``validate`` as tasks on the cluster named by ``args``, with a progress bar."""
    from meddiag_desktop.batch.validate import validate_on_cluster

    uids = {case.series_instance_uid for case in found.cases}
    files = {uid: tuple(sorted(i.path for i in index.instances(uid))) for uid in uids}
    bar = BatchProgress(len(found.cases), sys.stderr, "cases")

    def on_cluster(session: ClusterSession) -> None:
        _print_cluster(session)
        bar.draw()

    def on_result(result: CaseResult) -> None:
        bar.advance(failed=result.status is CaseStatus.FAILED)

    return validate_on_cluster(
        found.cases, files, analyser, args.out, cluster_spec(args), on_cluster=on_cluster, on_result=on_result,
        notes=found.notes,
    )  # fmt: skip
