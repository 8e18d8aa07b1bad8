"""Open a series: plan it, show the empty volume at once, fill it slice by slice (progressive)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.display_text import NOT_STATED, format_person_name
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.io.export_common import default_export_dir
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.series_loader import plan_series, read_volume
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.viewer.state import SeriesInfo
from meddiag_desktop.ui.workers import TaskCallbacks

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from numpy.typing import NDArray

    from meddiag_desktop.config import Settings
    from meddiag_desktop.io.decode_pool import DecodePool
    from meddiag_desktop.io.series_loader import VolumePlan
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.viewer.measure_store import MeasurementStore
    from meddiag_desktop.ui.viewer.state import ViewerState
    from meddiag_desktop.ui.workers import TaskContext, TaskHandle, TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    """First event of a load: the empty (filling) volume and what the corner text shows."""

    volume: Volume
    info: SeriesInfo
    stack_sizes: tuple[int, ...]
    shown_stack: int


@dataclass(frozen=True)
class SliceLoaded:
    z: int


class SeriesController(QObject):
    """One series at a time; a newer request cancels and out-dates the older one."""

    loaded = Signal(str)  # series uid, once every slice is in
    stacks_changed = Signal(object, int)  # stack sizes, shown stack
    load_progress = Signal(int, int, str)

    def __init__(
        self,
        settings: Settings,
        runner: TaskRunner,
        state: ViewerState,
        store: MeasurementStore,
        notes: NotificationPanel,
        decode_pool: DecodePool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self._runner, self._state, self._store, self._notes = settings, runner, state, store, notes
        self._decode_pool = decode_pool
        self._generation = 0
        self._handle: TaskHandle | None = None
        self.series_uid = ""

    def open(self, series_uid: str, stack: int | None = None) -> None:
        """Load ``series_uid`` (its largest stack unless ``stack`` is given)."""
        if self._handle is not None:
            self._handle.cancel.cancel()
        self._generation += 1
        self.series_uid = series_uid
        self._state.set_loading(True)
        index_path, threads = self.settings.index_path, self.settings.reader_threads
        callbacks = TaskCallbacks(
            on_event=self._on_load_event,
            on_finished=self._on_load_finished,
            on_error=self._on_load_error,
            on_progress=self._on_load_progress,
            on_cancelled=self._on_load_cancelled,
        )
        self._handle = self._runner.start(
            lambda ctx: _load_task(ctx, index_path, series_uid, stack, threads, self._decode_pool),
            self._generation,
            callbacks,
        )

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _on_load_event(self, generation: int, event: Any) -> None:
        if not self._current(generation):
            return
        if isinstance(event, SliceLoaded):
            self._state.slice_loaded.emit(event.z)
            return
        self._show(event)

    def _show(self, planned: Planned) -> None:
        uid = planned.volume.series_instance_uid
        self._store.set_series(uid)
        self._state.set_volume(planned.volume, planned.info, loading=True)
        self._notes.show_series(uid)  # the previous series' warnings leave with it
        self.stacks_changed.emit(planned.stack_sizes, planned.shown_stack)
        if len(planned.stack_sizes) > 1:
            self._notes.notify(
                Level.WARNING,
                f"This series has {len(planned.stack_sizes)} separate stacks; showing one of "
                f"{planned.volume.shape[0]} images. Pick another in the Stack list.",
                uid,
            )
        for warning in planned.volume.warnings:
            self._notes.notify(Level.WARNING, warning.message, uid)

    def _on_load_progress(self, generation: int, done: int, total: int, message: str) -> None:
        if self._current(generation):
            self.load_progress.emit(done, total, message)

    def _on_load_finished(self, generation: int, volume: Any) -> None:
        if not self._current(generation):
            return
        planned = self._state.volume.warnings if self._state.volume is not None else ()
        self._state.finish_loading(volume)
        for warning in volume.warnings:
            if warning not in planned:  # found while reading pixels: undecodable or corrupt images
                self._notes.notify(Level.WARNING, warning.message, volume.series_instance_uid)
        self.loaded.emit(self.series_uid)

    def _on_load_error(self, generation: int, exc: BaseException) -> None:
        if self._current(generation):
            self._state.set_loading(False)
            self._notes.report(exc)  # not tied to the series: it never got on screen, so this must stay visible

    def _on_load_cancelled(self, generation: int) -> None:
        if self._current(generation):
            self._state.set_loading(False)


def _load_task(
    ctx: TaskContext, index_path: Path, series_uid: str, stack: int | None, threads: int, pool: DecodePool | None
) -> Volume:
    """Worker thread: plan, announce the empty volume, read it slice by slice."""
    with SeriesIndex(index_path) as index:
        plans = plan_series(index, series_uid)
        shown = stack if stack is not None and 0 <= stack < len(plans) else _largest(plans)
        chosen = plans[shown]
        out = chosen.allocate()
        sizes = tuple(len(p.frames) for p in plans)
        ctx.emit(Planned(_empty_volume(chosen, out), _series_info(index, series_uid), sizes, shown))
        return read_volume(
            chosen,
            out=out,
            progress=ctx.progress,
            cancel=ctx.cancel,
            on_slice=lambda z: ctx.emit(SliceLoaded(z)),
            threads=threads,
            decode_pool=pool,
        )


def _largest(plans: list[VolumePlan]) -> int:
    return max(range(len(plans)), key=lambda i: len(plans[i].frames))


def _empty_volume(plan: VolumePlan, out: NDArray[np.generic]) -> Volume:
    return Volume(
        array=out,
        affine=plan.geometry.affine,
        frame_of_reference_uid=plan.frame_of_reference_uid,
        series_instance_uid=plan.series_uid,
        modality=plan.modality,
        warnings=plan.geometry.warnings,
        display=plan.display,
        slice_positions=plan.geometry.slice_positions,
    )


def _readable_name(name: str) -> str:
    """``Doe^John`` -> ``Doe, John``; empty when not stated (the corner text then says so)."""
    readable = format_person_name(name)
    return "" if readable == NOT_STATED else readable


def _series_info(index: SeriesIndex, series_uid: str) -> SeriesInfo:
    series = index.find_series(series_uid)
    study, patient = index.study_of_series(series_uid)
    return SeriesInfo(
        series_uid=series_uid,
        study_uid=study.study_instance_uid,
        description=series.description,
        modality=series.modality,
        patient_name=_readable_name(patient.name),
        patient_id=patient.patient_id,
        birth_date=patient.birth_date,
        study_date=study.date,
        results_folder=str(default_export_dir(index, series_uid)),
    )
