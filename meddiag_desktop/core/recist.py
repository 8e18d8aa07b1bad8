"""RECIST 1.1 axes of a finding as lines: the long axis and its perpendicular short axis.

Both lie on one slice of the source volume (array axis 0, the acquired plane): the slice where
the long axis is longest. Each line ends on the outer edges of the end pixels, so its length
is the reported diameter (pixel-centre distance plus one pixel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

Index = tuple[float, float, float]  # fractional (z, y, x) in the source volume
Line = tuple[Index, Index]


@dataclass(frozen=True)
class RecistAxes:
    """The long and short axis of a finding on ``slice_index``, ends in volume indices."""

    slice_index: int
    long_axis: Line
    short_axis: Line
    long_mm: float
    short_mm: float

    def lps(self, affine: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Both lines in LPS mm: two ``(2, 3)`` arrays (long axis, short axis)."""
        ends = np.asarray([*self.long_axis, *self.short_axis], dtype=np.float64)
        lps = ends @ affine[:3, :3].T + affine[:3, 3]
        return lps[:2], lps[2:]
