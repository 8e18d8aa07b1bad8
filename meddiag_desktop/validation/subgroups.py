"""The validation metrics per subgroup (fairness): AUC, sensitivity, Dice and calibration, overall and per subgroup.

Units are the analysed scans as acquired (slice-averaged variants are left out: they would count
a patient twice). Per scan:

- study-level AUC: the scan's score is its best finding score (0 without findings), its label
  whether it has a reference lesion;
- lesion sensitivity at a fixed operating point: findings scoring at least the threshold at
  which all scans together have at most ``OPERATING_FP_PER_SCAN`` false findings per scan;
  the same threshold in every subgroup (as the model would be deployed);
- Dice: mean Dice of the lesions hit (outlined lesions; box lesions have no Dice);
- calibration: ECE of the finding score read as the probability that a finding is a lesion
  (a hit, or overlapping a lesion), with a reliability diagram.

Subgroups come from each scan's DICOM header (``io.subgroup_headers``); flags follow
``core.subgroup_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.subgroup_stats import FlagRule, auc_metric, ece_metric, ratio_metric, reliability
from meddiag_desktop.core.subgroup_table import MetricSpec, subgroup_table, table_dict
from meddiag_desktop.core.subgroups import SubgroupHeader
from meddiag_desktop.io.subgroup_headers import series_subgroup_header
from meddiag_desktop.validation.metrics import froc
from meddiag_desktop.validation.results import CaseStatus, FindingStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import NDArray

    from meddiag_desktop.core.subgroup_stats import Metric, ReliabilityBin
    from meddiag_desktop.core.subgroup_table import SubgroupTable
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.validation.results import CaseResult, ValidationReport

OPERATING_FP_PER_SCAN = 1.0
RULES = {
    "auc": FlagRule("study-level AUC", 0.10, 5, "scans in the smaller class (with / without a lesion)"),
    "sensitivity": FlagRule(f"lesion sensitivity at {OPERATING_FP_PER_SCAN:g} FP/scan", 0.10, 10, "lesions"),
    "dice": FlagRule("mean Dice of the lesions hit", 0.10, 5, "outlined lesions hit"),
    # ECE over 10 bins is biased upwards and noisy below ~5 findings per bin on average
    "ece": FlagRule("calibration error (ECE) of the finding score", 0.10, 50, "findings", higher_is_better=False),
}


@dataclass(frozen=True, eq=False)
class _Scans:
    """Per-scan arrays the metrics are computed from."""

    score: NDArray[np.float64]  # best finding score, 0 without findings
    positive: NDArray[np.bool_]  # has a reference lesion
    lesions: NDArray[np.float64]
    found: NDArray[np.float64]  # lesions found at the operating threshold
    dice_sum: NDArray[np.float64]
    dice_n: NDArray[np.float64]
    finding_score: NDArray[np.float64]  # every finding ...
    finding_true: NDArray[np.bool_]  # ... whether it is a lesion
    finding_scan: NDArray[np.intp]  # ... and its scan


@dataclass(frozen=True)
class SubgroupReport:
    """The subgroup table of a validation, its operating point and its overall reliability diagram."""

    table: SubgroupTable
    threshold: float | None
    scans: int
    reliability: tuple[ReliabilityBin, ...]
    notes: tuple[str, ...]


def subgroup_cases(report: ValidationReport) -> list[CaseResult]:
    """The scans the subgroup report counts: analysed, as acquired."""
    return [c for c in report.cases if c.status is CaseStatus.ANALYSED and c.variant == "as acquired"]


def operating_threshold(cases: Sequence[CaseResult], fp_per_scan: float = OPERATING_FP_PER_SCAN) -> float | None:
    """The loosest finding-score threshold with at most ``fp_per_scan`` false findings per scan overall."""
    lesion_scores = [lesion.detection_score for c in cases for lesion in c.lesions]
    false_scores = [f.score for c in cases for f in c.findings if f.status is FindingStatus.FALSE]
    points = [p for p in froc(lesion_scores, false_scores, len(cases)) if p.fp_per_scan <= fp_per_scan + 1e-9]
    return None if len(points) <= 1 else min(p.threshold for p in points)


def _found(detection_score: float | None, threshold: float) -> bool:
    return detection_score is not None and detection_score >= threshold


def _scans(cases: Sequence[CaseResult], threshold: float | None) -> _Scans:
    limit = np.inf if threshold is None else threshold
    findings = [(f.score, f.status is not FindingStatus.FALSE, i) for i, c in enumerate(cases) for f in c.findings]
    return _Scans(
        score=np.asarray([max((f.score for f in c.findings), default=0.0) for c in cases], dtype=np.float64),
        positive=np.asarray([bool(c.lesions) for c in cases], dtype=bool),
        lesions=np.asarray([len(c.lesions) for c in cases], dtype=np.float64),
        found=np.asarray([sum(_found(x.detection_score, limit) for x in c.lesions) for c in cases], float),
        dice_sum=np.asarray([sum(x.dice for x in c.lesions if x.hit and x.dice is not None) for c in cases], float),
        dice_n=np.asarray([sum(x.hit and x.dice is not None for x in c.lesions) for c in cases], dtype=np.float64),
        finding_score=np.asarray([f[0] for f in findings], dtype=np.float64),
        finding_true=np.asarray([f[1] for f in findings], dtype=bool),
        finding_scan=np.asarray([f[2] for f in findings], dtype=np.intp),
    )


def _specs(s: _Scans) -> list[MetricSpec]:
    def auc(units: NDArray[np.intp]) -> tuple[Metric, int]:
        positive = s.positive[units]
        return auc_metric(s.score[units], positive), int(min(positive.sum(), (~positive).sum()))

    def sensitivity(units: NDArray[np.intp]) -> tuple[Metric, int]:
        return ratio_metric(s.found[units], s.lesions[units]), int(s.lesions[units].sum())

    def dice(units: NDArray[np.intp]) -> tuple[Metric, int]:
        return ratio_metric(s.dice_sum[units], s.dice_n[units]), int(s.dice_n[units].sum())

    def ece(units: NDArray[np.intp]) -> tuple[Metric, int]:
        position = np.full(len(s.score), -1, dtype=np.intp)
        position[units] = np.arange(len(units))
        mine = position[s.finding_scan] >= 0
        metric = ece_metric(s.finding_score[mine], s.finding_true[mine], position[s.finding_scan[mine]], len(units))
        return metric, int(mine.sum())

    builders = {"auc": auc, "sensitivity": sensitivity, "dice": dice, "ece": ece}
    return [MetricSpec(key, RULES[key], builders[key]) for key in RULES]


def subgroup_report(
    report: ValidationReport, headers: Mapping[str, SubgroupHeader], *, seed: int = 0
) -> SubgroupReport:
    """The validation's metrics overall and per subgroup.

    ``headers`` maps Series Instance UIDs to their subgroup headers; a scan without one counts
    as "not stated" in every attribute.
    """
    cases = subgroup_cases(report)
    threshold = operating_threshold(cases)
    scans = _scans(cases, threshold)
    groups = [headers.get(c.series_instance_uid, SubgroupHeader()).groups() for c in cases]
    table = subgroup_table(groups, _specs(scans), unit="scans", seed=seed)
    notes = []
    if len(cases) < len(report.cases):
        notes.append(
            f"{len(report.cases) - len(cases)} of {len(report.cases)} results are not counted here "
            "(not analysed, failed, or a slice-averaged variant of a scan already counted)"
        )
    bins = reliability(scans.finding_score, scans.finding_true)
    return SubgroupReport(table, threshold, len(cases), tuple(bins), tuple(notes))


def subgroup_dict(sub: SubgroupReport) -> dict[str, Any]:
    """The subgroup report, JSON-ready."""
    bins = [{"low": b.low, "high": b.high, "count": b.count, "mean_score": b.mean_probability,
             "observed_rate": b.observed_rate} for b in sub.reliability]  # fmt: skip
    return {
        **table_dict(sub.table), "scans": sub.scans, "operating_fp_per_scan": OPERATING_FP_PER_SCAN,
        "operating_threshold": None if sub.threshold is None else round(sub.threshold, 4),
        "reliability": bins, "notes": list(sub.notes),
    }  # fmt: skip


def headers_from_index(index: SeriesIndex, report: ValidationReport) -> dict[str, SubgroupHeader]:
    """The subgroup header of every scan of ``report``, read from its files (or the index)."""
    uids = {c.series_instance_uid for c in report.cases}
    return {uid: series_subgroup_header(index, uid) for uid in sorted(uids)}
