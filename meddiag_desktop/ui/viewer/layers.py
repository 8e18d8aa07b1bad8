"""The layer stack of a slice view: the windowed image, then label masks and heat maps.

Each layer owns one ``pyqtgraph.ImageItem`` and renders its plane of a volume-shaped array
(same grid as the image) when the slice or the display changes. Qt composites the items
(alpha blending on paint), so adding a layer costs one small ``render`` per slice. The
review issue adds finding masks and explanation heat maps through ``add_layer``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyqtgraph as pg

from meddiag_desktop.core.display_resample import upsample_factor, upsample_plane
from meddiag_desktop.core.slab import slab_project
from meddiag_desktop.core.window_level import apply_window, label_lut, quantize
from meddiag_desktop.ui.viewer.colour_maps import heat_lut
from meddiag_desktop.ui.viewer.orientation import extract_slice, orient_cut

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.slab import SlabMode
    from meddiag_desktop.ui.viewer.orientation import PlaneAxes
    from meddiag_desktop.ui.viewer.state import ViewerState


class SliceLayer(Protocol):
    """One image layer of a slice view."""

    name: str
    item: pg.ImageItem

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None: ...


def _new_item(z_value: float) -> pg.ImageItem:
    item = pg.ImageItem(axisOrder="row-major")
    item.setZValue(z_value)
    item.setAutoDownsample(False)
    return item


def display_factors(spacing: tuple[float, float, float], axes: PlaneAxes) -> tuple[int, int]:
    """Display sub-rows and sub-columns per voxel of a plane (e.g. (6, 1) for a 5 mm coronal).

    Only the slice axis (array axis 0) is interpolated, i.e. between the acquired slices of a
    reformat; in-plane pixels are shown as acquired.
    """
    v_mm, h_mm = spacing[axes.v_axis], spacing[axes.h_axis]
    rows = upsample_factor(v_mm, h_mm) if axes.v_axis == 0 else 1
    cols = upsample_factor(h_mm, v_mm) if axes.h_axis == 0 else 1
    return (rows, cols)


def display_plane(
    array: NDArray[np.generic], axes: PlaneAxes, index: int, half: int, mode: SlabMode
) -> NDArray[np.generic]:
    """The plane as drawn: the slice itself, or its thick slab (MIP / mean) when ``half`` > 0."""
    if half == 0:
        return extract_slice(array, axes, index)
    return orient_cut(slab_project(array, axes.slice_axis, index, half, mode), axes)


class GrayscaleLayer:
    """The image itself, window/levelled to 8 bits by ``core.window_level`` (colour passes through).

    Along a plane's coarse axis (slices of a thick series in a reformat) the picture is
    linearly interpolated for display (``core.display_resample``), and with a thick slab on it
    is the slab's MIP or mean (``core.slab``); ``current_plane`` and the cursor read-out still
    give the voxels' own values of the plane itself.
    """

    name = "image"

    def __init__(self) -> None:
        self.item = _new_item(0.0)
        self._out: NDArray[np.uint8] | None = None
        self._scratch: NDArray[np.float32] | None = None

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        if state.volume is None:
            return
        if state.volume.display.is_color:
            plane = extract_slice(state.volume.array, axes, index)
            self.item.setImage(np.ascontiguousarray(plane), autoLevels=False, levels=(0, 255))
            return
        half = state.slab_half(axes.slice_axis)
        plane = display_plane(state.volume.array, axes, index, half, state.slab_mode)
        plane = upsample_plane(plane, *display_factors(state.volume.spacing, axes))
        if self._out is None or self._out.shape != plane.shape:
            self._out = np.empty(plane.shape, dtype=np.uint8)
            self._scratch = np.empty(plane.shape, dtype=np.float32)
        apply_window(plane, state.window, invert=state.invert, out=self._out, scratch=self._scratch)
        self.item.setImage(self._out, autoLevels=False, levels=None)

    def current_plane(self, state: ViewerState, axes: PlaneAxes, index: int) -> NDArray[np.generic]:
        """The raw (un-windowed) values of the shown plane, for read-outs and statistics."""
        if state.volume is None:
            return np.zeros((0, 0), dtype=np.float32)
        return extract_slice(state.volume.array, axes, index)


class LabelMaskLayer:
    """A label volume (uint8, 0 = background) shown with a fixed colour per label."""

    def __init__(self, name: str, labels: NDArray[np.uint8], alpha: int = 110) -> None:
        self.name = name
        self.labels = labels
        self.item = _new_item(10.0)
        self.item.setLookupTable(label_lut(alpha))

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        plane = np.ascontiguousarray(extract_slice(self.labels, axes, index))
        self.item.setImage(plane, autoLevels=False, levels=(0, 255))


class HeatMapLayer:
    """A float volume (e.g. an explanation map) shown through the perceptual heat table."""

    def __init__(self, name: str, values: NDArray[np.floating], low: float, high: float) -> None:
        self.name = name
        self.values = values
        self.low, self.high = low, high
        self.item = _new_item(20.0)
        self.item.setLookupTable(heat_lut(160))
        self._out: NDArray[np.uint8] | None = None

    def render(self, state: ViewerState, axes: PlaneAxes, index: int) -> None:
        plane = extract_slice(self.values, axes, index)
        if self._out is None or self._out.shape != plane.shape:
            self._out = np.empty(plane.shape, dtype=np.uint8)
        quantize(plane, self.low, self.high, out=self._out)
        self.item.setImage(self._out, autoLevels=False, levels=(0, 255))
