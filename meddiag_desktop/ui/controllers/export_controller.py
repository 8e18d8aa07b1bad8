"""Export the open review from the GUI: DICOM SEG + SR, de-identified, or an HTML report, in a worker.

The work is done by the same functions as ``meddiag-desktop export`` and ``report``
(``review.export`` and ``review.report_html``); this module only moves them off the GUI thread
and puts their result into plain words. The worker opens its own store and index connections
(one per thread), exports the review as stored, and first checks that the images on screen are
the ones the AI analysed (pixel hash), so the masks fit them.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.deid_model import DeidentifyOptions
from meddiag_desktop.errors import Cancelled, ExportError
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.review.export import export_review, export_review_deidentified
from meddiag_desktop.review.report_html import header_from_index, write_review_report
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.workers import TaskCallbacks

if TYPE_CHECKING:
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.review.audit import Actor
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.ui.workers import TaskContext, TaskHandle, TaskRunner

log = logging.getLogger(__name__)


class ExportKind(enum.Enum):
    SEG_SR = "SEG + SR"
    DEIDENTIFIED = "de-identified SEG + SR"
    REPORT = "HTML report"


@dataclass(frozen=True)
class ExportJob:
    """One export asked for in the GUI; ``target`` is a folder (DICOM) or the report's file."""

    kind: ExportKind
    review_id: int
    volume: Volume
    target: Path
    store_path: Path
    index_path: Path
    actor: Actor
    pseudonym: str = ""
    privacy: bool = False
    config_dir: Path | None = None  # the audit key and checkpoints (None: the per-user default)


@dataclass(frozen=True)
class ExportOutcome:
    """What an export wrote, and whether the review was signed off (VERIFIED) at the time."""

    kind: ExportKind
    folder: str
    files: tuple[str, ...]
    verified: bool
    signed_by: str = ""
    pseudonym: str = ""
    privacy: bool = False
    notes: tuple[str, ...] = ()


def verification_text(state: ReviewState | None) -> str:
    """``VERIFIED (signed off by ...)`` or ``UNVERIFIED (not signed off)``: said before and after every export."""
    if state is not None and state.signoff is not None:
        return f"VERIFIED (signed off by {state.signoff.display_name or state.signoff.os_user})"
    return "UNVERIFIED (the review is not signed off)"


def outcome_text(outcome: ExportOutcome) -> str:
    """The result in plain words, one fact a line: what and whether VERIFIED, the folder (or file), the files."""
    status = f"VERIFIED (signed off by {outcome.signed_by})" if outcome.verified else "UNVERIFIED (not signed off)"
    if outcome.kind is ExportKind.REPORT:
        draft = f"signed off by {outcome.signed_by}" if outcome.verified else "DRAFT: not signed off"
        privacy = "; patient and study details left out (privacy)" if outcome.privacy else ""
        return f"Report saved ({draft}{privacy}).\nFile: {outcome.files[0]}"
    if outcome.kind is ExportKind.DEIDENTIFIED:
        head = (f"De-identified export, {status}: {len(outcome.files)} files (the series' images, the SEG and "
                f"the SR), patient named {outcome.pseudonym!r}.\nFolder: {outcome.folder}")  # fmt: skip
        return "\n".join([head, *outcome.notes])
    names = ", ".join(Path(f).name for f in outcome.files)
    return f"Exported SEG + SR, {status}.\nFolder: {outcome.folder}\nFiles: {names}"


