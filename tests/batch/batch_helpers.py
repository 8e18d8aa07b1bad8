"""Shared helpers of the batch tests: jobs from folders, the models as a batch runs them."""

from __future__ import annotations

from pathlib import Path

from meddiag_desktop.batch.jobs import SeriesJob, scan_roots, series_jobs
from meddiag_desktop.batch.models import ModelSpec, pin_models
from meddiag_desktop.batch.task import TaskOptions
from meddiag_desktop.core.progress import no_progress
from meddiag_desktop.io.index import SeriesIndex

SEG_ONLY = ModelSpec("lung-nodule-seg", None)


def jobs_under(folder: Path, index_path: Path) -> list[SeriesJob]:
    with SeriesIndex(index_path) as index:
        return list(series_jobs(index, scan_roots([folder], index, no_progress)).jobs)


def options(models: ModelSpec = SEG_ONLY, export_dir: Path | None = None) -> TaskOptions:
    return TaskOptions(models, pin_models(models), threads=1, export_dir=str(export_dir) if export_dir else None)
