"""Figures over groups of cases: overall, per patient, per slice-thickness band, per vendor, per size.

Only analysed cases count; cases the model refused are counted separately (``not_analysed``),
never as misses, and the report lists them with the reason.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meddiag_desktop.validation.metrics import FP_RATES, SIZE_BANDS, THICKNESS_BANDS, FrocPoint, froc, sensitivity_at
from meddiag_desktop.validation.results import CaseStatus, FindingStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from meddiag_desktop.validation.results import CaseResult, LesionResult


@dataclass(frozen=True)
class GroupSummary:
    """Detection figures of one group of scans."""

    name: str
    scans: int
    not_analysed: int
    lesions: int
    hits: int
    false_findings: int
    median_dice: float | None
    median_volume_error_pct: float | None
    median_box_coverage: float | None
    froc: tuple[FrocPoint, ...]

    @property
    def sensitivity(self) -> float | None:
        return self.hits / self.lesions if self.lesions else None

    @property
    def fp_per_scan(self) -> float | None:
        return self.false_findings / self.scans if self.scans else None

    def sensitivity_at(self, fp_per_scan: float) -> float | None:
        return sensitivity_at(self.froc, fp_per_scan) if self.lesions else None

    @property
    def cpm(self) -> float | None:
        """Mean sensitivity at 0.5, 1, 2, 4 and 8 false findings per scan (LUNA16's CPM)."""
        values = [self.sensitivity_at(rate) for rate in FP_RATES]
        return None if values[0] is None else sum(v or 0.0 for v in values) / len(values)


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(name: str, cases: Sequence[CaseResult]) -> GroupSummary:
    """The figures of the analysed cases among ``cases``."""
    analysed = [c for c in cases if c.status is CaseStatus.ANALYSED]
    lesions = [lesion for c in analysed for lesion in c.lesions]
    false_scores = [f.score for c in analysed for f in c.findings if f.status is FindingStatus.FALSE]
    curve = froc([lesion.detection_score for lesion in lesions], false_scores, len(analysed))
    return GroupSummary(
        name, len(analysed), sum(c.status is CaseStatus.NOT_ANALYSED for c in cases), len(lesions),
        sum(lesion.hit for lesion in lesions), len(false_scores), _median([lesion.dice for lesion in lesions]),
        _median([lesion.volume_error_pct for lesion in lesions]), _median([lesion.box_coverage for lesion in lesions]),
        tuple(curve),
    )  # fmt: skip


def group_by(
    cases: Sequence[CaseResult], key: Callable[[CaseResult], str], order: Sequence[str] = ()
) -> list[GroupSummary]:
    """One summary per key value (in ``order`` first, then alphabetically); cases not analysed count too."""
    groups: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.status in (CaseStatus.ANALYSED, CaseStatus.NOT_ANALYSED):
            groups.setdefault(key(case), []).append(case)
    names = [n for n in order if n in groups] + sorted(n for n in groups if n not in order)
    return [summarise(n, groups[n]) for n in names]


def by_thickness(cases: Sequence[CaseResult]) -> list[GroupSummary]:
    return group_by(cases, lambda c: c.thickness_band, [name for _, name in THICKNESS_BANDS])


def by_vendor(cases: Sequence[CaseResult]) -> list[GroupSummary]:
    return group_by(cases, lambda c: c.vendor)


def by_patient(cases: Sequence[CaseResult]) -> list[GroupSummary]:
    return group_by(cases, lambda c: f"{c.patient} {c.variant}")


def by_variant(cases: Sequence[CaseResult]) -> list[GroupSummary]:
    return group_by(cases, lambda c: c.variant, ["as acquired"])


@dataclass(frozen=True)
class SizeBandSummary:
    """Lesions hit per size band (false findings have no size band)."""

    band: str
    lesions: int
    hits: int
    median_dice: float | None


def by_size(lesions: Sequence[LesionResult]) -> list[SizeBandSummary]:
    out = []
    for _, band in SIZE_BANDS:
        mine = [lesion for lesion in lesions if lesion.size_band == band]
        if mine:
            out.append(SizeBandSummary(band, len(mine), sum(x.hit for x in mine), _median([x.dice for x in mine])))
    return out


def analysed_lesions(cases: Sequence[CaseResult]) -> list[LesionResult]:
    return [lesion for c in cases if c.status is CaseStatus.ANALYSED for lesion in c.lesions]
