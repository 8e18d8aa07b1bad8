"""Running a lesion model over validation cases: one pure function per case, resumable.

``evaluate_case`` takes a picklable :class:`~meddiag_desktop.validation.cases.Case` and an
analyser and returns a :class:`~meddiag_desktop.validation.results.CaseResult` (``to_dict()``
is JSON-ready); it reads nothing but the case's files and writes nothing but its cache file,
so a scheduler (e.g. ``dask.distributed``) can map it over cases. ``validate_cases`` is the
sequential loop with progress and cancellation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from meddiag_desktop.core.progress import CancelToken, ProgressFn, no_progress
from meddiag_desktop.errors import Cancelled, InferenceError, MeddiagError
from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.manifest import MANIFEST_NAME
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.inference.registry import ModelRegistry, sha256_file
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.series_loader import load_series
from meddiag_desktop.validation.cache import AnalysisOutcome, cache_key, load_outcome, save_outcome, series_digest
from meddiag_desktop.validation.case_labels import case_lesions
from meddiag_desktop.validation.metrics import match_case, thickness_band
from meddiag_desktop.validation.results import CaseResult, CaseStatus, ModelInfo, ValidationReport
from meddiag_desktop.validation.variants import variant_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.validation.cases import Case

logger = logging.getLogger(__name__)

CACHE_FOLDER = "cases"


class Analyser(Protocol):
    """Runs a lesion model on a volume. ``model`` pins what it runs (the cache key uses it)."""

    @property
    def model(self) -> ModelInfo: ...

    def analyse(self, volume: Volume, progress: ProgressFn, cancel: CancelToken | None) -> AnalysisOutcome:
        """Findings on ``volume``; raise ``InferenceError`` when the model refuses the scan."""
        ...


class RegistryAnalyser:
    """A segmentation model from a :class:`ModelRegistry` (built-in and user models folders).

    The classifier is not run: validation measures detection and outlines. Pickling keeps the
    model folders and id, not the loaded session, so the analyser can be sent to workers.
    """

    def __init__(self, registry: ModelRegistry, model_id: str, *, threads: int = 0) -> None:
        self.registry = registry
        self.model_id = model_id
        self.threads = threads
        self._model: ModelInfo | None = None

    @property
    def model(self) -> ModelInfo:
        """Verifies the model's files against its manifest on first use (ModelIntegrityError)."""
        if self._model is None:
            verified = self.registry.verify(self.model_id)
            m = verified.manifest
            settings = sha256_file(verified.folder / MANIFEST_NAME)
            sha = m.files[m.model_file]
            self._model = ModelInfo(m.id, m.version, sha, settings, verified.source, m.output.threshold)
        return self._model

    def analyse(self, volume: Volume, progress: ProgressFn, cancel: CancelToken | None) -> AnalysisOutcome:
        started = time.perf_counter()
        result = analyze_volume(
            volume, self.registry, seg_model_id=self.model_id, cls_model_id=None, threads=self.threads,
            progress=progress, cancel=cancel,
        )  # fmt: skip
        features = result.finding_features
        scores = {fid: values["score"] for fid, values in features.items() if "score" in values}
        seconds = time.perf_counter() - started
        return AnalysisOutcome(result.findings, result.warnings, "", seconds, scores, dict(features))

    def __getstate__(self) -> dict[str, Any]:
        dirs = (self.registry.builtin_dir, self.registry.user_dir)
        return {"dirs": dirs, "model_id": self.model_id, "threads": self.threads, "model": self._model}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.registry = ModelRegistry(*state["dirs"])
        self.model_id, self.threads, self._model = state["model_id"], state["threads"], state["model"]


@dataclass(frozen=True)
class FunctionAnalyser:
    """Any function ``volume -> findings`` as an analyser (tests, training scripts)."""

    function: Callable[[Volume], Sequence[Finding]]
    model: ModelInfo

    def analyse(self, volume: Volume, progress: ProgressFn, cancel: CancelToken | None) -> AnalysisOutcome:
        started = time.perf_counter()
        findings = tuple(self.function(volume))
        return AnalysisOutcome(findings, (), "", time.perf_counter() - started)


