"""The batch task: one series in, one small summary out. A plain top-level function, picklable.

``analyse_series`` reads the series (from its files, through a throw-away index), skips it when
its pixels were already analysed with the same models, runs ``analyze_volume``, optionally
writes the DICOM SEG + SR, and returns a :class:`SeriesOutcome`. It never raises for a bad
study: the problem comes back in the outcome, in plain words.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.batch.local_index import local_index
from meddiag_desktop.batch.models import check_same_models
from meddiag_desktop.batch.outcome import OutcomeStatus, SeriesOutcome, finding_summaries
from meddiag_desktop.errors import Cancelled, ExportError, InferenceError, MeddiagError
from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.io.export import export_results
from meddiag_desktop.io.series_loader import load_series
from meddiag_desktop.io.subgroup_headers import series_subgroup_header
from meddiag_desktop.review.export import request_from_analysis
from meddiag_desktop.validation.cache import cache_key
from meddiag_desktop.validation.cases import MIN_SLICES

if TYPE_CHECKING:
    from collections.abc import Set

    from meddiag_desktop.batch.jobs import SeriesJob
    from meddiag_desktop.batch.models import ModelPin, ModelSpec
    from meddiag_desktop.core.export_model import ExportedObject
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.analyze import AnalysisResult
    from meddiag_desktop.io.index import SeriesIndex

logger = logging.getLogger(__name__)

BATCH_VARIANT = "batch"  # the cache key's variant: a batch analyses the series as acquired


@dataclass(frozen=True)
class TaskOptions:
    """How every task of a batch runs. ``export_dir``: write SEG + SR there (a shared folder)."""

    models: ModelSpec
    pin: ModelPin
    threads: int = 1
    export_dir: str | None = None


def result_key(series_uid: str, pin: ModelPin, pixels: str) -> str:
    """Series UID + input pixel sha256 + model sha256s: one analysis, done once."""
    return cache_key(series_uid, BATCH_VARIANT, pin.sha256, pin.settings_sha256, pixels)


def analyse_series(job: SeriesJob, options: TaskOptions, done_keys: Set[str] = frozenset()) -> SeriesOutcome:
    """Analyse one series; ``done_keys`` are the stored results of this series (not analysed again)."""
    started = time.perf_counter()
    outcome = SeriesOutcome(job.series_instance_uid, OutcomeStatus.FAILED)
    try:
        check_same_models(options.models, options.pin)
        with local_index(job.files) as index:
            outcome = replace(outcome, header=series_subgroup_header(index, job.series_instance_uid))
            outcome = _load_and_run(job, options, done_keys, index, outcome)
    except Cancelled:
        raise
    except MeddiagError as exc:  # the header read so far is kept: failures count in the subgroup report too
        logger.info("batch series failed (%s)", type(exc).__name__)  # the outcome carries the message
        outcome = outcome.with_status(OutcomeStatus.FAILED, str(exc))
    return replace(outcome, seconds=time.perf_counter() - started)


def _load_and_run(
    job: SeriesJob, options: TaskOptions, done_keys: Set[str], index: SeriesIndex, base: SeriesOutcome
) -> SeriesOutcome:
    volume = max(load_series(index, job.series_instance_uid, threads=options.threads), key=lambda v: v.shape[0])
    pixels = pixel_sha256(volume)
    base = replace(base, key=result_key(job.series_instance_uid, options.pin, pixels), pixel_sha256=pixels,
                   slices=volume.shape[0], warnings=tuple(w.message for w in volume.warnings))  # fmt: skip
    if base.key in done_keys:
        return base.with_status(OutcomeStatus.ALREADY_DONE)
    if volume.shape[0] < MIN_SLICES:
        return base.with_status(OutcomeStatus.NOT_ANALYSED, f"only {volume.shape[0]} slices: not a volume")
    try:
        result = _run_models(volume, options)
    except InferenceError as exc:
        return base.with_status(OutcomeStatus.NOT_ANALYSED, str(exc))
    analysed = replace(
        base, status=OutcomeStatus.ANALYSED, findings=finding_summaries(result),
        warnings=tuple(dict.fromkeys(base.warnings + result.warnings)),  # the loader's may be in both
    )  # fmt: skip
    return _with_export(analysed, index, volume, result, options)


def _with_export(
    outcome: SeriesOutcome, index: SeriesIndex, volume: Volume, result: AnalysisResult, options: TaskOptions
) -> SeriesOutcome:
    """The outcome with its exported SEG + SR; a failed export is a warning, the analysis stands."""
    if options.export_dir is None or not result.findings:
        return outcome
    try:
        return replace(outcome, exported=_export(index, volume, result, Path(options.export_dir), outcome.key))
    except ExportError as exc:
        return replace(outcome, warnings=(*outcome.warnings, f"SEG and SR not written: {exc}"))


def _run_models(volume: Volume, options: TaskOptions) -> AnalysisResult:
    spec = options.models
    return analyze_volume(
        volume, spec.registry(), seg_model_id=spec.seg_model_id, cls_model_id=spec.cls_model_id,
        threads=options.threads,
    )  # fmt: skip


def export_folder(export_dir: Path, series_uid: str, key: str) -> Path:
    """One folder per result: a task run again (its worker died) replaces it, never adds a second."""
    return export_dir / f"{series_uid}-{key[:12]}"


def _export(
    index: SeriesIndex, volume: Volume, result: AnalysisResult, export_dir: Path, key: str
) -> tuple[ExportedObject, ...]:
    """SEG + TID 1500 SR (UNVERIFIED), written to a private folder first, then renamed into place."""
    final = export_folder(export_dir, volume.series_instance_uid, key)
    staging = final.with_name(f"{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        written = export_results(index, volume, request_from_analysis(result), staging)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except OSError as exc:
        raise ExportError(f"{final} cannot be written: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(replace(o, path=str(final / Path(o.path).name)) for o in written.objects)
