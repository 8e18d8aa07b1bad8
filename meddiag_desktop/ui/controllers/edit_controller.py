"""Edit a finding's mask (or draw a missed lesion) with brush and eraser, slice by slice.

Strokes go to a ``core.brush.MaskEditor`` working copy shown as its own layer; saving measures
the new mask with ``inference.findings.measure`` and stores it as a new mask version (the AI's
original stays untouched) or, for a drawn lesion, as a radiologist-origin finding. An AI finding's
class is then recomputed in a worker with the run's own classifier (``review.reclassify``) and
stored with that mask version.
"""

from __future__ import annotations

import dataclasses
import enum
import sqlite3
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.brush import MaskEditor, bounding_box
from meddiag_desktop.inference.findings import measure
from meddiag_desktop.inference.session import SessionOptions
from meddiag_desktop.review.reclassify import ClassResult, classifier_ref, recompute_class
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.review.overlay_layers import EDIT_COLOUR, EDIT_LAYER, MaskLayer, MaskStyle
from meddiag_desktop.ui.viewer.slice_view import Tool
from meddiag_desktop.ui.workers import TaskCallbacks

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.registry import ModelRegistry
    from meddiag_desktop.ui.controllers.review_controller import ReviewController
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.viewer.slice_view import SliceView
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget
    from meddiag_desktop.ui.workers import TaskRunner

MIN_RADIUS_MM, MAX_RADIUS_MM = 0.5, 30.0


class EditMode(enum.Enum):
    NONE = "none"
    EDIT = "edit"
    ADD = "add"


