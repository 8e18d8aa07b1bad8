"""Which finding a review shows next: pure functions of the review state and the selection.

The findings list holds everything except the AI's findings while they are hidden (read first);
stepping and jumping wrap around that list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meddiag_desktop.review.model import Decision

if TYPE_CHECKING:
    from meddiag_desktop.review.model import ReviewFinding, ReviewState


def is_listed(state: ReviewState | None, item: ReviewFinding) -> bool:
    """In the findings list: everything, except the AI's findings while they are hidden (read first)."""
    return not (state is not None and state.ai_hidden and item.origin == "ai")


def listed_ids(state: ReviewState) -> list[str]:
    return [f.id for f in state.findings if is_listed(state, f)]


def stepped(state: ReviewState, selected: str, delta: int) -> str:
    """The finding ``delta`` places from ``selected`` (wrapping); "" when none is listed."""
    ids = listed_ids(state)
    if not ids:
        return ""
    here = ids.index(selected) if selected in ids else -1 if delta > 0 else 0
    return ids[(here + delta) % len(ids)]


def first_id(state: ReviewState | None) -> str:
    """The first pending listed finding, else the first listed one, else ""."""
    if state is None:
        return ""
    listed = [f for f in state.findings if is_listed(state, f)]
    pending = [f.id for f in listed if f.decision is Decision.PENDING]
    return (pending or [f.id for f in listed] or [""])[0]


def next_undecided(state: ReviewState, selected: str) -> str:
    """The next undecided listed finding after ``selected`` (wrapping); "" when every one is decided."""
    ids = listed_ids(state)
    undecided = {f.id for f in state.findings if is_listed(state, f) and not f.decision.decided}
    start = ids.index(selected) + 1 if selected in ids else 0
    return next((i for i in ids[start:] + ids[:start] if i in undecided), "")


def after_decision(state: ReviewState, selected: str) -> str:
    """Where a decision on ``selected`` moves on to: the next undecided finding, or "" to stay."""
    ids = [f.id for f in state.findings]
    undecided = [f.id for f in state.findings if is_listed(state, f) and not f.decision.decided]
    if not undecided or selected in undecided or selected not in ids:
        return ""
    after = ids[ids.index(selected) + 1 :] + ids
    return next(i for i in after if i in undecided)


def undone_id(before: ReviewState | None, after: ReviewState) -> str | None:
    """The finding an undo changed: its decision or mask went back, or it is gone (a drawn lesion)."""
    if before is None:
        return None
    now = {f.id: (f.decision, f.reason, f.note, f.mask_version) for f in after.findings}
    changed = [f.id for f in before.findings if now.get(f.id) != (f.decision, f.reason, f.note, f.mask_version)]
    return changed[0] if changed else None
