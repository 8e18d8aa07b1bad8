"""Matching findings to reference lesions, and the figures computed from the matches.

Pure functions on masks and findings (no I/O), so the rules are easy to test and to read:

- Outlined lesion: a finding *hits* it when Dice(finding, lesion) >= 0.1 or the finding's
  centroid lies in the lesion. The hit finding is the qualifying one with the best Dice; the
  lesion reports that finding's Dice and volume error (finding vs lesion, %).
- Box lesion: a finding hits it when it covers >= 10 % of the boxed voxels denser than -100 HU
  (the lesion, not the air the box also holds) or its centroid is in the boxes. The hit
  finding is the qualifying one with the best coverage; the lesion reports that coverage and
  the share of the finding inside the boxes (no Dice: a box is not an outline).
- A finding with no voxel in common with any lesion is a false finding. A finding that
  touches a lesion without being its hit finding is neither a hit nor false.
- FROC: a threshold is swept over :func:`finding_score` (the model's candidate score, else the
  finding's peak probability); a lesion counts as found at a
  threshold when any finding meeting its hit rule scores at least that much.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.labels import LabelShape
from meddiag_desktop.validation.results import FindingResult, FindingStatus, LesionResult

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.labels import ReferenceLabel

HIT_DICE = 0.1
BOX_HIT_COVERAGE = 0.1
DENSE_HU = -100.0
FP_RATES = (0.5, 1.0, 2.0, 4.0, 8.0)
SIZE_BANDS = ((10.0, "<10 mm"), (20.0, "10-20 mm"), (30.0, "20-30 mm"), (math.inf, ">=30 mm"))
THICKNESS_BANDS = ((1.5, "<=1.5 mm"), (3.5, "1.5-3.5 mm"), (6.0, "3.5-6 mm"), (math.inf, ">6 mm"))


def finding_score(finding: Finding, scores: Mapping[str, float] | None = None) -> float:
    """The score the FROC threshold is swept over: the model's own candidate score when it gives
    one, else the finding's peak probability."""
    if scores and finding.id in scores:
        return float(scores[finding.id])
    return float(finding.max_prob)


def size_band(size_mm: float) -> str:
    """Lesion size band of a diameter in mm."""
    return next(name for upper, name in SIZE_BANDS if size_mm < upper)


def thickness_band(slice_spacing_mm: float) -> str:
    """Slice-thickness band of the slice spacing that was analysed."""
    return next(name for upper, name in THICKNESS_BANDS if slice_spacing_mm <= upper + 1e-6)


def lesion_size_mm(label: ReferenceLabel, spacing: tuple[float, float, float]) -> float:
    """Outline: diameter of the sphere of equal volume. Box: longest box side over its slices."""
    if label.shape is LabelShape.BOX:
        sides = [
            max(np.any(plane, axis=1).sum() * spacing[1], np.any(plane, axis=0).sum() * spacing[2])
            for plane in label.mask
            if plane.any()
        ]
        return float(max(sides, default=0.0))
    volume_mm3 = float(label.mask.sum()) * spacing[0] * spacing[1] * spacing[2]
    return float((6.0 * volume_mm3 / math.pi) ** (1.0 / 3.0))


