"""Run AI: one inference at a time in a worker, progress and cancel, result kept in the review store.

One ``ModelRegistry`` (with its cached onnxruntime sessions) lives as long as the window.
Each run starts with the input check (``inference.ood``, in a worker: it reads headers): a
hard issue refuses the run, soft issues emit ``override_needed`` and wait for ``run_overridden``
(with the recorded override) or ``decline_override``. A refusal, or an override declined, is
kept as ``refusal`` (plain words) until another series is shown: the panel shows it and Run AI
stays off for the series. The worker records the run in its own ``ReviewStore`` connection (one
per thread) before the GUI hears of it, so a run the radiologist saw is always on disk. Every
message is about the series the run is for (``NotificationPanel`` shows it only with that series).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.ood import CheckStatus
from meddiag_desktop.errors import MeddiagError, ModelIntegrityError
from meddiag_desktop.inference import ood
from meddiag_desktop.inference.analyze import DEFAULT_CLS_MODEL, DEFAULT_SEG_MODEL, analyze_volume
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.inference.resample import from_grid
from meddiag_desktop.io.acquisition import facts_for_volume
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.review.ood_record import run_payload
from meddiag_desktop.review.records import AiRun, model_ref
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.workers import TaskCallbacks

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.analyze import AnalysisResult
    from meddiag_desktop.inference.resample import Grid
    from meddiag_desktop.review.audit import Actor
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.workers import TaskContext, TaskHandle, TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class AnalysisOutcome:
    """A finished, stored AI run and the maps the review screen shows with it."""

    run_id: str
    series_uid: str
    result: AnalysisResult
    saliency: NDArray[np.float32] | None


@dataclass(frozen=True)
class AnalysisRequest:
    volume: Volume
    study_uid: str
    seg_model: str
    cls_model: str | None
    threads: int
    store_path: Path
    actor: Actor
    config_dir: Path | None = None  # the audit key and checkpoints (None: the per-user default)
    index_path: Path | None = None  # the study index (where the series' files are) for the input check
    input_check: InputCheck | None = None  # set once the check passed (with its override, if it needed one)


def ai_run_from_result(result: AnalysisResult, study_uid: str, saliency: NDArray[np.float32] | None = None) -> AiRun:
    maps: dict[str, NDArray[np.floating]] = {"probability": result.probability}
    if saliency is not None:
        maps["saliency"] = saliency
    return AiRun(
        run_id=uuid.uuid4().hex,
        series_uid=result.provenance.series_instance_uid,
        study_uid=study_uid,
        model_ref=model_ref(result),
        input_pixel_sha256=result.provenance.input_pixel_sha256,
        provenance={
            **dataclasses.asdict(result.provenance),
            "warnings": list(result.warnings),
            **run_payload(result.input_check),
        },
        findings=result.findings,
        maps=maps,
    )


def saliency_volume(result: AnalysisResult, volume: Volume) -> NDArray[np.float32] | None:
    """The classifier's occlusion maps on the image grid (max over findings; positive part only)."""
    if not result.explanations:
        return None
    out = np.zeros(volume.shape, dtype=np.float32)
    for explanation in result.explanations.values():
        box = _grid_box(explanation.grid, volume)
        if box is None:
            continue
        start = tuple(float(b.start) for b in box)
        affine = volume.affine.copy()
        affine[:3, 3] = volume.index_to_lps((start[0], start[1], start[2]))
        shape = (box[0].stop - box[0].start, box[1].stop - box[1].start, box[2].stop - box[2].start)
        mapped = from_grid(np.clip(explanation.array, 0.0, None), explanation.grid, affine, shape)
        np.maximum(out[box], mapped, out=out[box])
    return out