class EditController(QObject):
    """At most one mask being edited; ``changed`` fires on every mode, stroke, undo or redo."""

    changed = Signal()

    def __init__(self, viewer: ViewerWidget, review: ReviewController, notes: NotificationPanel,
                 parent: QObject | None = None, *, runner: TaskRunner | None = None,
                 registry: ModelRegistry | None = None, threads: int = 0) -> None:  # fmt: skip
        super().__init__(parent)
        self._viewer, self._review, self._notes = viewer, review, notes
        self._runner, self._registry = runner, registry  # the class of an edit: the AI run's models, a worker
        self._options = SessionOptions(threads=threads, providers=("CPUExecutionProvider",))  # the run's session
        self.mode = EditMode.NONE
        self.finding_id = ""
        self.radius_mm = 4.0
        self.probability: NDArray[np.floating] | None = None  # the run's map, for the new mask's mean p
        self._editor: MaskEditor | None = None
        viewer.stroke.connect(self._on_viewer_stroke)

    @property
    def editor(self) -> MaskEditor | None:
        return self._editor

    # -- starting and ending -----------------------------------------------------------------

    def begin_edit(self) -> bool:
        item = self._review.selected_finding()
        volume = self._viewer.state.volume
        if item is None or volume is None or not self._review.editable:
            self._notes.notify(Level.INFO, "Select a finding of an open review to edit its mask.")
            return False
        self._start(EditMode.EDIT, item.id, item.finding.full_mask(volume.shape), volume)
        return True

    def begin_add(self) -> bool:
        volume = self._viewer.state.volume
        if volume is None or not self._review.editable:
            self._notes.notify(Level.INFO, "Open a review (Run AI) to draw a lesion the AI missed.")
            return False
        self._start(EditMode.ADD, self._review.next_added_id(), np.zeros(volume.shape, dtype=bool), volume)
        return True

    def _start(self, mode: EditMode, finding_id: str, mask: NDArray[np.bool_], volume: Volume) -> None:
        self.cancel()
        self.mode, self.finding_id = mode, finding_id
        self._editor = MaskEditor(mask, volume.spacing)
        layer_data = self._editor.mask.view(np.uint8)
        for view in self._viewer.viewports:
            layer = MaskLayer(EDIT_LAYER, layer_data, (EDIT_COLOUR,), z_value=30.0)
            layer.set_look(MaskStyle.BOTH, 0.3)
            view.add_layer(layer)
        self.changed.emit()

    def cancel(self) -> None:
        if self.mode is EditMode.NONE:
            return
        self._viewer.remove_layers(EDIT_LAYER)
        self.mode, self.finding_id, self._editor = EditMode.NONE, "", None
        self.changed.emit()

    def save(self) -> None:
        """Measure the working mask and store it (new version, or a radiologist-origin finding)."""
        editor, volume = self._editor, self._viewer.state.volume
        if editor is None or volume is None:
            return
        editor.end_stroke()
        box = bounding_box(editor.mask)
        if box is None:
            self._notes.notify(Level.WARNING, "The mask is empty; reject the finding instead of erasing it all.")
            return
        finding = self._measured(editor.mask[box], box, volume)
        mode = self.mode
        self.cancel()
        if mode is EditMode.ADD:
            self._review.add(finding)
            return
        state = self._review.state
        if state is not None and finding.origin == "ai":
            self._review.recomputing(finding.id, state.finding(finding.id).mask_version + 1)
        self._review.save_edit(finding)
        if state is not None and finding.origin == "ai":
            self._recompute_class(state.review_id, state.run_id, finding, volume)

    def _recompute_class(self, review_id: int, run_id: str, edited: Finding, volume: Volume) -> None:
        """Classify the edited mask in a worker with the run's classifier; the result goes to the store."""
        run_ref = self._run_model_ref(run_id)
        registry, options, review = self._registry, self._options, self._review
        if self._runner is None or registry is None:
            why = "No classifier is available in this window, so the class was not recomputed."
            review.record_class(review_id, ClassResult(edited, {}, classifier_ref(run_ref), why))
            return
        callbacks = TaskCallbacks(
            on_finished=lambda _generation, result: review.record_class(review_id, result),
            on_error=lambda _generation, exc: self._on_class_failed(review_id, edited, run_ref, exc),
        )
        self._runner.start(lambda _ctx: recompute_class(registry, volume, edited, run_ref, options), 0, callbacks)

    def _on_class_failed(self, review_id: int, edited: Finding, run_ref: str, exc: BaseException) -> None:
        self._notes.report(exc)
        why = f"The classifier failed on the edited mask ({exc}), so the class was not recomputed."
        self._review.record_class(review_id, ClassResult(edited, {}, classifier_ref(run_ref), why))

    def _run_model_ref(self, run_id: str) -> str:
        """The models the AI run recorded (read on the GUI thread's read connection: one indexed row)."""
        try:
            db = self._review.read_db()
            row = None if db is None else db.execute("SELECT model_ref FROM ai_runs WHERE run_id = ?",
                                                     (run_id,)).fetchone()  # fmt: skip
        except sqlite3.Error as exc:
            self._notes.report(exc)
            return ""
        return "" if row is None else str(row[0])

    def _measured(self, crop: NDArray[np.bool_], box: tuple[slice, slice, slice], volume: Volume) -> Finding:
        measured = measure(self.finding_id, crop, box, volume, np.broadcast_to(np.float32(0.0), volume.shape))
        prob = self.probability
        if prob is not None and prob.shape == volume.shape:
            inside = np.asarray(prob[box], dtype=np.float32)[crop]
            measured = dataclasses.replace(measured, mean_prob=float(inside.mean()), max_prob=float(inside.max()))
        if self.mode is EditMode.ADD:
            return dataclasses.replace(measured, origin="radiologist", mean_prob=0.0, max_prob=0.0)
        item = self._review.selected_finding()
        original = item.finding if item is not None and item.id == self.finding_id else None
        if original is None:
            return measured
        # The classifier saw the old mask's centre: its class is dropped here and recomputed in a worker
        # (``_recompute_class``) on the new mask's centre. The lung side and zone came from the lung masks,
        # which the app does not keep: an edit refines the outline of the same lesion, so they carry over.
        return dataclasses.replace(
            measured, label=original.label, origin=original.origin,
            lung_side=original.lung_side, lung_zone=original.lung_zone,
        )  # fmt: skip

    # -- strokes, undo, redo -----------------------------------------------------------------

    def set_radius(self, radius_mm: float) -> None:
        self.radius_mm = float(np.clip(radius_mm, MIN_RADIUS_MM, MAX_RADIUS_MM))
        self.changed.emit()

    def undo(self) -> None:
        if self._editor is not None and self._editor.undo():
            self._viewer.refresh_layers(EDIT_LAYER)
            self.changed.emit()

    def redo(self) -> None:
        if self._editor is not None and self._editor.redo():
            self._viewer.refresh_layers(EDIT_LAYER)
            self.changed.emit()

    def _on_viewer_stroke(self, view: SliceView, x_mm: float, y_mm: float, first: bool, last: bool) -> None:
        if self._editor is None or view.geometry is None:
            if first:
                self._notes.notify(Level.INFO, "Brush and eraser work while editing: press E (edit) or D (draw).")
            return
        axis = view.geometry.axes.slice_axis
        point = view.geometry.to_index(x_mm, y_mm, view.slice_index)
        self._editor.stroke(axis, view.slice_index, point, self.radius_mm, view.tool is Tool.ERASER, first)
        if last:
            self._editor.end_stroke()
            self.changed.emit()
        self._viewer.refresh_layers(EDIT_LAYER)
