"""What leaves the app as DICOM: findings with their decisions, and the report's context.

Neutral, typed records built by the review layer (from a review or an unreviewed AI run)
and written by ``io`` (SEG and TID 1500 SR). Nothing here knows about the review store or
about DICOM encoding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.ood import InputCheck


class ExportDecision(enum.Enum):
    """The radiologist's decision on a finding, as written into the report."""

    NOT_REVIEWED = "not yet reviewed"
    ACCEPTED = "accepted"
    EDITED = "edited"
    ADDED = "added"
    REJECTED = "rejected"

    @property
    def is_lesion(self) -> bool:
        """Exported as a segment: everything except a rejected finding."""
        return self is not ExportDecision.REJECTED


class AlgorithmKind(enum.Enum):
    """Who drew the mask (Segment Algorithm Type, PS3.3 C.8.20.2)."""

    AUTOMATIC = "AUTOMATIC"  # the AI's mask, unchanged
    SEMIAUTOMATIC = "SEMIAUTOMATIC"  # the AI's mask, edited by the radiologist
    MANUAL = "MANUAL"  # drawn by the radiologist


class ObjectKind(enum.Enum):
    """The DICOM objects an export writes."""

    SEG = "SEG"
    SR = "SR"


@dataclass(frozen=True)
class ModelInfo:
    """An AI model as named in the exported objects."""

    id: str
    version: str
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.id or not self.version:
            raise ValueError("a model needs an id and a version")


@dataclass(frozen=True, eq=False)
class ExportedFinding:
    """One finding as it is exported.

    Parameters
    ----------
    finding
        Current mask and measurements (after edits), on the source volume's grid.
    decision
        The radiologist's decision, or ``NOT_REVIEWED`` for a raw AI run.
    algorithm
        Who drew the mask: the AI (``AUTOMATIC``), the AI then the radiologist
        (``SEMIAUTOMATIC``) or the radiologist (``MANUAL``).
    model
        The segmentation model that proposed the finding (``None`` when drawn by hand).
    classifier
        The model that gave ``finding.class_probabilities`` (``None`` when none ran).
    reject_reason, note
        Why a finding was rejected (required for ``REJECTED``), with the free-text note.
    mask_version
        0 for the AI's original mask, then one more per stored edit.
    """

    finding: Finding
    decision: ExportDecision
    algorithm: AlgorithmKind
    model: ModelInfo | None = None
    classifier: ModelInfo | None = None
    reject_reason: str = ""
    note: str = ""
    mask_version: int = 0

    def __post_init__(self) -> None:
        if self.decision is ExportDecision.REJECTED and not self.reject_reason:
            raise ValueError(f"finding {self.finding.id} is rejected without a reason")
        if self.algorithm is not AlgorithmKind.MANUAL and self.model is None:
            raise ValueError(f"finding {self.finding.id}: an {self.algorithm.value} mask needs its model")
        if not self.finding.mask.any():
            raise ValueError(f"finding {self.finding.id} has an empty mask")

    @property
    def id(self) -> str:
        return self.finding.id


@dataclass(frozen=True)
class ReportContext:
    """Who reported what, and whether it is signed.

    Parameters
    ----------
    source_key
        Stable key of the AI run or review (e.g. ``"review-3"``); seeds the tracking UIDs, so
        a finding keeps its Tracking UID across repeated exports.
    reviewer
        The reviewer's display name (or OS account); empty for an unreviewed AI run.
    verified, verified_utc
        Signed off, and when (ISO 8601 with offset), as the verifying observer's time.
    organization
        Verifying organisation; when empty the source images' Institution Name is used.
    """

    source_key: str
    software_version: str
    reviewer: str = ""
    verified: bool = False
    verified_utc: str = ""
    organization: str = ""

    def __post_init__(self) -> None:
        if not self.source_key:
            raise ValueError("a report needs a source key (run or review)")
        if self.verified and not (self.reviewer and self.verified_utc):
            raise ValueError("a verified report needs the verifying reviewer and the sign-off time")


@dataclass(frozen=True)
class ExportRequest:
    """Everything written for one series: its findings and the report's context."""

    series_instance_uid: str
    findings: tuple[ExportedFinding, ...]
    context: ReportContext
    input_check: InputCheck | None = None
    """The AI run's input check (out-of-distribution guard) and override; None: not recorded with the run."""
    series_warnings: tuple[str, ...] = ()
    """The series' geometry warnings (gaps, tilt, unreadable slices), written beside every finding."""

    @property
    def lesions(self) -> tuple[ExportedFinding, ...]:
        """The findings exported as segments (rejected ones are not lesions)."""
        return tuple(f for f in self.findings if f.decision.is_lesion)


@dataclass(frozen=True)
class ExportedObject:
    """One file written by an export."""

    kind: ObjectKind
    path: str
    sop_instance_uid: str
    series_instance_uid: str


@dataclass(frozen=True)
class ExportResult:
    """The files one export wrote (the SEG is absent when no finding is a lesion)."""

    folder: str
    objects: tuple[ExportedObject, ...]

    def of_kind(self, kind: ObjectKind) -> ExportedObject | None:
        return next((o for o in self.objects if o.kind is kind), None)
