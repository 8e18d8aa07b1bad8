"""Typed results of validating one case: each reference lesion, each finding, the scan."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class CaseStatus(enum.Enum):
    """Whether a case contributes to the figures."""

    ANALYSED = "analysed"
    NOT_ANALYSED = "not analysed"  # the model refused the scan (outside its validated range)
    FAILED = "failed"  # the scan or its labels could not be read
    SKIPPED = "skipped"  # e.g. a thick variant no thicker than the original


class FindingStatus(enum.Enum):
    """How a finding relates to the reference lesions."""

    HIT = "hit"  # the hit finding of at least one lesion
    FALSE = "false"  # no voxel in common with any lesion
    OVERLAP = "overlap"  # touches a lesion but is not its hit finding: neither hit nor false


@dataclass(frozen=True)
class LesionResult:
    """One reference lesion and the finding that hit it (if any).

    ``dice`` and ``volume_error_pct`` are set for outlined lesions, ``box_coverage`` (share of
    the boxed voxels denser than -100 HU covered by the finding) and ``finding_inside`` (share
    of the finding inside the boxes) for box lesions. ``detection_score`` is the best score of
    every finding that meets the hit rule (the FROC uses it).
    """

    name: str
    source: str
    shape: str
    voxels: int
    volume_ml: float
    size_mm: float
    size_band: str
    hit: bool
    hit_finding: str | None = None
    dice: float | None = None
    volume_error_pct: float | None = None
    box_coverage: float | None = None
    finding_inside: float | None = None
    detection_score: float | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingResult:
    """One finding of the model on the case."""

    id: str
    score: float
    max_prob: float
    volume_ml: float
    status: FindingStatus
    overlaps: tuple[str, ...] = ()  # lesions it shares voxels with
    hit_of: tuple[str, ...] = ()  # lesions whose hit finding it is


@dataclass(frozen=True)
class CaseResult:
    """Everything measured on one scan (one series in one slice-thickness variant)."""

    case_id: str
    folder: str
    patient: str
    series_instance_uid: str
    manufacturer: str
    variant: str
    status: CaseStatus
    slice_spacing_mm: float | None = None
    thickness_band: str = ""
    message: str = ""
    lesions: tuple[LesionResult, ...] = ()
    findings: tuple[FindingResult, ...] = ()
    notes: tuple[str, ...] = ()
    from_cache: bool = False
    seconds: float = 0.0
    pixel_sha256: str = ""
    analysis_warnings: tuple[str, ...] = field(default=())

    @property
    def analysed(self) -> bool:
        return self.status is CaseStatus.ANALYSED

    @property
    def hits(self) -> int:
        return sum(lesion.hit for lesion in self.lesions)

    @property
    def false_findings(self) -> int:
        return sum(f.status is FindingStatus.FALSE for f in self.findings)

    @property
    def vendor(self) -> str:
        return self.manufacturer.strip() or "unknown"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (enums as their values)."""
        data = asdict(self)
        data["status"] = self.status.value
        for item in data["findings"]:
            item["status"] = item["status"].value
        return data


@dataclass(frozen=True)
class ModelInfo:
    """The model a validation ran, pinned by sha256 (the cache key uses both hashes)."""

    id: str
    version: str
    sha256: str  # of the model file (ONNX)
    settings_sha256: str = ""  # of everything else that changes findings (the manifest: threshold, ...)
    source: str = ""
    threshold: float | None = None


@dataclass(frozen=True)
class ValidationReport:
    """Every case's result plus what produced them."""

    cases: tuple[CaseResult, ...]
    model: ModelInfo
    software_version: str
    created_utc: str
    notes: tuple[str, ...] = ()
