"""Keeps the viewer's reference layers (one per loaded result object and view) and their visibility."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meddiag_desktop.ui.results.reference_layer import ReferenceLayer, layer_name

if TYPE_CHECKING:
    from meddiag_desktop.core.results import ResultOverlay
    from meddiag_desktop.ui.viewer.viewer_widget import ViewerWidget


class ReferenceOverlays:
    """Adds, shows, hides and forgets the reference layers of the open series."""

    def __init__(self, viewer: ViewerWidget) -> None:
        self._viewer = viewer
        self.overlays: dict[str, ResultOverlay] = {}

    def add(self, overlay: ResultOverlay, shown: frozenset[int]) -> None:
        """One layer per view for ``overlay``, drawing the items numbered ``shown``."""
        self.remove(overlay.sop_instance_uid)
        self.overlays[overlay.sop_instance_uid] = overlay
        for view in self._viewer.viewports:
            layer = ReferenceLayer(overlay.sop_instance_uid, overlay.masks)
            layer.set_shown(shown)
            view.add_layer(layer)

    def set_shown(self, sop_instance_uid: str, shown: frozenset[int]) -> None:
        name = layer_name(sop_instance_uid)
        for view in self._viewer.viewports:
            for layer in view.layers:
                if isinstance(layer, ReferenceLayer) and layer.name == name:
                    layer.set_shown(shown)
        self._viewer.refresh_layers(name)

    def remove(self, sop_instance_uid: str) -> None:
        if self.overlays.pop(sop_instance_uid, None) is not None:
            self._viewer.remove_layers(layer_name(sop_instance_uid))

    def clear(self) -> None:
        for sop in list(self.overlays):
            self.remove(sop)

    def centroid(self, sop_instance_uid: str, number: int) -> tuple[float, float, float] | None:
        overlay = self.overlays.get(sop_instance_uid)
        mask = overlay.mask_of(number) if overlay is not None else None
        return mask.centroid_index() if mask is not None else None