def load_case_volume(case: Case, progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Volume:
    """The case's series as a volume (the largest stack when it has several)."""
    with SeriesIndex(Path(case.index_path)) as index:
        volumes = load_series(index, case.series_instance_uid, progress=progress, cancel=cancel)
    return max(volumes, key=lambda v: v.shape[0])


def _outcome(
    case: Case, volume: Volume, analyser: Analyser, cache_dir: Path | None, progress: ProgressFn,
    cancel: CancelToken | None,
) -> tuple[AnalysisOutcome, bool, str]:  # fmt: skip
    model = analyser.model
    pixels = pixel_sha256(volume)
    key = cache_key(case.series_instance_uid, case.variant, model.sha256, model.settings_sha256, pixels)
    cached = load_outcome(cache_dir, key) if cache_dir is not None else None
    if cached is not None:
        return cached, True, pixels
    try:
        outcome = analyser.analyse(volume, progress, cancel)
    except InferenceError as exc:
        outcome = AnalysisOutcome((), (), str(exc))
    if cache_dir is not None:
        about = {
            "folder": case.folder, "variant": case.variant, "model": model.id, "model_version": model.version,
            "series_sha256": series_digest(case.series_instance_uid), "model_sha256": model.sha256,
            "settings_sha256": model.settings_sha256, "pixel_sha256": pixels,
        }  # fmt: skip
        save_outcome(cache_dir, key, outcome, about)
    return outcome, False, pixels


def _evaluate(
    case: Case, analyser: Analyser, cache_dir: Path | None, base: CaseResult, progress: ProgressFn,
    cancel: CancelToken | None,
) -> CaseResult:  # fmt: skip
    volume = load_case_volume(case, progress, cancel)
    lesions, notes = case_lesions(case.sources, volume)
    variant = variant_of(case, volume, lesions)
    if isinstance(variant, str):
        return replace(base, status=CaseStatus.SKIPPED, message=variant)
    volume, thick_lesions = variant
    if any(not label.mask.any() for label in thick_lesions):
        notes.append(f"lesions too small to survive the resampling ({case.variant}) are not counted")
    outcome, cached, pixels = _outcome(case, volume, analyser, cache_dir, progress, cancel)
    spacing = volume.spacing
    base = replace(
        base, slice_spacing_mm=spacing[0], thickness_band=thickness_band(spacing[0]), notes=tuple(notes),
        from_cache=cached, pixel_sha256=pixels, analysis_warnings=outcome.warnings, seconds=outcome.seconds,
    )  # fmt: skip
    if outcome.refused:
        return replace(base, status=CaseStatus.NOT_ANALYSED, message=outcome.refused)
    voxel_ml = abs(float(np.linalg.det(volume.affine[:3, :3]))) / 1000.0
    kept = [label for label in thick_lesions if label.mask.any()]
    lesion_results, finding_results = match_case(
        kept, outcome.findings, volume.array, spacing, voxel_ml, outcome.scores
    )
    return replace(base, status=CaseStatus.ANALYSED, lesions=tuple(lesion_results), findings=tuple(finding_results))


def evaluate_case(
    case: Case,
    analyser: Analyser,
    cache_dir: Path | None = None,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> CaseResult:
    """Load, label, analyse (or read the cache) and match one case.

    Problems reading the scan or its labels are reported in the result (status ``failed``);
    a model refusing the scan gives status ``not analysed``. Only cancellation raises.
    """
    base = CaseResult(
        case.case_id, case.folder, case.patient, case.series_instance_uid, case.manufacturer, case.variant,
        CaseStatus.FAILED,
    )  # fmt: skip
    try:
        return _evaluate(case, analyser, cache_dir, base, progress, cancel)
    except Cancelled:
        raise
    except MeddiagError as exc:
        logger.warning("validation case %s (%s) failed: %s", case.folder, case.variant, exc)
        return replace(base, message=str(exc))


def software_version() -> str:
    try:
        return metadata.version("meddiag-desktop")
    except metadata.PackageNotFoundError:
        return "unknown"


def validate_cases(
    cases: Sequence[Case],
    analyser: Analyser,
    out_dir: Path,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    notes: Sequence[str] = (),
) -> ValidationReport:
    """Evaluate every case (cached ones are not analysed again) and collect the report.

    Raises
    ------
    ModelIntegrityError
        The model is missing or its files do not match its manifest.
    Cancelled
        ``cancel`` was triggered; finished cases stay cached for the next run.
    """
    token = cancel or CancelToken()
    model = analyser.model
    results = []
    for i, case in enumerate(cases):
        token.raise_if_cancelled("Validation")
        step = _case_progress(progress, i, len(cases), case)
        step(0, 1, "loading")
        results.append(evaluate_case(case, analyser, out_dir / CACHE_FOLDER, progress=step, cancel=token))
    progress(len(cases), len(cases), "Validation finished")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return ValidationReport(tuple(results), model, software_version(), created, tuple(notes))


def _case_progress(progress: ProgressFn, i: int, total: int, case: Case) -> ProgressFn:
    def step(done: int, steps: int, message: str) -> None:
        count = f" ({done}/{steps})" if steps > 1 else ""
        progress(i, total, f"case {i + 1}/{total} {case.folder} ({case.variant}): {message}{count}")

    return step
