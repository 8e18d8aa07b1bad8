"""Monitoring: is this model still performing here as its card says?

Per segmentation model and version (with the classifier that ran beside it), per month of the
AI run: reviews, AI findings shown, how many were accepted, edited or rejected (with the
reasons), lesions the radiologist added, the Dice of the AI's mask against the final mask of
each finding kept (1.0 when accepted unchanged), and in read-first reviews how many lesions the
radiologist found independently, how many the AI missed and how many only the AI found.

Each review counts with its newest version of each AI run it showed (an amendment with a new
run counts the new run separately).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from meddiag_desktop.review.model import Decision, RejectReason
from meddiag_desktop.review.reading import Outcome, finding_dice

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.review.service import ReviewService

REASONS = tuple(r.value for r in RejectReason)
CSV_COLUMNS = (
    "model", "version", "classifier", "month", "reviews", "signed_reviews", "findings_shown", "accepted", "edited",
    "rejected", "undecided", "acceptance_rate", "rejection_rate",
    *(f"rejected_{r.replace(' ', '_')}" for r in REASONS),
    "lesions_added", "dice_mean", "dice_findings", "read_first_reviews", "independent_finds", "ai_missed", "ai_only",
)  # fmt: skip


@dataclass
class ModelMonth:
    """The counts of one segmentation model version in one month."""

    model: str
    version: str
    classifier: str
    month: str  # "2026-11"
    reviews: int = 0
    signed: int = 0
    shown: int = 0
    accepted: int = 0
    edited: int = 0
    rejected: int = 0
    undecided: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    added: int = 0
    dice_sum: float = 0.0
    dice_n: int = 0
    read_first: int = 0
    independent: int = 0
    ai_missed: int = 0
    ai_only: int = 0

    @property
    def decided(self) -> int:
        return self.accepted + self.edited + self.rejected

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted (as is or edited) among the AI findings decided."""
        return (self.accepted + self.edited) / self.decided if self.decided else None

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.decided if self.decided else None

    @property
    def dice_mean(self) -> float | None:
        return self.dice_sum / self.dice_n if self.dice_n else None

    def row(self) -> list[object]:
        def rate(value: float | None) -> str:
            return "" if value is None else f"{value:.3f}"

        return [self.model, self.version, self.classifier, self.month, self.reviews, self.signed, self.shown,
                self.accepted, self.edited, self.rejected, self.undecided, rate(self.acceptance_rate),
                rate(self.rejection_rate), *(self.reasons.get(r, 0) for r in REASONS), self.added,
                rate(self.dice_mean), self.dice_n, self.read_first, self.independent, self.ai_missed,
                self.ai_only]  # fmt: skip


def split_model_ref(model_ref: str) -> tuple[str, str, str]:
    """``(segmentation id, its version, "classifier-id version" or "")`` of a run's model reference."""
    parts = [p.strip().split("#", 1)[0] for p in model_ref.split(";") if p.strip()]
    model, _, version = (parts or ["unknown"])[0].partition("@")
    classifier = " ".join(parts[1].split("@", 1)) if len(parts) > 1 else ""
    return model, version, classifier


def model_stats(service: ReviewService) -> list[ModelMonth]:
    """Every stored review counted as above, sorted by model, version and month."""
    groups: dict[tuple[str, str, str, str], ModelMonth] = {}
    for review in service.reviews():
        for run_id, (first, last) in service.runs_by_version(review.review_id).items():
            run = service.run_summary(run_id)
            key = (*split_model_ref(run.model_ref), run.created_utc[:7])
            group = groups.setdefault(key, ModelMonth(*key))
            _count(group, service, service.restore(review.review_id, last), first)
    return [groups[k] for k in sorted(groups)]


def _count(group: ModelMonth, service: ReviewService, state: ReviewState, first: int) -> None:
    group.reviews += 1
    group.signed += state.signoff is not None
    ai = [f for f in state.findings if f.origin == "ai"]
    group.shown += 0 if state.ai_hidden else len(ai)
    for item in ai:
        group.accepted += item.decision is Decision.ACCEPTED
        group.edited += item.decision is Decision.EDITED
        group.rejected += item.decision is Decision.REJECTED
        group.undecided += item.decision is Decision.PENDING
        if item.decision is Decision.REJECTED and item.reason is not None:
            group.reasons[item.reason.value] = group.reasons.get(item.reason.value, 0) + 1
    group.added += sum(f.decision is Decision.ADDED for f in state.findings)
    _count_dice(group, service, state)
    if state.read_first:
        group.read_first += 1
        outcomes = service.reading_outcomes(state.review_id, first, state.version)
        group.independent += outcomes.get(Outcome.INDEPENDENT, 0)
        group.ai_missed += outcomes.get(Outcome.AI_MISSED, 0)
        group.ai_only += outcomes.get(Outcome.AI_ONLY, 0)


def _count_dice(group: ModelMonth, service: ReviewService, state: ReviewState) -> None:
    kept = [f for f in state.findings if f.origin == "ai" and f.decision in (Decision.ACCEPTED, Decision.EDITED)]
    if not kept:
        return
    original = {f.id: f for f in service.ai_findings(state.run_id)}
    for item in kept:
        dice = 1.0 if item.mask_version == 0 else finding_dice(original[item.id], item.finding)
        group.dice_sum += dice
        group.dice_n += 1


def write_csv(rows: list[ModelMonth], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(row.row() for row in rows)


def format_table(rows: list[ModelMonth]) -> str:
    """The plain-text table ``meddiag-desktop stats`` prints."""
    if not rows:
        return "No reviews are stored yet."
    lines = []
    for r in rows:
        rate = "–" if r.acceptance_rate is None else f"{r.acceptance_rate:.0%}"
        rejected = "–" if r.rejection_rate is None else f"{r.rejection_rate:.0%}"
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(r.reasons.items())) or "none"
        dice = "–" if r.dice_mean is None else f"{r.dice_mean:.2f} (n={r.dice_n})"
        with_cls = f" with {r.classifier}" if r.classifier else ""
        lines += [
            f"{r.model} {r.version}{with_cls} · {r.month}: {r.reviews} review(s), {r.signed} signed",
            f"  AI findings shown {r.shown}: accepted {r.accepted}, edited {r.edited}, rejected {r.rejected}, "
            f"undecided {r.undecided}; acceptance {rate}, rejection {rejected} (reasons: {reasons})",
            f"  lesions added by the radiologist {r.added}; AI mask vs final mask Dice {dice}",
            f"  read first: {r.read_first} review(s), {r.independent} found independently, "
            f"{r.ai_missed} missed by the AI, {r.ai_only} found by the AI only",
        ]
    return "\n".join(lines)
