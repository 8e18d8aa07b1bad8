"""Keeps the viewer's review layers in step with the review: masks, heat map, RECIST axes, look, visibility.

Defaults that keep an AI finding from looking like tissue: outlines only (a fill, when chosen,
is at most 30 % opaque), and the heat map only around the selected finding, and only while that
finding is shown (a finding hidden by the threshold slider hides its heat map too). The
selected, shown finding also gets its RECIST long and short axis on its slice of greatest extent.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from meddiag_desktop.inference.findings import recist
from meddiag_desktop.ui.review.overlay_layers import (
    DEFAULT_FILL_OPACITY,
    HEAT_LAYER,
    MASK_LAYER,
    HeatLayer,
    MaskLayer,
    MaskStyle,
    colour_of,
    label_volume,
)
from meddiag_desktop.ui.review.recist_layer import RECIST_LAYER, RecistLayer

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.recist import RecistAxes
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.ui.controllers.review_controller import ReviewController
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget

HEAT_FLOOR = 0.05  # heat below 5 % of the scale stays transparent
HEAT_MARGIN_MM = 10.0  # the heat map reaches this far beyond the selected finding's box


class HeatSource(enum.Enum):
    OFF = "off"
    PROBABILITY = "probability"
    SALIENCY = "saliency"


class ReviewOverlays(QObject):
    """Adds, refreshes and removes the review's layers on every view."""

    heat_changed = Signal(object)  # (label, low, high) of the shown heat map, or None

    def __init__(self, viewer: ViewerWidget, review: ReviewController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._viewer, self._review = viewer, review
        self.style, self.opacity, self.heat_opacity = MaskStyle.OUTLINE, DEFAULT_FILL_OPACITY, 0.35
        self.shown = True
        self.heat_source = HeatSource.PROBABILITY
        self._maps: dict[HeatSource, NDArray[np.floating]] = {}
        self._mask: MaskLayer | None = None
        self._heat: HeatLayer | None = None
        self.colours: dict[str, int] = {}
        self._recist: tuple[Finding, RecistAxes | None] | None = None  # the last finding measured, and its axes
        review.state_changed.connect(self._on_review_state_changed)
        review.threshold_changed.connect(self._on_review_threshold_changed)
        review.selection_changed.connect(self._on_review_selection_changed)

    # -- data --------------------------------------------------------------------------------

    def set_maps(self, probability: NDArray[np.floating] | None, saliency: NDArray[np.floating] | None) -> None:
        """The run's heat maps (the review store keeps them, so a restored review shows them too)."""
        self._maps = {k: v for k, v in ((HeatSource.PROBABILITY, probability), (HeatSource.SALIENCY, saliency))
                      if v is not None}  # fmt: skip
        self._rebuild_heat()

    def clear(self) -> None:
        self._maps, self.colours = {}, {}
        self._viewer.remove_layers(MASK_LAYER)
        self._viewer.remove_layers(HEAT_LAYER)
        self._viewer.remove_layers(RECIST_LAYER)
        self._mask = self._heat = None
        self._recist = None
        self.heat_changed.emit(None)

    def available_heat(self) -> tuple[HeatSource, ...]:
        return tuple(self._maps)

    # -- look --------------------------------------------------------------------------------

    def set_look(self, style: MaskStyle, opacity: float) -> None:
        self.style, self.opacity = style, opacity
        for view in self._viewer.viewports:
            for layer in view.layers:
                if isinstance(layer, MaskLayer) and layer.name == MASK_LAYER:
                    layer.set_look(style, opacity)
        self._viewer.refresh_layers()

    def set_heat(self, source: HeatSource, opacity: float) -> None:
        self.heat_source, self.heat_opacity = source, opacity
        self._rebuild_heat()

    def set_shown(self, shown: bool) -> None:
        """The one switch for every AI overlay (masks and heat map)."""
        self.shown = shown
        for view in self._viewer.viewports:
            for layer in view.layers:
                if layer.name in (MASK_LAYER, HEAT_LAYER, RECIST_LAYER):
                    layer.item.setVisible(shown)

    # -- rebuilding --------------------------------------------------------------------------

    def _on_review_state_changed(self, state: ReviewState | None) -> None:
        if state is None:
            self.clear()
            return
        self.colours = {item.id: colour_of(n) for n, item in enumerate(state.findings)}
        self._rebuild_masks()
        self._rebuild_heat()
        self._rebuild_recist()

    def _on_review_threshold_changed(self, _threshold: float) -> None:
        self._rebuild_masks()
        self._rebuild_heat()
        self._rebuild_recist()

    def _on_review_selection_changed(self, _finding_id: str) -> None:
        self._rebuild_heat()
        self._rebuild_recist()

    def _rebuild_masks(self) -> None:
        volume, state = self._viewer.state.volume, self._review.state
        self._viewer.remove_layers(MASK_LAYER)
        if volume is None or state is None:
            return
        shown = [(self.colours.get(f.id, 1), f.finding) for f in state.findings if self._review.visible(f)]
        labels = label_volume(volume.shape, shown)
        for view in self._viewer.viewports:
            layer = MaskLayer(MASK_LAYER, labels)
            layer.set_look(self.style, self.opacity)
            layer.item.setVisible(self.shown)
            view.add_layer(layer)

    def heat_region(self) -> tuple[slice, slice, slice] | None:
        """Where the heat map is drawn: the selected, shown finding's box plus a margin (else None)."""
        item, volume = self._review.selected_finding(), self._viewer.state.volume
        if item is None or volume is None or not self._review.visible(item):
            return None
        z0, y0, x0, z1, y1, x1 = item.finding.bbox
        grow = [int(np.ceil(HEAT_MARGIN_MM / s)) if s > 0 else 1 for s in volume.spacing]
        starts, stops = (z0, y0, x0), (z1, y1, x1)
        return tuple(  # type: ignore[return-value]
            slice(max(a - g, 0), min(b + g, n)) for a, b, g, n in zip(starts, stops, grow, volume.shape, strict=True)
        )

    def _rebuild_heat(self) -> None:
        self._viewer.remove_layers(HEAT_LAYER)
        values, region = self._maps.get(self.heat_source), self.heat_region()
        if values is None or region is None:
            self.heat_changed.emit(None)
            return
        high = 1.0 if self.heat_source is HeatSource.PROBABILITY else max(float(np.max(values[region])), 1e-6)
        for view in self._viewer.viewports:
            layer = HeatLayer(HEAT_LAYER, values, HEAT_FLOOR * high, high, region)
            layer.item.setOpacity(self.heat_opacity)
            layer.item.setVisible(self.shown)
            view.add_layer(layer)
        label = "AI probability" if self.heat_source is HeatSource.PROBABILITY else "Saliency (occlusion, Δp)"
        self.heat_changed.emit((label, HEAT_FLOOR * high, high))

    def recist_axes(self) -> RecistAxes | None:
        """The selected, shown finding's RECIST axes (measured once per finding version), else None."""
        item, volume = self._review.selected_finding(), self._viewer.state.volume
        if item is None or volume is None or not self._review.visible(item):
            return None
        finding = item.finding
        if self._recist is None or self._recist[0] is not finding:
            offset = (finding.bbox[0], finding.bbox[1], finding.bbox[2])
            self._recist = (finding, recist(finding.mask, offset, volume.affine))
        return self._recist[1]

    def _rebuild_recist(self) -> None:
        self._viewer.remove_layers(RECIST_LAYER)
        axes = self.recist_axes()
        if axes is None:
            return
        for view in self._viewer.viewports:
            layer = RecistLayer(axes)
            layer.item.setVisible(self.shown)
            view.add_layer(layer)
