"""Read-first mode: what the radiologist found before the AI was revealed, and what the AI found.

At the reveal every lesion the radiologist had marked is compared with every AI finding of the
run: a lesion that overlaps an AI finding was found independently (``independent``), one that
overlaps none is one the AI missed (``ai_missed``); an AI finding that no lesion of the
radiologist overlaps is ``ai_only``, one that some lesion overlaps is ``both``. Overlap is any
shared voxel; the Dice of the best match is kept with it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.review.model import ReviewState


class Outcome(enum.Enum):
    INDEPENDENT = "independent"  # the radiologist's lesion, also found by the AI
    AI_MISSED = "ai_missed"  # the radiologist's lesion, not found by the AI
    AI_ONLY = "ai_only"  # the AI's finding, not marked by the radiologist before the reveal
    BOTH = "both"  # the AI's finding, also marked by the radiologist before the reveal


@dataclass(frozen=True)
class ReadingOutcome:
    finding_id: str
    outcome: Outcome
    matched_id: str  # the best-overlapping finding of the other reader ("" if none)
    dice: float


def finding_dice(a: Finding, b: Finding) -> float:
    """Dice of two findings' masks (each cropped to its own box) on the volume's grid."""
    lo = np.minimum(a.bbox[:3], b.bbox[:3])
    hi = np.maximum(a.bbox[3:], b.bbox[3:])
    if np.any(np.maximum(a.bbox[:3], b.bbox[:3]) >= np.minimum(a.bbox[3:], b.bbox[3:])):
        return 0.0
    shape = tuple(int(v) for v in hi - lo)
    total = int(a.mask.sum()) + int(b.mask.sum())
    if total == 0:
        return 0.0
    return 2.0 * int(np.logical_and(_placed(a, lo, shape), _placed(b, lo, shape)).sum()) / total


def _placed(finding: Finding, origin: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    z, y, x = (int(v) for v in np.asarray(finding.bbox[:3]) - origin)
    dz, dy, dx = finding.mask.shape
    out[z : z + dz, y : y + dy, x : x + dx] = finding.mask
    return out


def _best(finding: Finding, others: Sequence[Finding]) -> tuple[str, float]:
    scored = [(finding_dice(finding, other), other.id) for other in others]
    dice, found = max(scored, default=(0.0, ""))
    return (found, dice) if dice > 0.0 else ("", 0.0)


def reading_outcomes(state: ReviewState) -> list[ReadingOutcome]:
    """Each finding of ``state`` classified as above (call at the reveal, before any AI decision)."""
    own = [f.finding for f in state.findings if f.origin != "ai"]
    ai = [f.finding for f in state.findings if f.origin == "ai"]
    out = []
    for lesion in own:
        found, dice = _best(lesion, ai)
        out.append(ReadingOutcome(lesion.id, Outcome.INDEPENDENT if found else Outcome.AI_MISSED, found, dice))
    for finding in ai:
        found, dice = _best(finding, own)
        out.append(ReadingOutcome(finding.id, Outcome.BOTH if found else Outcome.AI_ONLY, found, dice))
    return out
