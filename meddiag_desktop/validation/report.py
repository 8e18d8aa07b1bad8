"""The validation report as data: ``report.json``, and the rows the HTML and text tables show.

No patient name, ID or birth date appears anywhere: scans are named by their folder, a
pseudonym (``P1``) and a prefix of the Series Instance UID.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from meddiag_desktop.validation import metrics
from meddiag_desktop.validation.results import CaseStatus
from meddiag_desktop.validation.summary import (
    analysed_lesions,
    by_patient,
    by_size,
    by_thickness,
    by_variant,
    by_vendor,
    summarise,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.validation.results import CaseResult, ValidationReport
    from meddiag_desktop.validation.subgroups import SubgroupReport
    from meddiag_desktop.validation.summary import GroupSummary

DISCLAIMER = "Decision support only; not a medical device."
MIN_UID_PREFIX = 40  # long enough to pass the dataset's UID root; unique among the report's series


def uid_prefixes(uids: Sequence[str]) -> dict[str, str]:
    """The shortest prefixes (at least ``MIN_UID_PREFIX`` characters) that tell the UIDs apart."""
    unique = sorted(set(uids))
    for length in range(MIN_UID_PREFIX, max((len(u) for u in unique), default=0) + 1):
        if len({u[:length] for u in unique}) == len(unique):
            return {u: u[:length] + ("…" if len(u) > length else "") for u in unique}
    return {u: u for u in unique}


def _number(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def group_dict(g: GroupSummary) -> dict[str, Any]:
    """One group's figures, JSON-ready."""
    return {
        "name": g.name, "scans": g.scans, "not_analysed": g.not_analysed, "lesions": g.lesions, "hits": g.hits,
        "sensitivity": _number(g.sensitivity), "false_findings": g.false_findings,
        "fp_per_scan": _number(g.fp_per_scan), "median_dice": _number(g.median_dice),
        "median_volume_error_pct": _number(g.median_volume_error_pct, 1),
        "median_box_coverage": _number(g.median_box_coverage),
        "sensitivity_at_fp_per_scan": {f"{r:g}": _number(g.sensitivity_at(r)) for r in metrics.FP_RATES},
        "cpm": _number(g.cpm),
        "froc": [[_number(p.threshold, 4), _number(p.sensitivity), _number(p.fp_per_scan)] for p in g.froc],
    }  # fmt: skip


def case_dict(case: CaseResult, series: str) -> dict[str, Any]:
    """One scan, JSON-ready, with the series UID shortened to ``series``."""
    data = case.to_dict()
    data.pop("series_instance_uid")
    data["case_id"] = f"{series} {case.variant}"
    data["series"] = series
    data["vendor"] = case.vendor
    data["hits"], data["false_findings"] = case.hits, case.false_findings
    return data


@dataclass(frozen=True)
class ReportTables:
    """Everything the report shows, computed once."""

    overall: GroupSummary
    variants: list[GroupSummary]
    thickness: list[GroupSummary]
    vendors: list[GroupSummary]
    patients: list[GroupSummary]
    series: dict[str, str]

    @property
    def headline(self) -> list[GroupSummary]:
        """One row per slice-thickness variant, then all pooled; just the overall one without variants."""
        return [self.overall] if len(self.variants) <= 1 else [*self.variants, self.overall]


def tables(report: ValidationReport) -> ReportTables:
    cases = report.cases
    series = uid_prefixes([c.series_instance_uid for c in cases])
    counted = [c for c in cases if c.status in (CaseStatus.ANALYSED, CaseStatus.NOT_ANALYSED)]
    variants = by_variant(cases)
    overall = summarise("all scans" if len(variants) <= 1 else "all variants pooled", counted)
    return ReportTables(overall, variants, by_thickness(cases), by_vendor(cases), by_patient(cases), series)


def report_dict(report: ValidationReport, subgroups: SubgroupReport | None = None) -> dict[str, Any]:
    """The whole report, JSON-ready (with the subgroup figures when ``subgroups`` is given)."""
    from meddiag_desktop.validation.subgroups import subgroup_dict

    t = tables(report)
    return {
        "title": "Lesion model validation", "disclaimer": DISCLAIMER, "created_utc": report.created_utc,
        "software_version": report.software_version, "model": asdict(report.model), "rules": rules(),
        "summary": group_dict(t.overall), "by_variant": [group_dict(g) for g in t.variants],
        "by_thickness_band": [group_dict(g) for g in t.thickness], "by_vendor": [group_dict(g) for g in t.vendors],
        "by_patient": [group_dict(g) for g in t.patients],
        "by_size_band": [asdict(s) for s in by_size(analysed_lesions(report.cases))],
        "scans": [case_dict(c, t.series[c.series_instance_uid]) for c in report.cases],
        "notes": list(report.notes),
        **({"subgroups": subgroup_dict(subgroups)} if subgroups is not None else {}),
    }  # fmt: skip


def rules() -> dict[str, Any]:
    """The matching rules and bands, as the report states them."""
    return {
        "outline_hit": f"Dice >= {metrics.HIT_DICE} or finding centroid inside the lesion; best Dice is the hit",
        "box_hit": (
            f"finding covers >= {metrics.BOX_HIT_COVERAGE:.0%} of the boxed voxels denser than "
            f"{metrics.DENSE_HU:g} HU, or its centroid is in the boxes; best coverage is the hit"
        ),
        "false_finding": "a finding with no voxel in common with any reference lesion",
        "froc_score": "the model's candidate score of each finding when it reports one, else its maximum probability",
        "fp_rates": list(metrics.FP_RATES),
        "size_bands": [name for _, name in metrics.SIZE_BANDS],
        "thickness_bands": [name for _, name in metrics.THICKNESS_BANDS],
        "lesion_size": "outline: diameter of the sphere of equal volume; box: longest box side",
    }
