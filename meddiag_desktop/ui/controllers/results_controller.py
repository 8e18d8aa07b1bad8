"""Existing results in a study: list them in the browser, show them on their series, jump to SR regions.

Reading headers, rasterising outlines and reading SR documents run in workers; results of a
request the user has already replaced (another scan, another series) are dropped on arrival.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.results import RegionKind, ResultKind
from meddiag_desktop.io.existing_results import load_overlay
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.sr_reports import read_report, region_index
from meddiag_desktop.ui.browser.snapshot import result_entry, result_records
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.results.reference_overlays import ReferenceOverlays
from meddiag_desktop.ui.workers import TaskCallbacks

if TYPE_CHECKING:
    from collections.abc import Callable

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.results import ResultOverlay, ResultSummary, SrGroup, SrReport
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.ui.browser.snapshot import BrowserSnapshot, ResultEntry
    from meddiag_desktop.ui.browser.study_browser import StudyBrowser
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.results.results_panel import ResultsPanel
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget
    from meddiag_desktop.ui.workers import TaskContext, TaskRunner

log = logging.getLogger(__name__)


class ResultsController(QObject):
    """The browser's result rows, the "Reference results" panel and the reference layers."""

    listed = Signal()  # every result object of the last scan has been described
    overlay_shown = Signal(str)  # SOP Instance UID, once its outlines are on the views
    reports_shown = Signal()

    def __init__(self, settings: Settings, runner: TaskRunner, viewer: ViewerWidget, browser: StudyBrowser,
                 panel: ResultsPanel, notes: NotificationPanel, open_series: Callable[[str], None],
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.settings, self._runner, self._viewer, self._browser = settings, runner, viewer, browser
        self._panel, self._notes, self._open_series = panel, notes, open_series
        self.overlays = ReferenceOverlays(viewer)
        self.entries: dict[str, ResultEntry] = {}
        self.reports: dict[str, SrReport] = {}
        self._list_generation = self._series_generation = 0
        self._loading: set[str] = set()
        self._load_id = 0
        self._load_requests: dict[int, tuple[int, str]] = {}
        self._shown_key: tuple[str, tuple[str, ...]] = ("", ())
        self._pending_show: str = ""  # object to tick once its series is open (browser double-click)
        self._pending_jump: tuple[str, int] | None = None
        viewer.state.volume_changed.connect(self._on_state_volume_changed)
        panel.items_toggled.connect(self._on_panel_items_toggled)
        panel.measurement_chosen.connect(self._on_panel_measurement_chosen)

    # -- listing in the browser ------------------------------------------------------------------

    def list_results(self, snapshot: BrowserSnapshot) -> None:
        """Describe every result object of ``snapshot`` in a worker; rows fill in as they come."""
        self._list_generation += 1
        records, index_path = result_records(snapshot), self.settings.index_path
        callbacks = TaskCallbacks(on_event=self._on_list_event, on_finished=self._on_list_finished,
                                  on_error=self._on_task_error)  # fmt: skip
        self._runner.start(lambda ctx: _list_task(ctx, records, index_path), self._list_generation, callbacks)

    def _on_list_event(self, generation: int, entry: Any) -> None:
        if generation != self._list_generation:
            return
        known = self.entries.get(entry.summary.sop_instance_uid)
        self.entries[entry.summary.sop_instance_uid] = entry
        self._browser.apply_result(entry)
        summary = entry.summary
        if summary.problem and (known is None or known.summary.problem != summary.problem):
            self._notes.notify(Level.WARNING, f"{summary.file_name} ({summary.kind.noun} “{summary.title}”): "
                                              f"{summary.problem}")  # fmt: skip

    def _on_list_finished(self, generation: int, _result: Any) -> None:
        if generation == self._list_generation:
            self.listed.emit()
            if self._viewer.state.volume is not None and not self._viewer.state.loading:
                self.on_series_loaded(self._viewer.state.volume.series_instance_uid)

    def _on_task_error(self, _generation: int, exc: BaseException) -> None:
        self._notes.report(exc)

    # -- the open series ---------------------------------------------------------------------------

    def for_series(self, volume: Volume) -> list[ResultSummary]:
        """The listed objects made on ``volume``'s series (by UID, else by study and frame of reference)."""
        study = self._viewer.state.info.study_uid
        return [e.summary for e in self.entries.values()
                if e.summary.references(volume.series_instance_uid, volume.frame_of_reference_uid, study)]  # fmt: skip

    def on_series_loaded(self, _series_uid: str) -> None:
        """List this series' reference objects (unticked) and read its SR documents in a worker."""
        volume = self._viewer.state.volume
        if volume is None:
            return
        found = self.for_series(volume)
        key = (volume.series_instance_uid, tuple(sorted(s.sop_instance_uid for s in found)))
        if key == self._shown_key:
            return  # already listed (the scan's listing and the load can both end here)
        self._shown_key = key
        self.overlays.clear()
        drawable = [s for s in found if s.kind is not ResultKind.SR]
        self._panel.show_objects(drawable)
        self._read_reports([s for s in found if s.kind is ResultKind.SR and not s.problem])
        if found:
            self._notes.notify(Level.INFO, _found_text(found))
        if self._pending_show in {s.sop_instance_uid for s in drawable}:
            self._panel.tick(self._pending_show)
        self._pending_show = ""

    def _read_reports(self, reports: list[ResultSummary]) -> None:
        if reports:
            callbacks = TaskCallbacks(on_finished=self._on_reports_finished, on_error=self._on_task_error)
            self._runner.start(lambda ctx: _reports_task(ctx, reports), self._series_generation, callbacks)

    def _on_reports_finished(self, generation: int, reports: Any) -> None:
        if generation == self._series_generation:
            self.reports = {r.sop_instance_uid: r for r in reports}
            self._panel.show_reports(list(reports))
            self.reports_shown.emit()

    def _on_state_volume_changed(self) -> None:
        self._series_generation += 1
        self._loading.clear()
        self._shown_key = ("", ())
        self._pending_jump = None
        self.overlays.clear()
        self.reports = {}
        self._panel.clear()

    # -- outlines ----------------------------------------------------------------------------------

    def _on_panel_items_toggled(self, sop: str, numbers: object) -> None:
        shown = frozenset(numbers) if isinstance(numbers, frozenset) else frozenset()
        if sop in self.overlays.overlays:
            self.overlays.set_shown(sop, shown)
        elif shown and sop not in self._loading:
            self._load(sop)

    def _load(self, sop: str) -> None:
        volume, entry = self._viewer.state.volume, self.entries.get(sop)
        if volume is None or entry is None:
            return
        self._loading.add(sop)
        self._panel.set_object_state(sop, "loading…")
        self._load_id += 1  # the task's generation: says which object and which series it was for
        self._load_requests[self._load_id] = (self._series_generation, sop)
        callbacks = TaskCallbacks(on_finished=self._on_overlay_finished, on_error=self._on_overlay_error)
        summary = entry.summary
        self._runner.start(lambda ctx: load_overlay(summary, volume, progress=ctx.progress, cancel=ctx.cancel),
                           self._load_id, callbacks)  # fmt: skip

    def _current_load(self, load_id: int) -> str:
        """The SOP Instance UID a finished load was for, "" when the series has changed since."""
        generation, sop = self._load_requests.pop(load_id, (-1, ""))
        if generation != self._series_generation:
            return ""
        self._loading.discard(sop)
        return sop

    def _on_overlay_finished(self, load_id: int, overlay: Any) -> None:
        sop = self._current_load(load_id)
        if not sop:
            return
        self.overlays.add(overlay, self._panel.ticked(sop))
        self._panel.set_object_state(sop, _overlay_note(overlay))
        for warning in overlay.warnings:
            self._notes.notify(Level.WARNING, warning)
        self.overlay_shown.emit(sop)
        if self._pending_jump is not None and self._pending_jump[0] == sop:
            self._jump_to_segment(*self._pending_jump)

    def _on_overlay_error(self, load_id: int, exc: BaseException) -> None:
        sop = self._current_load(load_id)
        if sop:
            self._panel.set_object_state(sop, "cannot be shown (see Notifications)")
            self._notes.report(exc)

    # -- browser double-click and SR rows ------------------------------------------------------------

    def activate(self, sop: str) -> None:
        """A result row was double-clicked: open its series (if needed) and show its outlines."""
        entry = self.entries.get(sop)
        if entry is None:
            self._notes.notify(Level.INFO, "This result is still being read; try again in a moment.")
            return
        summary = entry.summary
        if summary.problem:
            self._notes.notify(Level.WARNING, f"{summary.file_name}: {summary.problem}")
            return
        if not entry.targets:
            self._notes.notify(Level.WARNING, f"{summary.file_name}: the series it was made on is not in the "
                                              "scanned folders; open the folder that holds it.")  # fmt: skip
            return
        state = self._viewer.state
        volume = state.volume
        if volume is not None and summary.references(volume.series_instance_uid, volume.frame_of_reference_uid,
                                                     state.info.study_uid):  # fmt: skip
            self._pending_show = sop if state.loading else ""
            self._panel.tick(sop)  # its series is open (an SR's table is already listed)
            return
        self._pending_show = sop
        self._open_series(entry.targets[0].series_instance_uid)

    def _on_panel_measurement_chosen(self, sr_sop: str, group_index: int) -> None:
        report = self.reports.get(sr_sop)
        if report is not None and 0 <= group_index < len(report.groups):
            self.go_to(report.groups[group_index])

    def go_to(self, group: SrGroup) -> None:
        """Move the views to the region a measurement group references."""
        volume = self._viewer.state.volume
        if volume is None:
            return
        region = group.region
        if region.kind is RegionKind.SEGMENT:
            self._jump_to_segment(region.sop_instance_uid, region.segment_number)
            return
        where = region_index(region, volume)
        if where is None:
            self._notes.notify(Level.INFO, f"{group.tracking_id or 'This measurement'}: its region is not on the "
                                           "open series.")  # fmt: skip
            return
        self._viewer.state.set_position(where)

    def _jump_to_segment(self, seg_sop: str, number: int) -> None:
        if seg_sop in self.overlays.overlays:
            self._pending_jump = None
            self._panel.tick(seg_sop, frozenset({number}))
            where = self.overlays.centroid(seg_sop, number)
            if where is not None:
                self._viewer.state.set_position(where)
            return
        if self._panel.object_item(seg_sop) is None:
            self._notes.notify(Level.INFO, "The segmentation this measurement refers to is not in the scanned "
                                           "folders, or was made on another series.")  # fmt: skip
            return
        self._pending_jump = (seg_sop, number)
        self._panel.tick(seg_sop, frozenset({number}))  # loads it; the jump follows


def _found_text(found: list[ResultSummary]) -> str:
    kinds = ", ".join(sorted({s.kind.value for s in found}))
    return (f"{len(found)} existing result(s) ({kinds}) refer to this series: see the Reference results panel "
            "(read-only).")  # fmt: skip


def _overlay_note(overlay: ResultOverlay) -> str:
    if not overlay.masks or not any(m.voxels for m in overlay.masks):
        return "nothing lies on this series"
    return ""


def _list_task(ctx: TaskContext, records: list[tuple[str, Any]], index_path: Path) -> None:
    with SeriesIndex(index_path) as index:
        for done, (study_uid, record) in enumerate(records, start=1):
            ctx.cancel.raise_if_cancelled("Reading existing results")
            ctx.emit(result_entry(index, study_uid, record))
            ctx.progress(done, len(records), f"Read {done} of {len(records)} existing results")


def _reports_task(ctx: TaskContext, summaries: list[ResultSummary]) -> list[SrReport]:
    reports = []
    for summary in summaries:
        ctx.cancel.raise_if_cancelled("Reading measurement reports")
        reports.append(read_report(Path(summary.path)))
    return reports
