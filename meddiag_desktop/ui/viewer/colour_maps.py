"""Colour tables for heat maps: perceptual, and never white or grey, so never mistaken for tissue.

The old "hot" table ran black -> red -> yellow -> white: a high probability over aerated lung
was drawn as a pink-white blob, the colour of a solid mass in a lung window. The heat map now
uses matplotlib's ``viridis`` (perceptually uniform; dark violet -> teal -> green -> yellow):
every entry is strongly saturated, so no value looks like a shade of grey in a CT. Opacity
rises with the value, so low probabilities barely tint the image. Built once (cached), read-only.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

HEAT_MAP = "viridis"
HEAT_RANGE = (0.0, 1.0)  # the part of the map used, low..high (viridis's top is yellow, not white)
MIN_ALPHA_SHARE = 0.35  # the lowest non-zero value gets 35 % of the table's alpha, the highest all of it


@cache
def _map_rgb(name: str, low: float, high: float) -> NDArray[np.float64]:
    from matplotlib import colormaps

    rgba: NDArray[np.float64] = colormaps[name](np.linspace(low, high, 255))
    return rgba[:, :3]


@cache
def heat_lut(alpha: int = 255) -> NDArray[np.uint8]:
    """A 256-entry RGBA table: entry 0 transparent, 1..255 ``HEAT_MAP`` with rising opacity."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1:, :3] = np.round(_map_rgb(HEAT_MAP, *HEAT_RANGE) * 255.0)
    ramp = np.linspace(MIN_ALPHA_SHARE, 1.0, 255)
    lut[1:, 3] = np.round(ramp * alpha)
    lut.setflags(write=False)
    return lut


def saturation(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """HSV saturation of each ``(..., 3)`` colour (0 = grey or white, 1 = pure hue)."""
    values = np.asarray(rgb, dtype=np.float64)
    high, low = values.max(axis=-1), values.min(axis=-1)
    result: NDArray[np.float64] = np.where(high > 0, (high - low) / np.maximum(high, 1e-9), 0.0)
    return result
