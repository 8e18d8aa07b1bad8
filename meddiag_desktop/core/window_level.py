"""Window/level and lookup-table maths for display (numpy only, no Qt).

The VOI linear function follows PS3.3 C.11.2.1.2.1 in its simplified continuous form:
values at or below ``center - width / 2`` are black, at or above ``center + width / 2``
white, linear in between. MONOCHROME1 inversion (PS3.3 C.7.6.3.1.2) is a display flag,
never a change of the stored values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

MIN_WIDTH = 1.0


@dataclass(frozen=True)
class WindowLevel:
    """A display window: ``center`` and ``width`` in the volume's units (HU for CT)."""

    center: float
    width: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.center) or not np.isfinite(self.width):
            raise ValueError("window center and width must be finite")
        if self.width < MIN_WIDTH:
            raise ValueError(f"window width must be at least {MIN_WIDTH}, got {self.width}")

    @property
    def low(self) -> float:
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        return self.center + self.width / 2.0

    @classmethod
    def from_bounds(cls, low: float, high: float) -> WindowLevel:
        """The window spanning ``low``..``high`` (at least ``MIN_WIDTH`` wide)."""
        width = max(float(high) - float(low), MIN_WIDTH)
        return cls((float(low) + float(high)) / 2.0, width)

    def label(self) -> str:
        return f"W {self.width:.0f} / L {self.center:.0f}"


@dataclass(frozen=True)
class Preset:
    """A named window on a number key."""

    key: int
    name: str
    window: WindowLevel


PRESETS: tuple[Preset, ...] = (
    Preset(1, "Lung", WindowLevel(-600.0, 1500.0)),
    Preset(2, "Mediastinum", WindowLevel(40.0, 400.0)),
    Preset(3, "Bone", WindowLevel(400.0, 1800.0)),
    Preset(4, "Brain", WindowLevel(40.0, 80.0)),
    Preset(5, "Abdomen", WindowLevel(50.0, 350.0)),
    Preset(6, "Liver", WindowLevel(60.0, 160.0)),
)


def preset_for_key(key: int) -> Preset | None:
    """The preset on number key ``key`` (1-6), or None."""
    return next((p for p in PRESETS if p.key == key), None)


def preset_name(window: WindowLevel) -> str:
    """The name of the preset ``window`` is ("Lung"), or "" when it is none of them."""
    return next((p.name for p in PRESETS if p.window == window), "")


def apply_window(
    image: NDArray[np.generic],
    window: WindowLevel,
    *,
    invert: bool = False,
    out: NDArray[np.uint8] | None = None,
    scratch: NDArray[np.float32] | None = None,
) -> NDArray[np.uint8]:
    """Map ``image`` to 0..255 through ``window``; reuse ``out``/``scratch`` to avoid allocation."""
    if out is None:
        out = np.empty(image.shape, dtype=np.uint8)
    if scratch is None or scratch.shape != image.shape:
        scratch = np.empty(image.shape, dtype=np.float32)
    scale = np.float32(255.0 / window.width)
    offset = np.float32(0.5 - window.low * 255.0 / window.width)
    if invert:
        scale, offset = -scale, np.float32(255.5 + window.low * 255.0 / window.width)
    np.multiply(image, scale, out=scratch, casting="unsafe")
    scratch += offset
    np.clip(scratch, 0.0, 255.0, out=scratch)
    np.copyto(out, scratch, casting="unsafe")
    return out


def default_window(header_windows: Sequence[tuple[float, float]], data_min: float, data_max: float) -> WindowLevel:
    """The series' own first DICOM window, else the full data range."""
    for center, width in header_windows:
        if width >= MIN_WIDTH and np.isfinite(center):
            return WindowLevel(float(center), float(width))
    return WindowLevel.from_bounds(data_min, data_max)


def drag_window(window: WindowLevel, dx: float, dy: float, value_range: float) -> WindowLevel:
    """Window after a mouse drag of ``dx``, ``dy`` screen pixels (right: wider, down: higher level).

    One pixel moves the window by ``value_range / 1000`` (at least 1 unit), like Weasis.
    """
    step = max(value_range / 1000.0, 1.0)
    width = max(window.width + dx * step, MIN_WIDTH)
    return WindowLevel(window.center + dy * step, width)


def label_lut(alpha: int = 110) -> NDArray[np.uint8]:
    """A 256-entry RGBA colour table for label masks; label 0 is transparent."""
    palette = np.array(
        [
            [0, 0, 0],
            [230, 60, 60],
            [60, 200, 90],
            [70, 130, 240],
            [240, 200, 40],
            [200, 80, 220],
            [40, 210, 210],
            [250, 140, 40],
        ],
        dtype=np.uint8,
    )
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:, :3] = palette[np.arange(256) % len(palette)]
    lut[1:, 3] = alpha
    lut[8::8, :3] = palette[1]
    return lut


def quantize(
    values: NDArray[np.generic], low: float, high: float, out: NDArray[np.uint8] | None = None
) -> NDArray[np.uint8]:
    """Map ``low``..``high`` to 1..255 for an indexed colour table (``low`` and below: 0)."""
    if high <= low:
        raise ValueError("quantize needs high > low")
    if out is None:
        out = np.empty(values.shape, dtype=np.uint8)
    scaled = (np.asarray(values, dtype=np.float32) - np.float32(low)) * np.float32(254.0 / (high - low))
    scaled += np.float32(1.0)
    scaled[np.asarray(values) <= low] = 0.0
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.copyto(out, scaled, casting="unsafe")
    return out


@dataclass(frozen=True)
class RegionStats:
    """Statistics of the values inside a region of interest."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    count: int
    area_mm2: float


def region_stats(values: NDArray[np.generic], pixel_area_mm2: float) -> RegionStats:
    """Mean, SD, min and max of ``values`` (any shape) and their area in mm²."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return RegionStats(float("nan"), float("nan"), float("nan"), float("nan"), 0, 0.0)
    return RegionStats(
        mean=float(flat.mean()),
        sd=float(flat.std()),
        minimum=float(flat.min()),
        maximum=float(flat.max()),
        count=int(flat.size),
        area_mm2=float(flat.size * pixel_area_mm2),
    )
