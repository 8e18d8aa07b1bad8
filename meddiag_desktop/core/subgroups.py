"""Subgroups of a cohort, read from DICOM header values: sex, age band, scanner, kernel, thickness, contrast.

Pure; ``validation.subgroups`` (model metrics on labelled studies) and ``review.stats_subgroups``
(acceptance of AI findings in the app) both group their studies with :class:`SubgroupHeader`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NOT_STATED = "not stated"
ATTRIBUTES = ("sex", "age band", "scanner", "kernel", "slice thickness", "contrast")
AGE_BANDS = ((40.0, "<40 y"), (60.0, "40-59 y"), (75.0, "60-74 y"), (math.inf, ">=75 y"))
THICKNESS_BANDS = ((1.5, "<=1.5 mm"), (3.5, "1.5-3.5 mm"), (6.0, "3.5-6 mm"), (math.inf, ">6 mm"))
_SEXES = {"F": "female", "M": "male", "O": "other"}


@dataclass(frozen=True)
class SubgroupHeader:
    """The header values that define a series' subgroups (empty / ``None``: not stated)."""

    sex: str = ""  # PatientSex (0010,0040)
    age_years: float | None = None  # PatientAge (0010,1010), else from the birth and study dates
    manufacturer: str = ""
    model_name: str = ""  # ManufacturerModelName (0008,1090)
    kernel: str = ""  # ConvolutionKernel (0018,1210)
    slice_thickness_mm: float | None = None
    contrast: bool = False  # a Contrast/Bolus Agent (0018,0010) is named (PS3.3 C.7.6.4)

    def groups(self) -> dict[str, str]:
        """The subgroup of each attribute in :data:`ATTRIBUTES`."""
        scanner = " ".join(v for v in (self.manufacturer.strip(), self.model_name.strip()) if v)
        return {
            "sex": _SEXES.get(self.sex.strip().upper(), NOT_STATED), "age band": age_band(self.age_years),
            "scanner": scanner or NOT_STATED, "kernel": self.kernel.strip() or NOT_STATED,
            "slice thickness": thickness_band(self.slice_thickness_mm), "contrast": "yes" if self.contrast else "no",
        }  # fmt: skip


def age_band(years: float | None) -> str:
    return NOT_STATED if years is None else next(name for upper, name in AGE_BANDS if years < upper)


def thickness_band(mm: float | None) -> str:
    """Slice-thickness band (the same bands as the validation report's slice-spacing bands)."""
    return NOT_STATED if mm is None else next(name for upper, name in THICKNESS_BANDS if mm <= upper + 1e-6)


def band_order(attribute: str) -> tuple[str, ...]:
    """The natural order of an attribute's subgroups (others sort alphabetically after these)."""
    bands = {"age band": AGE_BANDS, "slice thickness": THICKNESS_BANDS}.get(attribute, ())
    return tuple(name for _, name in bands)
