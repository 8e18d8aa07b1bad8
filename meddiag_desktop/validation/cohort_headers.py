"""The header values a generated study carries, drawn at random, and the planted-failure rule.

Sex, age, scanner, kernel and contrast are drawn independently of the pixels: the background
and the planted lesions do not depend on them, so a model that behaves the same on every
study shows no difference between these subgroups. The slice thickness does change the pixels
(thin studies are the source slices interpolated to half the spacing, lesions drawn at that
thickness). The scanner names are made up, so no result on a generated cohort reads as a claim
about a real vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SCANNERS = (
    ("ACME", "Apex 64"),
    ("Globex", "GX Vision"),
    ("Initech", "Spiral 128"),
    ("Umbrella", "U-Scan 16"),
)
KERNELS = ("SOFT", "STANDARD", "LUNG")
CONTRAST_AGENT = "Iohexol 350 mg I/mL"
CONTRAST_SHARE = 0.4
AGE_RANGE = (30, 89)


@dataclass(frozen=True)
class StudyHeaders:
    """What a generated study says about its patient and its acquisition."""

    sex: str  # "F" or "M" (PatientSex)
    age_years: int  # PatientAge
    manufacturer: str
    model_name: str  # ManufacturerModelName
    kernel: str  # ConvolutionKernel
    slice_thickness_mm: float  # SliceThickness and the slice spacing
    contrast_agent: str  # ContrastBolusAgent; "" when no contrast was given

    def value(self, keyword: str) -> str:
        """The header value a planted-failure rule compares (see :data:`FAILURE_KEYWORDS`)."""
        values = {
            "PatientSex": self.sex, "Manufacturer": self.manufacturer, "ManufacturerModelName": self.model_name,
            "ConvolutionKernel": self.kernel, "SliceThickness": f"{self.slice_thickness_mm:g}",
            "Contrast": "yes" if self.contrast_agent else "no",
        }  # fmt: skip
        return values[keyword]


FAILURE_KEYWORDS = ("PatientSex", "Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "SliceThickness",
                    "Contrast")  # fmt: skip


@dataclass(frozen=True)
class PlantedFailure:
    """``keyword=value``: studies whose header matches get lesions the model cannot find."""

    keyword: str
    value: str

    @classmethod
    def parse(cls, spec: str) -> PlantedFailure:
        """``"Manufacturer=ACME"`` -> ``PlantedFailure("Manufacturer", "ACME")``.

        Raises
        ------
        ValueError
            Not ``keyword=value``, or a keyword the generated headers do not vary.
        """
        keyword, sep, value = (part.strip() for part in spec.partition("="))
        if not sep or not value:
            raise ValueError(f"A planted failure is 'keyword=value' (e.g. 'Manufacturer=ACME'), not {spec!r}.")
        if keyword not in FAILURE_KEYWORDS:
            raise ValueError(f"A planted failure can only name one of {', '.join(FAILURE_KEYWORDS)}; not {keyword!r}.")
        return cls(keyword, value)

    def matches(self, headers: StudyHeaders) -> bool:
        return headers.value(self.keyword).casefold() == self.value.casefold()

    def __str__(self) -> str:
        return f"{self.keyword}={self.value}"


def random_headers(rng: np.random.Generator, native_mm: float) -> StudyHeaders:
    """Headers drawn uniformly (contrast in ``CONTRAST_SHARE`` of studies); thickness native or half."""
    manufacturer, model = SCANNERS[int(rng.integers(len(SCANNERS)))]
    thickness = native_mm if rng.uniform() < 0.5 else native_mm / 2.0
    return StudyHeaders(
        sex="F" if rng.uniform() < 0.5 else "M",
        age_years=int(rng.integers(AGE_RANGE[0], AGE_RANGE[1] + 1)),
        manufacturer=manufacturer,
        model_name=model,
        kernel=KERNELS[int(rng.integers(len(KERNELS)))],
        slice_thickness_mm=round(thickness, 3),
        contrast_agent=CONTRAST_AGENT if rng.uniform() < CONTRAST_SHARE else "",
    )
