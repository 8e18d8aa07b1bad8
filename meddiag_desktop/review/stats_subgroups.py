"""Monitoring per subgroup: are the AI's findings accepted as often for every kind of patient and scanner?

Per segmentation model and version, each review counts once with its newest version: the AI
findings the radiologist accepted (as is or edited) among those decided (accepted, edited or
rejected). The acceptance rate is pooled over reviews, overall and per subgroup of the
reviewed series' DICOM header (sex, age band, scanner, kernel, slice thickness, contrast; see
``core.subgroups``), with a bootstrap CI over reviews and the flags of ``core.subgroup_stats``.
Headers are read from the series' files through the study index; no patient name or ID is
read or shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.subgroup_stats import FlagRule, ratio_metric
from meddiag_desktop.core.subgroup_table import MetricSpec, format_flags, subgroup_table, table_dict
from meddiag_desktop.core.subgroups import SubgroupHeader
from meddiag_desktop.io.subgroup_headers import series_subgroup_header
from meddiag_desktop.review.model import Decision
from meddiag_desktop.review.stats import split_model_ref

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from numpy.typing import NDArray

    from meddiag_desktop.core.subgroup_stats import Metric
    from meddiag_desktop.core.subgroup_table import SubgroupTable
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.review.service import ReviewService

ACCEPTANCE_RULE = FlagRule("acceptance of AI findings", 0.10, 20, "AI findings decided")


@dataclass(frozen=True)
class ReviewCount:
    """One review's AI findings: accepted (as is or edited) and decided."""

    model: str  # "lung-nodule-seg 2.0.0"
    series_uid: str
    accepted: int
    decided: int


@dataclass(frozen=True)
class ModelSubgroups:
    """The acceptance table of one model version."""

    model: str
    reviews: int
    table: SubgroupTable


def review_counts(service: ReviewService) -> list[ReviewCount]:
    """Every stored review's newest version, counted."""
    out = []
    for review in service.reviews():
        state = service.restore(review.review_id)
        model, version, _ = split_model_ref(service.run_summary(state.run_id).model_ref)
        decisions = [f.decision for f in state.findings if f.origin == "ai"]
        accepted = sum(d in (Decision.ACCEPTED, Decision.EDITED) for d in decisions)
        out.append(
            ReviewCount(f"{model} {version}", state.series_uid, accepted, accepted + decisions.count(Decision.REJECTED))
        )
    return out


def _spec(counts: Sequence[ReviewCount]) -> MetricSpec:
    accepted = np.asarray([c.accepted for c in counts], dtype=np.float64)
    decided = np.asarray([c.decided for c in counts], dtype=np.float64)

    def acceptance(units: NDArray[np.intp]) -> tuple[Metric, int]:
        return ratio_metric(accepted[units], decided[units]), int(decided[units].sum())

    return MetricSpec("acceptance", ACCEPTANCE_RULE, acceptance)


def acceptance_by_subgroup(
    counts: Sequence[ReviewCount], headers: Mapping[str, SubgroupHeader], *, seed: int = 0
) -> list[ModelSubgroups]:
    """One acceptance table per model version (series without a header count as "not stated")."""
    out = []
    for model in sorted({c.model for c in counts}):
        mine = [c for c in counts if c.model == model]
        groups = [headers.get(c.series_uid, SubgroupHeader()).groups() for c in mine]
        out.append(ModelSubgroups(model, len(mine), subgroup_table(groups, [_spec(mine)], unit="reviews", seed=seed)))
    return out


def headers_from_index(index: SeriesIndex, counts: Sequence[ReviewCount]) -> dict[str, SubgroupHeader]:
    return {uid: series_subgroup_header(index, uid) for uid in sorted({c.series_uid for c in counts})}


def subgroups_dict(models: Sequence[ModelSubgroups]) -> dict[str, Any]:
    """JSON-ready: per model version, its acceptance overall and per subgroup."""
    return {
        "title": "Acceptance of AI findings per subgroup",
        "models": [{"model": m.model, "reviews": m.reviews, **table_dict(m.table)} for m in models],
    }


def write_subgroups_json(models: Sequence[ModelSubgroups], path: Path) -> None:
    path.write_text(json.dumps(subgroups_dict(models), indent=2, ensure_ascii=False), encoding="utf-8")


def format_subgroups(models: Sequence[ModelSubgroups]) -> str:
    """The flags in words per model version, for the terminal."""
    if not models:
        return "No reviews are stored yet."
    return "\n".join(f"{m.model}: {m.reviews} review(s)\n{format_flags(m.table)}" for m in models)
