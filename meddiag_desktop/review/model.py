"""What a review is made of: findings with their decisions, and the review's status."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meddiag_desktop.core.finding import Finding


class Decision(enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EDITED = "edited"  # accepted with a corrected mask
    ADDED = "added"  # drawn by the radiologist: a missed lesion

    @property
    def decided(self) -> bool:
        return self is not Decision.PENDING


class RejectReason(enum.Enum):
    NOT_A_LESION = "not a lesion"
    ARTEFACT = "artefact"
    KNOWN_BENIGN = "known benign"
    DUPLICATE = "duplicate"
    OTHER = "other"


class ReviewStatus(enum.Enum):
    OPEN = "open"
    SIGNED = "signed"


@dataclass(frozen=True)
class ReviewFinding:
    """A finding as the reviewer currently sees it: the AI's (or radiologist's) plus decisions."""

    finding: Finding  # current mask and measurements (after edits)
    decision: Decision = Decision.PENDING
    reason: RejectReason | None = None
    note: str = ""
    mask_version: int = 0  # 0 = the original mask, never changed

    @property
    def id(self) -> str:
        return self.finding.id

    @property
    def origin(self) -> str:
        return self.finding.origin

    def decided(self, decision: Decision, reason: RejectReason | None = None, note: str = "") -> ReviewFinding:
        return replace(self, decision=decision, reason=reason, note=note)


@dataclass(frozen=True)
class SignOff:
    os_user: str
    display_name: str
    time_utc: str
    threshold: float


@dataclass(frozen=True)
class ReviewState:
    """The whole review of one AI run on one series, as restored from the store."""

    review_id: int
    series_uid: str
    study_uid: str
    run_id: str
    version: int
    findings: tuple[ReviewFinding, ...]
    signoff: SignOff | None = None
    amendment_reason: str = ""

    @property
    def status(self) -> ReviewStatus:
        return ReviewStatus.SIGNED if self.signoff else ReviewStatus.OPEN

    @property
    def undecided(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.findings if not f.decision.decided)

    def finding(self, finding_id: str) -> ReviewFinding:
        for item in self.findings:
            if item.id == finding_id:
                return item
        raise KeyError(finding_id)