def _run_export(ctx: TaskContext, job: ExportJob) -> ExportOutcome:
    """Worker thread: the stored review, the images checked against the AI run, then the export."""
    ctx.progress(0, 0, f"Exporting the review ({job.kind.value})…")
    with ReviewStore(job.store_path, job.config_dir) as store, SeriesIndex(job.index_path) as index:
        service = ReviewService(store, job.actor)
        state = service.restore(job.review_id)
        _check_images(service, state, job.volume)
        if job.kind is ExportKind.REPORT:
            header = None if job.privacy else header_from_index(index, state.series_uid)
            path = write_review_report(service, state, job.volume, job.target, header)
            return _outcome(job, state, str(path.parent), (str(path),))
        if job.kind is ExportKind.DEIDENTIFIED:
            return _deidentified(ctx, job, service, state, index)
        result = export_review(service, state, index, job.volume, job.target, ctx.progress)
        return _outcome(job, state, result.folder, tuple(o.path for o in result.objects))


def _deidentified(
    ctx: TaskContext, job: ExportJob, service: ReviewService, state: ReviewState, index: SeriesIndex
) -> ExportOutcome:
    options = DeidentifyOptions(job.pseudonym)
    result = export_review_deidentified(service, state, index, job.volume, job.target, options, ctx.progress,
                                        ctx.cancel)  # fmt: skip
    skipped = tuple(f"Left out {Path(s.path).name}: {s.reason}" for s in result.skipped)
    if not result.files:
        raise ExportError(f"No file was exported into {job.target}. " + " ".join(skipped))
    return _outcome(job, state, result.folder, tuple(f.path for f in result.files), (*result.warnings, *skipped))


def _check_images(service: ReviewService, state: ReviewState, volume: Volume) -> None:
    """The masks are on the grid of the images the AI analysed: refuse any other images."""
    if pixel_sha256(volume) != service.run_summary(state.run_id).input_pixel_sha256:
        raise ExportError(
            "The images on screen differ from those the AI analysed (pixel hash), so the masks would not fit "
            "them; nothing was exported. Open the stack the AI ran on."
        )


def _outcome(
    job: ExportJob, state: ReviewState, folder: str, files: tuple[str, ...], notes: tuple[str, ...] = ()
) -> ExportOutcome:
    signoff = state.signoff
    signed_by = (signoff.display_name or signoff.os_user) if signoff else ""
    return ExportOutcome(job.kind, folder, files, signoff is not None, signed_by, job.pseudonym, job.privacy, notes)


class ExportController(QObject):
    """One export at a time; its result (or error) is reported whatever the user opened meanwhile."""

    busy_changed = Signal(bool)
    progress = Signal(int, int, str)
    finished = Signal(object)  # ExportOutcome
    failed = Signal(object)  # the exception, for the notification area

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._generation = 0
        self._handle: TaskHandle | None = None

    @property
    def busy(self) -> bool:
        return self._handle is not None and not self._handle.is_done

    def start(self, job: ExportJob) -> bool:
        """Run ``job`` in the background; False (and nothing started) while another export runs."""
        if self.busy:
            return False
        self._generation += 1
        callbacks = TaskCallbacks(on_finished=self._on_task_finished, on_error=self._on_task_error,
                                  on_progress=self._on_task_progress, on_cancelled=self._on_task_cancelled)  # fmt: skip
        self._handle = self._runner.start(lambda ctx: _run_export(ctx, job), self._generation, callbacks)
        self.busy_changed.emit(True)
        return True

    def _done(self, generation: int) -> bool:
        if generation != self._generation:
            return False
        self._handle = None
        self.busy_changed.emit(False)
        return True

    def _on_task_progress(self, generation: int, done: int, total: int, message: str) -> None:
        if generation == self._generation:
            self.progress.emit(done, total, message)

    def _on_task_finished(self, generation: int, outcome: Any) -> None:
        if self._done(generation):
            self.progress.emit(1, 1, "Export finished.")
            self.finished.emit(outcome)

    def _on_task_error(self, generation: int, exc: BaseException) -> None:
        if self._done(generation):
            self.progress.emit(1, 1, "Export failed; see Notifications.")
            self.failed.emit(exc)

    def _on_task_cancelled(self, generation: int) -> None:
        if self._done(generation):
            self.progress.emit(1, 1, "Export cancelled.")
            self.failed.emit(Cancelled("The export"))
