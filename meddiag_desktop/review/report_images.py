"""Key images for the printable report: the axial slice through a finding, lung window, outlined.

Drawn with matplotlib's Agg canvas on a bare Figure (no pyplot, no GUI backend) and returned
as PNG bytes. Each image has two panels: the whole slice with a box around the finding, and a
magnified view of the box with the finding's outline, so a 5 mm nodule is still visible on paper.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from meddiag_desktop.core.window_level import PRESETS, WindowLevel, apply_window

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume

LUNG_WINDOW = next(p.window for p in PRESETS if p.name == "Lung")
ZOOM_MARGIN_MM = 15.0
_LETTERS = {(0, 1): "L", (0, -1): "R", (1, 1): "P", (1, -1): "A", (2, 1): "S", (2, -1): "I"}


def key_slice(finding: Finding) -> int:
    """The axial slice through the finding's centre, or its largest slice when the centre misses it."""
    z0 = finding.bbox[0]
    areas = finding.mask.reshape(finding.mask.shape[0], -1).sum(axis=1)
    centre = round(finding.centroid_index[0]) - z0
    if 0 <= centre < len(areas) and areas[centre] > 0:
        return z0 + centre
    return z0 + int(np.argmax(areas))


def slice_outline(finding: Finding, z: int, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """The finding's mask on axial slice ``z`` of a ``shape`` (rows, columns) image."""
    z0, y0, x0, _, y1, x1 = finding.bbox
    plane = np.zeros(shape, dtype=bool)
    plane[y0:y1, x0:x1] = finding.mask[z - z0]
    return plane


def key_image_png(volume: Volume, finding: Finding, colour: str, window: WindowLevel = LUNG_WINDOW) -> bytes:
    """PNG of the finding's key slice: overview with a box, and the magnified box with the outline."""
    z = key_slice(finding)
    pixels = apply_window(np.asarray(volume.array[z], dtype=np.float32), window, invert=volume.display.invert)
    outline = slice_outline(finding, z, pixels.shape)
    aspect = volume.spacing[1] / volume.spacing[2]
    box = _zoom_box(finding, volume)
    figure = Figure(figsize=(6.6, 3.3), layout="constrained")
    overview, zoom = figure.subplots(1, 2)
    for ax in (overview, zoom):
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, aspect=aspect, interpolation="nearest")
        ax.set_axis_off()
    y0, y1, x0, x1 = box
    overview.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.2))
    zoom.contour(outline, levels=[0.5], colors=[colour], linewidths=1.6)
    zoom.set_xlim(x0 - 0.5, x1 - 0.5)
    zoom.set_ylim(y1 - 0.5, y0 - 0.5)
    _orientation(overview, volume)
    overview.set_title(f"slice {z + 1} of {volume.shape[0]}", fontsize=8)
    zoom.set_title(f"{finding.id}, magnified", fontsize=8)
    return _png(figure)


def _zoom_box(finding: Finding, volume: Volume) -> tuple[int, int, int, int]:
    """Rows and columns ``(y0, y1, x0, x1)`` of a square (in mm) around the finding."""
    _, rows, columns = volume.shape
    _, dy, dx = volume.spacing
    half_mm = max(finding.long_axis_mm, 10.0) / 2 + ZOOM_MARGIN_MM
    cy, cx = finding.centroid_index[1], finding.centroid_index[2]
    hy, hx = max(int(half_mm / dy), 8), max(int(half_mm / dx), 8)
    y0, x0 = max(int(cy) - hy, 0), max(int(cx) - hx, 0)
    return y0, min(int(cy) + hy + 1, rows), x0, min(int(cx) + hx + 1, columns)


def _orientation(ax: Axes, volume: Volume) -> None:
    """Patient directions at the left and right edges and at the top (from the row and column cosines)."""
    d = volume.direction
    right, down = _letter(d[:, 2]), _letter(d[:, 1])
    opposite = {"L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"}
    for x, y, letter, ha, va in (
        (0.98, 0.5, right, "right", "center"),
        (0.02, 0.5, opposite[right], "left", "center"),
        (0.5, 0.98, opposite[down], "center", "top"),
    ):
        ax.text(x, y, letter, ha=ha, va=va, color="yellow", fontsize=8, transform=ax.transAxes)


def _letter(cosine: NDArray[np.float64]) -> str:
    axis = int(np.argmax(np.abs(cosine)))
    return _LETTERS[(axis, 1 if cosine[axis] > 0 else -1)]


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()