def dice(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    """Dice coefficient of two masks of the same shape (1.0 when both are empty)."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


@dataclass(frozen=True)
class _Pair:
    """One finding against one lesion."""

    finding: Finding
    score: float
    shared: int  # voxels in common
    quality: float  # Dice (outline) or dense-voxel coverage (box)
    hit: bool
    inside: float  # share of the finding inside the lesion mask


def _centroid_in(finding: Finding, mask: NDArray[np.bool_]) -> bool:
    z, y, x = (round(v) for v in finding.centroid_index)
    inside = 0 <= z < mask.shape[0] and 0 <= y < mask.shape[1] and 0 <= x < mask.shape[2]
    return bool(inside and mask[z, y, x])


def _pair(finding: Finding, label: ReferenceLabel, dense: NDArray[np.bool_] | None, score: float) -> _Pair:
    crop = label.mask[finding.bbox_slices]
    shared = int((crop & finding.mask).sum())
    voxels = int(finding.mask.sum())
    centroid_in = _centroid_in(finding, label.mask)
    inside = shared / voxels if voxels else 0.0
    if dense is not None:
        dense_total = int(dense.sum())
        covered = int((dense[finding.bbox_slices] & finding.mask).sum())
        coverage = covered / dense_total if dense_total else 0.0
        hit = coverage >= BOX_HIT_COVERAGE or centroid_in
        return _Pair(finding, score, shared, coverage, hit, inside)
    d = 2.0 * shared / (voxels + int(label.mask.sum()))
    return _Pair(finding, score, shared, d, d >= HIT_DICE or centroid_in, inside)


def _lesion_result(
    label: ReferenceLabel, pairs: list[_Pair], spacing: tuple[float, float, float], voxel_ml: float
) -> LesionResult:
    size = lesion_size_mm(label, spacing)
    volume = float(label.mask.sum()) * voxel_ml
    base = LesionResult(
        label.name, label.source, label.shape.value, int(label.mask.sum()), volume, size, size_band(size), False,
        warnings=label.warnings,
    )  # fmt: skip
    qualifying = [p for p in pairs if p.hit]
    if not qualifying:
        return base
    best = max(qualifying, key=lambda p: (p.quality, p.score))
    score = max(p.score for p in qualifying)
    found = float(best.finding.mask.sum()) * voxel_ml
    hit = replace(base, hit=True, hit_finding=best.finding.id, detection_score=score)
    if label.shape is LabelShape.BOX:
        return replace(hit, box_coverage=best.quality, finding_inside=best.inside)
    return replace(hit, dice=best.quality, volume_error_pct=100.0 * (found - volume) / volume if volume else None)


def match_case(
    lesions: Sequence[ReferenceLabel],
    findings: Sequence[Finding],
    hu: NDArray[np.generic],
    spacing: tuple[float, float, float],
    voxel_ml: float,
    scores: Mapping[str, float] | None = None,
) -> tuple[list[LesionResult], list[FindingResult]]:
    """Match one scan's findings to its reference lesions (rules in the module docstring).

    ``scores``: the model's own score per finding id (see :func:`finding_score`).
    """
    score = {f.id: finding_score(f, scores) for f in findings}
    pairs: dict[int, list[_Pair]] = {}
    for i, label in enumerate(lesions):
        dense = label.mask & (np.asarray(hu) > DENSE_HU) if label.shape is LabelShape.BOX else None
        pairs[i] = [_pair(f, label, dense, score[f.id]) for f in findings]
    lesion_results = [_lesion_result(label, pairs[i], spacing, voxel_ml) for i, label in enumerate(lesions)]
    return lesion_results, _finding_results(lesions, findings, pairs, lesion_results, voxel_ml, score)


def _finding_results(
    lesions: Sequence[ReferenceLabel],
    findings: Sequence[Finding],
    pairs: dict[int, list[_Pair]],
    results: list[LesionResult],
    voxel_ml: float,
    score: Mapping[str, float],
) -> list[FindingResult]:
    out = []
    for j, f in enumerate(findings):
        overlaps = tuple(lesions[i].name for i in pairs if pairs[i][j].shared > 0)
        hit_of = tuple(r.name for r in results if r.hit_finding == f.id)
        status = FindingStatus.HIT if hit_of else FindingStatus.OVERLAP if overlaps else FindingStatus.FALSE
        volume = float(f.mask.sum()) * voxel_ml
        out.append(FindingResult(f.id, score[f.id], float(f.max_prob), volume, status, overlaps, hit_of))
    return out


@dataclass(frozen=True)
class FrocPoint:
    """Sensitivity and mean false findings per scan when findings scoring below ``threshold`` are dropped."""

    threshold: float
    sensitivity: float
    fp_per_scan: float


def froc(lesion_scores: Sequence[float | None], false_scores: Sequence[float], scans: int) -> list[FrocPoint]:
    """The FROC curve, from the strictest threshold (nothing kept) to the loosest.

    ``lesion_scores`` holds each lesion's detection score (``None``: never hit), ``false_scores``
    the score of every false finding, over ``scans`` scans.
    """
    found = np.asarray([s for s in lesion_scores if s is not None], dtype=np.float64)
    false = np.asarray(false_scores, dtype=np.float64)
    total, scans = max(len(lesion_scores), 1), max(scans, 1)
    points = [FrocPoint(math.inf, 0.0, 0.0)]
    for t in sorted({*found.tolist(), *false.tolist()}, reverse=True):
        points.append(FrocPoint(t, float((found >= t).sum()) / total, float((false >= t).sum()) / scans))
    return points


def sensitivity_at(points: Sequence[FrocPoint], fp_per_scan: float) -> float:
    """The best sensitivity reached with at most ``fp_per_scan`` false findings per scan."""
    return max(p.sensitivity for p in points if p.fp_per_scan <= fp_per_scan + 1e-9)
