"""Edit a finding's mask (or draw a missed lesion) with brush and eraser, slice by slice.

Strokes go to a ``core.brush.MaskEditor`` working copy shown as its own layer; saving measures
the new mask with ``inference.findings.measure`` and stores it as a new mask version (the AI's
original stays untouched) or, for a drawn lesion, as a radiologist-origin finding.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.core.brush import MaskEditor, bounding_box
from meddiag_desktop.inference.findings import measure
from meddiag_desktop.ui.panels import Level
from meddiag_desktop.ui.review.overlay_layers import EDIT_COLOUR, EDIT_LAYER, MaskLayer, MaskStyle
from meddiag_desktop.ui.viewer.slice_view import Tool

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.ui.controllers.review_controller import ReviewController
    from meddiag_desktop.ui.panels import NotificationPanel
    from meddiag_desktop.ui.viewer.slice_view import SliceView
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget

MIN_RADIUS_MM, MAX_RADIUS_MM = 0.5, 30.0


class EditMode(enum.Enum):
    NONE = "none"
    EDIT = "edit"
    ADD = "add"


class EditController(QObject):
    """At most one mask being edited; ``changed`` fires on every mode, stroke, undo or redo."""

    changed = Signal()

    def __init__(self, viewer: ViewerWidget, review: ReviewController, notes: NotificationPanel,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._viewer, self._review, self._notes = viewer, review, notes
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
        if mode is EditMode.EDIT:
            self._review.save_edit(finding)
        else:
            self._review.add(finding)

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
        # The classifier saw the old mask's centre: its class is dropped, shown as "not recomputed after edit".
        # The lung side and zone came from the lung masks, which the app does not keep: an edit refines the
        # outline of the same lesion, so they carry over.
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
