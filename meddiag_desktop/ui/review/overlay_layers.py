"""Overlay layers of the review: finding masks (fill, outline or both) and the heat map.

Masks are one ``uint8`` label volume on the image grid: finding ``i`` is drawn with colour
number ``colour_of(i)``; the layer draws outlines as ``label + OUTLINE`` so one colour table
holds translucent fills and opaque outlines. An overlay must never look like tissue: masks are
outlined by default and a fill is at most ``MAX_FILL_OPACITY`` opaque; the heat map uses a
perceptual table that is never white or grey (``ui.viewer.colour_maps``) and is drawn only
inside a region (the selected finding's box).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from meddiag_desktop.core.window_level import quantize
from meddiag_desktop.ui.viewer.colour_maps import heat_lut
from meddiag_desktop.ui.viewer.orientation import box_in_plane, extract_slice

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.ui.viewer.orientation import PlaneAxes
    from meddiag_desktop.ui.viewer.state import ViewerState

RGB = tuple[int, int, int]
FINDING_COLOURS: tuple[RGB, ...] = (
    (255, 70, 70),
    (60, 220, 90),
    (80, 150, 255),
    (255, 210, 40),
    (220, 90, 230),
    (40, 220, 220),
    (255, 150, 40),
)
EDIT_COLOUR = (0, 255, 255)
OUTLINE = 64
MASK_LAYER, HEAT_LAYER, EDIT_LAYER = "ai-findings", "ai-heat", "edit-mask"
MAX_FILL_OPACITY = 0.3  # a denser fill over aerated lung reads as a solid mass
DEFAULT_FILL_OPACITY = 0.25


class MaskStyle(enum.Enum):
    FILL = "fill"
    OUTLINE = "outline"
    BOTH = "fill + outline"


def colour_of(number: int) -> int:
    """Colour number (1-based) of the ``number``-th finding (0-based)."""
    return number % len(FINDING_COLOURS) + 1


def mask_lut(palette: tuple[RGB, ...], opacity: float) -> NDArray[np.uint8]:
    lut = np.zeros((256, 4), dtype=np.uint8)
    for i, rgb in enumerate(palette, start=1):
        lut[i] = (*rgb, round(255 * opacity))
        lut[i + OUTLINE] = (*rgb, 255)
    return lut


def label_volume(shape: tuple[int, int, int], findings: list[tuple[int, Finding]]) -> NDArray[np.uint8]:
    """Paint each ``(colour, finding)`` mask into one label volume."""
    labels = np.zeros(shape, dtype=np.uint8)
    for colour, finding in findings:
        region = labels[finding.bbox_slices]
        region[finding.mask] = colour
    return labels


def outline_of(plane: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Labelled pixels with a 4-neighbour of another label (the mask's edge in this plane)."""
    edge = np.zeros(plane.shape, dtype=bool)
    edge[1:, :] |= plane[1:, :] != plane[:-1, :]
    edge[:-1, :] |= plane[:-1, :] != plane[1:, :]
    edge[:, 1:] |= plane[:, 1:] != plane[:, :-1]
    edge[:, :-1] |= plane[:, :-1] != plane[:, 1:]
    return edge & (plane > 0)


class MaskLayer:
    """A label volume drawn as fill, outline or both."""

    def __init__(
        self, name: str, labels: NDArray[np.uint8], palette: tuple[RGB, ...] = FINDING_COLOURS, z_value: float = 10.0
    ) -> None:
        self.name, self.labels, self._palette = name, labels, palette
        self.style, self.opacity = MaskStyle.OUTLINE, DEFAULT_FILL_OPACITY
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(z_value)
        self.item.setAutoDownsample(False)
        self.set_look(self.style, self.opacity)

    def set_look(self, style: MaskStyle, opacity: float) -> None:
        """Fill, outline or both; the fill's opacity is capped at ``MAX_FILL_OPACITY``."""
        self.style, self.opacity = style, min(max(opacity, 0.0), MAX_FILL_OPACITY)
        self.item.setLookupTable(mask_lut(self._palette, self.opacity))

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        plane = np.ascontiguousarray(extract_slice(self.labels, axes, index))
        if self.style is not MaskStyle.FILL and plane.any():
            edge = outline_of(plane)
            base = plane if self.style is MaskStyle.BOTH else np.zeros_like(plane)
            plane = np.where(edge, plane + OUTLINE, base).astype(np.uint8)
        self.item.setImage(plane, autoLevels=False, levels=(0, 255))


Box = tuple[slice, slice, slice]


class HeatLayer:
    """A float volume (probability or saliency, 0..``high``) through the perceptual heat table,
    drawn only inside ``region`` (array slices; None = everywhere)."""

    def __init__(
        self, name: str, values: NDArray[np.floating], low: float, high: float, region: Box | None = None
    ) -> None:
        self.name, self.values, self.low, self.high, self.region = name, values, low, high, region
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(5.0)
        self.item.setAutoDownsample(False)
        self.item.setLookupTable(heat_lut(255))
        self.item.setOpacity(0.5)

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        plane = quantize(extract_slice(self.values, axes, index), self.low, self.high)
        if self.region is not None:
            plane[~box_in_plane(self.region, self.values.shape[:3], axes, index)] = 0
        self.item.setImage(plane, autoLevels=False, levels=(0, 255))