def _grid_box(grid: Grid, volume: Volume) -> tuple[slice, slice, slice] | None:
    """The part of the volume (index box) that ``grid`` covers; resampling only there is fast."""
    corners = np.array([[z, y, x] for z in (0, grid.shape[0] - 1) for y in (0, grid.shape[1] - 1)
                        for x in (0, grid.shape[2] - 1)], dtype=np.float64)  # fmt: skip
    index = volume.lps_to_index(corners @ grid.affine[:3, :3].T + grid.affine[:3, 3])
    low = np.maximum(np.floor(index.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(index.max(axis=0)).astype(int) + 1, volume.shape)
    if np.any(high <= low):
        return None
    return (slice(int(low[0]), int(high[0])), slice(int(low[1]), int(high[1])), slice(int(low[2]), int(high[2])))


def _check_task(ctx: TaskContext, registry: ModelRegistry, request: AnalysisRequest) -> InputCheck:
    """Worker thread: the series' header facts against the models' manifests (no model is run)."""
    ctx.progress(0, 0, "Checking the series against the models' intended use")
    if request.index_path is None:
        raise MeddiagError("The study index is not known, so the series cannot be checked before an AI run.")
    with SeriesIndex(request.index_path) as index:
        facts = facts_for_volume(index, request.volume)
    ids = [request.seg_model, *([request.cls_model] if request.cls_model else [])]
    manifests = [m for m in (registry.entry(i).manifest for i in ids) if m is not None]
    ctx.cancel.raise_if_cancelled("The AI run")
    return ood.assess(request.volume, facts, manifests)


def _analysis_task(ctx: TaskContext, registry: ModelRegistry, request: AnalysisRequest) -> AnalysisOutcome:
    """Worker thread: analyse, store the run (durably), map the explanations to the image grid."""
    result = analyze_volume(
        request.volume, registry, seg_model_id=request.seg_model, cls_model_id=request.cls_model,
        threads=request.threads, progress=ctx.progress, cancel=ctx.cancel, input_check=request.input_check,
    )  # fmt: skip
    ctx.progress(0, 0, "Mapping explanations")
    saliency = saliency_volume(result, request.volume)
    run = ai_run_from_result(result, request.study_uid, saliency)
    with ReviewStore(request.store_path, request.config_dir) as store:
        ReviewService(store, request.actor).record_run(run)
    return AnalysisOutcome(run.run_id, run.series_uid, result, saliency)


DECLINED = ("AI not run on this series: it is outside the range the AI was validated for, and no reason was "
            "given to run it anyway. Open the series again to run it with a reason.")  # fmt: skip


def refusal_words(check: InputCheck) -> str:
    """The AI panel's sentence for a refused series: each hard issue, and that Run AI stays off."""
    issues = " ".join(issue.message for issue in check.hard)
    return f"AI not run on this series: {issues} Run AI is off until another series is shown."


class AnalysisController(QObject):
    """Owns the model registry and the one inference queue (one run at a time)."""

    busy_changed = Signal(bool)
    progress = Signal(int, int, str)
    finished = Signal(object)  # AnalysisOutcome
    override_needed = Signal(object)  # InputCheck with soft issues: answer with run_overridden or decline_override
    refusal_changed = Signal(str)  # why the AI is not run on the shown series ("" once another series is shown)

    def __init__(self, settings: Settings, runner: TaskRunner, notes: NotificationPanel,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.settings, self._runner, self._notes = settings, runner, notes
        self.registry = ModelRegistry(settings.builtin_models_dir, settings.user_models_dir)
        self.seg_model, self.cls_model = DEFAULT_SEG_MODEL, DEFAULT_CLS_MODEL
        self._generation = 0
        self._handle: TaskHandle | None = None
        self._pending: AnalysisRequest | None = None  # checked, waiting for the radiologist's override
        self._series = ""  # the series of the current (or last) run: its messages belong to it
        self._refusal: tuple[str, str] = ("", "")  # (series UID, why the AI is not run on it)

    @property
    def busy(self) -> bool:
        return self._handle is not None and not self._handle.is_done

    def model_label(self) -> str:
        """ "id version" of the models a run would use, or why none can run."""
        found = []
        for model_id in (self.seg_model, self.cls_model):
            try:
                entry = self.registry.entry(model_id)
            except ModelIntegrityError:
                continue
            found.append(f"{model_id} {entry.manifest.version}" if entry.manifest else f"{model_id} (refused)")
        return ", ".join(found) or "no model installed"

    def model_card(self, model_id: str | None = None) -> str:
        """A model's card (Markdown; the segmentation model by default), or a sentence saying why it is missing."""
        model_id = model_id or self.seg_model
        try:
            entry = self.registry.entry(model_id)
            return (entry.folder / "MODEL_CARD.md").read_text(encoding="utf-8")
        except (ModelIntegrityError, OSError) as exc:
            return f"The model card of {model_id} cannot be shown: {exc}"

    def matches(self, volume: Volume | None) -> bool:
        """True when the segmentation model is installed and meant for this volume's modality."""
        if volume is None:
            return False
        try:
            manifest = self.registry.entry(self.seg_model).manifest
        except ModelIntegrityError:
            return False
        return manifest is not None and manifest.modality == volume.modality

    def refusal(self, series_uid: str) -> str:
        """Why the AI was refused on ``series_uid`` while it is shown, in plain words ("" when it was not)."""
        refused, why = self._refusal
        return why if series_uid and refused == series_uid else ""

    def _refuse(self, series_uid: str, why: str) -> None:
        self._refusal = (series_uid, why)
        self.refusal_changed.emit(why)

    def run(self, volume: Volume, study_uid: str, actor: Actor) -> None:
        """Check the series, then start a run (a second request while one runs is refused: one inference queue)."""
        if self.busy:
            self._notes.notify(Level.INFO, "The AI is already running; wait for it or cancel it.", self._series)
            return
        why = self.refusal(volume.series_instance_uid)
        if why:
            self._notes.notify(Level.INFO, why, volume.series_instance_uid)
            return
        self._generation += 1
        self._pending = None
        self._series = volume.series_instance_uid
        cls_model = self.cls_model if self._installed(self.cls_model) else None
        request = AnalysisRequest(volume, study_uid, self.seg_model, cls_model, self.settings.inference_threads,
                                  self.settings.review_store_path, actor, self.settings.config_dir,
                                  self.settings.index_path)  # fmt: skip
        registry = self.registry
        callbacks = TaskCallbacks(on_finished=lambda generation, check: self._on_check_finished(generation, request,
                                  check), on_error=self._on_task_error, on_progress=self._on_task_progress,
                                  on_cancelled=self._on_task_cancelled)  # fmt: skip
        self._handle = self._runner.start(lambda ctx: _check_task(ctx, registry, request), self._generation, callbacks)
        self.busy_changed.emit(True)
        self.progress.emit(0, 0, "Checking the series before the AI run…")

    def run_overridden(self, check: InputCheck) -> None:
        """The radiologist overrode the soft issues (``check`` carries the recorded override): run."""
        pending, self._pending = self._pending, None
        if pending is None or check.override is None or check.series_uid != pending.volume.series_instance_uid:
            self._notes.notify(Level.INFO, "The series changed; press Run AI again.")
            return
        self._start_analysis(dataclasses.replace(pending, input_check=check))

    def decline_override(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            series = pending.volume.series_instance_uid
            self._notes.notify(Level.INFO, "AI not run: the series is outside the models' validated range.", series)
            self._refuse(series, DECLINED)

    def _on_check_finished(self, generation: int, request: AnalysisRequest, check: InputCheck) -> None:
        if not self._current(generation):
            return
        if self._handle is not None and self._handle.cancel.cancelled:  # cancelled as the check came back
            self._on_task_cancelled(generation)
            return
        self._handle = None
        status = check.status
        if status is CheckStatus.REFUSED:
            self._refuse(check.series_uid, refusal_words(check))
        self.busy_changed.emit(False)
        if status is CheckStatus.REFUSED:
            self.progress.emit(1, 1, "AI not run: the series is outside what the models are meant for.")
            self._notes.notify(Level.ERROR, ood.refusal_text(check), check.series_uid)
        elif status is CheckStatus.NEEDS_OVERRIDE:
            self.progress.emit(1, 1, "The series is outside the validated range: a reason is needed to run the AI.")
            self._pending = request
            self.override_needed.emit(check)
        else:
            self._start_analysis(dataclasses.replace(request, input_check=check))

    def _start_analysis(self, request: AnalysisRequest) -> None:
        callbacks = TaskCallbacks(on_finished=self._on_task_finished, on_error=self._on_task_error,
                                  on_progress=self._on_task_progress, on_cancelled=self._on_task_cancelled)  # fmt: skip
        registry = self.registry
        self._handle = self._runner.start(lambda ctx: _analysis_task(ctx, registry, request), self._generation,
                                          callbacks)  # fmt: skip
        self.busy_changed.emit(True)
        self.progress.emit(0, 0, f"Running AI ({self.model_label()})…")

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel.cancel()

    def forget(self) -> None:
        """Another series was opened: cancel the run, drop its result when it comes, forget a refusal."""
        self.cancel()
        self._generation += 1
        self._pending = None
        if self._refusal[0]:
            self._refuse("", "")
        if self._handle is not None:
            self.busy_changed.emit(False)
        self._handle = None

    def _installed(self, model_id: str | None) -> bool:
        if not model_id:
            return False
        try:
            return self.registry.entry(model_id).manifest is not None
        except MeddiagError:
            return False

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _on_task_progress(self, generation: int, done: int, total: int, message: str) -> None:
        if self._current(generation):
            self.progress.emit(done, total, f"AI: {message}")

    def _on_task_finished(self, generation: int, outcome: Any) -> None:
        if self._current(generation):
            self._handle = None
            self.busy_changed.emit(False)
            # No count here: in read-first mode nothing of the result may show before the reveal.
            self.progress.emit(1, 1, "AI finished.")
            check = outcome.result.input_check
            shown = set(check.geometry_warnings) if check is not None else set()  # notified when the series loaded
            for warning in outcome.result.warnings:
                if warning not in shown:
                    self._notes.notify(Level.WARNING, warning, outcome.series_uid)
            self.finished.emit(outcome)

    def _on_task_error(self, generation: int, exc: BaseException) -> None:
        if self._current(generation):
            self._handle = None
            self.busy_changed.emit(False)
            self.progress.emit(1, 1, "AI run failed; see Notifications.")
            self._notes.report(exc, self._series)

    def _on_task_cancelled(self, generation: int) -> None:
        if self._current(generation):
            self._handle = None
            self.busy_changed.emit(False)
            self.progress.emit(1, 1, "AI run cancelled.")
            self._notes.notify(Level.INFO, "AI run cancelled; nothing was stored.", self._series)
