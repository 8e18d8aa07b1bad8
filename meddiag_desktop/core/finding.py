"""A finding: one lesion candidate with its measurements on the volume's voxel grid.

Measurements follow RECIST 1.1 conventions where they apply: the longest diameter is taken
in the axial plane, the short axis is the longest diameter perpendicular to it in the same
slice. Findings from the AI carry ``origin="ai"``; the reviewer decides what they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.lung_zone import check_place

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class Finding:
    """One lesion candidate.

    Parameters
    ----------
    id
        Stable identifier within one analysis, e.g. ``"F1"`` (largest first).
    centroid_index
        Centroid in voxel indices ``(z, y, x)`` of the source volume.
    centroid_lps
        Centroid in patient LPS millimetres.
    bbox
        ``(z0, y0, x0, z1, y1, x1)``, half-open, in source voxel indices.
    mask
        Boolean mask cropped to ``bbox`` (shape ``(z1-z0, y1-y0, x1-x0)``).
    class_probabilities
        Calibrated class probabilities from a classifier, or empty.
    lung_side, lung_zone
        Which lung (``"right"``/``"left"``) and which third of it from apex to base
        (``"upper"``/``"middle"``/``"lower"``, ``core.lung_zone``), from the lung mask of the
        analysis; empty when not known (no lung mask, a finding outside the lungs, a stored
        finding from before zones were computed).
    """

    id: str
    centroid_index: tuple[float, float, float]
    centroid_lps: tuple[float, float, float]
    bbox: tuple[int, int, int, int, int, int]
    volume_ml: float
    long_axis_mm: float
    short_axis_mm: float
    mean_hu: float
    max_hu: float
    mean_prob: float
    max_prob: float
    mask: NDArray[np.bool_]
    class_probabilities: dict[str, float] = field(default_factory=dict)
    label: str = "lesion"
    origin: str = "ai"
    lung_side: str = ""
    lung_zone: str = ""

    def __post_init__(self) -> None:
        check_place(self.lung_side, self.lung_zone)
        z0, y0, x0, z1, y1, x1 = self.bbox
        expected = (z1 - z0, y1 - y0, x1 - x0)
        if self.mask.shape != expected:
            raise ValueError(f"finding mask shape {self.mask.shape} does not match bbox {expected}")
        if min(expected) <= 0:
            raise ValueError(f"finding bbox {self.bbox} is empty")

    @property
    def bbox_slices(self) -> tuple[slice, slice, slice]:
        """The bbox as slices into the source volume array."""
        z0, y0, x0, z1, y1, x1 = self.bbox
        return (slice(z0, z1), slice(y0, y1), slice(x0, x1))

    @property
    def top_class(self) -> str:
        """The most probable class, or ``""`` when no classifier ran."""
        if not self.class_probabilities:
            return ""
        return max(self.class_probabilities, key=lambda k: self.class_probabilities[k])

    def full_mask(self, shape: tuple[int, int, int]) -> NDArray[np.bool_]:
        """The mask pasted into a zero volume of ``shape``."""
        out = np.zeros(shape, dtype=bool)
        out[self.bbox_slices] = self.mask
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the mask is summarised, not embedded)."""
        return {
            "id": self.id,
            "label": self.label,
            "origin": self.origin,
            "centroid_index": [round(v, 2) for v in self.centroid_index],
            "centroid_lps": [round(v, 2) for v in self.centroid_lps],
            "bbox": list(self.bbox),
            "volume_ml": round(self.volume_ml, 3),
            "long_axis_mm": round(self.long_axis_mm, 1),
            "short_axis_mm": round(self.short_axis_mm, 1),
            "mean_hu": round(self.mean_hu, 1),
            "max_hu": round(self.max_hu, 1),
            "mean_prob": round(self.mean_prob, 4),
            "max_prob": round(self.max_prob, 4),
            "mask_voxels": int(self.mask.sum()),
            "class_probabilities": {k: round(v, 4) for k, v in self.class_probabilities.items()},
            "lung_side": self.lung_side,
            "lung_zone": self.lung_zone,
        }
