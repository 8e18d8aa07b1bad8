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


class ClassStatus(enum.Enum):
    RECOMPUTING = "recomputing"  # shown while the classifier runs; never stored
    RECOMPUTED = "recomputed"
    NOT_RECOMPUTED = "not recomputed"


@dataclass(frozen=True)
class RecomputedClass:
    """The class of an edited mask: recomputed by the run's own classifier, or why it was not."""

    status: ClassStatus
    mask_version: int
    model_ref: str = ""  # the classifier, ``id@version#sha256:...`` (the run's, or none)
    why: str = ""  # when not recomputed, in plain words
    time_utc: str = ""


@dataclass(frozen=True)
class ReviewFinding:
    """A finding as the reviewer currently sees it: the AI's (or radiologist's) plus decisions."""

    finding: Finding  # current mask and measurements (after edits)
    decision: Decision = Decision.PENDING
    reason: RejectReason | None = None
    note: str = ""
    mask_version: int = 0  # 0 = the original mask, never changed
    recomputed_class: RecomputedClass | None = None  # for an edited mask (None: none recorded for it)

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
    read_first: bool = False  # this version's AI run is read in "read first" mode
    revealed_utc: str | None = None  # when the AI was revealed (read-first only)
    latest_version: int = 0  # the review's newest version (0: this one)

    @property
    def status(self) -> ReviewStatus:
        return ReviewStatus.SIGNED if self.signoff else ReviewStatus.OPEN

    @property
    def ai_hidden(self) -> bool:
        """Read first, not yet revealed: the AI's findings are not shown and cannot be decided."""
        return self.read_first and self.revealed_utc is None

    @property
    def historical(self) -> bool:
        """An earlier version than the newest, opened read-only from the history."""
        return self.latest_version > self.version

    @property
    def undecided(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.findings if not f.decision.decided)

    def finding(self, finding_id: str) -> ReviewFinding:
        for item in self.findings:
            if item.id == finding_id:
                return item
        raise KeyError(finding_id)

    def with_finding(self, item: ReviewFinding) -> ReviewState:
        """This state with ``item`` in place of the finding with its id (added last if new), as restore shows it."""
        ids = [f.id for f in self.findings]
        if item.id not in ids:
            return replace(self, findings=(*self.findings, item))
        return replace(self, findings=tuple(item if f.id == item.id else f for f in self.findings))


@dataclass(frozen=True)
class SignOffSummary:
    """What the radiologist confirms when signing: every count of the version being signed."""

    accepted: int
    rejected: int
    edited: int
    added: int
    undecided: int
    mask_edits: int  # mask versions saved (edits and corrections of drawn lesions)
    reasons: tuple[tuple[str, int], ...]  # rejection reason -> count

    @classmethod
    def of(cls, state: ReviewState) -> SignOffSummary:
        count = {d: sum(f.decision is d for f in state.findings) for d in Decision}
        reasons: dict[str, int] = {}
        for item in state.findings:
            if item.decision is Decision.REJECTED and item.reason is not None:
                reasons[item.reason.value] = reasons.get(item.reason.value, 0) + 1
        return cls(count[Decision.ACCEPTED], count[Decision.REJECTED], count[Decision.EDITED], count[Decision.ADDED],
                   count[Decision.PENDING], sum(f.mask_version for f in state.findings),
                   tuple(sorted(reasons.items())))  # fmt: skip

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.edited + self.added

    def lines(self) -> list[str]:
        why = ", ".join(f"{n} {reason}" for reason, n in self.reasons)
        return [
            f"Accepted: {self.accepted}",
            f"Rejected: {self.rejected}" + (f" ({why})" if why else ""),
            f"Edited (accepted with a corrected mask): {self.edited}",
            f"Lesions you added: {self.added}",
            f"Mask edits saved: {self.mask_edits}",
            f"Undecided: {self.undecided}",
        ]
