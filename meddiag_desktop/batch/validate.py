"""``meddiag-desktop validate --workers N | --scheduler ADDRESS``: one dask task per validation case.

Each task is ``validation.runner.evaluate_case`` on a worker, reading the case's series from its
files (a throw-away index) and writing its analysis to the shared cache folder; a rerun after a
kill finds the finished cases there. Results stream back and are put back in case order.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.batch.cluster import ClusterSpec, open_cluster
from meddiag_desktop.batch.engine import stream_tasks
from meddiag_desktop.batch.local_index import local_index
from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.validation.results import CaseResult, CaseStatus, ValidationReport
from meddiag_desktop.validation.runner import CACHE_FOLDER, RegistryAnalyser, evaluate_case, software_version

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from meddiag_desktop.batch.cluster import ClusterSession
    from meddiag_desktop.batch.engine import Finished
    from meddiag_desktop.validation.cases import Case
    from meddiag_desktop.validation.runner import Analyser


@functools.cache
def _worker_model_sha(builtin_dir: Path, user_dir: Path | None, model_id: str) -> str:
    from meddiag_desktop.inference.registry import ModelRegistry

    return RegistryAnalyser(ModelRegistry(builtin_dir, user_dir), model_id).model.sha256


def _check_model(analyser: Analyser) -> None:
    """A worker must run the very model the client pinned (its cache key names that model)."""
    if not isinstance(analyser, RegistryAnalyser):
        return
    registry = analyser.registry
    if _worker_model_sha(registry.builtin_dir, registry.user_dir, analyser.model_id) != analyser.model.sha256:
        raise ModelIntegrityError(
            f"This worker's model '{analyser.model_id}' differs from the one validation started with; "
            "install the same models on every worker."
        )


def _failed(case: Case, message: str) -> CaseResult:
    return CaseResult(
        case.case_id, case.folder, case.patient, case.series_instance_uid, case.manufacturer, case.variant,
        CaseStatus.FAILED, message=message,
    )  # fmt: skip


def evaluate_case_task(case: Case, files: tuple[str, ...], analyser: Analyser, cache_dir: str) -> CaseResult:
    """``evaluate_case`` on a worker: the case's series indexed from its files, the cache shared."""
    try:
        _check_model(analyser)
    except ModelIntegrityError as exc:
        return _failed(case, str(exc))
    with local_index(files) as index:
        return evaluate_case(replace(case, index_path=str(index.path)), analyser, Path(cache_dir))


def _sized(analyser: Analyser, threads: int) -> Analyser:
    """Threads 0 ("all cores") in every task would oversubscribe a worker: each task gets its share."""
    if isinstance(analyser, RegistryAnalyser) and analyser.threads == 0:
        return RegistryAnalyser(analyser.registry, analyser.model_id, threads=threads)
    return analyser


def _result(finished: Finished[Case, CaseResult]) -> CaseResult:
    if finished.result is not None:
        return finished.result
    return _failed(finished.item, finished.failure.message if finished.failure else "the task gave no result")


def validate_on_cluster(
    cases: Sequence[Case],
    files: Mapping[str, tuple[str, ...]],
    analyser: Analyser,
    out_dir: Path,
    cluster: ClusterSpec,
    *,
    on_cluster: Callable[[ClusterSession], None] = lambda session: None,
    on_result: Callable[[CaseResult], None] = lambda result: None,
    notes: Sequence[str] = (),
) -> ValidationReport:
    """Every case as one task; ``files`` maps each series UID to its files.

    Raises
    ------
    ModelIntegrityError
        The model is missing or its files do not match its manifest (checked before anything runs).
    ClusterError
        The cluster cannot be started or reached.
    """
    model = analyser.model
    cache_dir = str((out_dir / CACHE_FOLDER).resolve())
    order = {case.case_id: i for i, case in enumerate(cases)}
    results: list[CaseResult] = []
    with open_cluster(cluster) as session:
        on_cluster(session)
        task_analyser = _sized(analyser, session.threads_per_task)

        def arguments(case: Case) -> tuple[object, ...]:
            return case, files[case.series_instance_uid], task_analyser, cache_dir

        for finished in stream_tasks(session.client, evaluate_case_task, cases, arguments):
            results.append(_result(finished))
            on_result(results[-1])
    results.sort(key=lambda r: order[r.case_id])
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return ValidationReport(tuple(results), model, software_version(), created, tuple(notes))
