"""Reference labels on a volume's grid: what a radiologist or oncologist outlined.

Readers in ``io`` (RT Structure Sets, DICOM SEG, NIfTI/NRRD label volumes, PASCAL-VOC boxes)
turn their sources into these, so validation compares findings against one type.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


class LabelRole(enum.Enum):
    """What a labelled structure is, for validation."""

    LESION = "lesion"  # a tumour, nodule or node: the model should find it
    ORGAN = "organ"  # anatomy (lung, heart, ...): used to check masks, never a finding
    OTHER = "other"  # planning volumes, markers, body outline: ignored


class LabelShape(enum.Enum):
    """How precisely a label outlines its structure."""

    OUTLINE = "outline"  # voxel-exact contour or segmentation
    BOX = "box"  # per-slice bounding boxes: a region that contains the structure


@dataclass(frozen=True, eq=False)
class ReferenceLabel:
    """One labelled structure as a boolean mask on the ``(z, y, x)`` grid of its series."""

    name: str
    mask: NDArray[np.bool_]
    role: LabelRole
    shape: LabelShape = LabelShape.OUTLINE
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.mask.ndim != 3 or self.mask.dtype != np.bool_:
            raise ValueError(f"label {self.name!r} needs a 3D boolean mask, got {self.mask.dtype} {self.mask.shape}")

    def volume_ml(self, voxel_ml: float) -> float:
        return float(self.mask.sum()) * voxel_ml


# Radiation-oncology naming (AAPM TG-263 and common clinical practice). Gross tumour volumes are
# what a lesion model should find; CTV/PTV add treatment margins and are not lesions.
_LESION = re.compile(r"^(gtv\w*|tumou?r|nodule|lesion|mass|node|ln)([\W_]|\d|$)", re.IGNORECASE)
_ORGAN = re.compile(
    r"^(lung|lungs|heart|esophagus|oesophagus|spinal[\W_]*cord|cord|liver|trachea|aorta|body|patient)([\W_]|$)",
    re.IGNORECASE,
)


def role_from_name(name: str) -> LabelRole:
    """Guess a structure's role from its name: ``GTV-1`` is a lesion, ``Lung L`` an organ."""
    text = name.strip()
    if _LESION.match(text):
        return LabelRole.LESION
    if _ORGAN.match(text) and not text.lower().startswith(("body", "patient")):
        return LabelRole.ORGAN
    return LabelRole.OTHER
