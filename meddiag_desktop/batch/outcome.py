"""What one batch task sends back: a small, picklable summary (never a volume or a mask)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from meddiag_desktop.core.subgroups import SubgroupHeader

if TYPE_CHECKING:
    from meddiag_desktop.core.export_model import ExportedObject
    from meddiag_desktop.inference.analyze import AnalysisResult


class OutcomeStatus(enum.Enum):
    ANALYSED = "analysed"
    NOT_ANALYSED = "not analysed"  # the model refused the series (outside its intended use)
    FAILED = "failed"  # the series could not be read, or the task itself failed
    ALREADY_DONE = "already done"  # same pixels and models as a stored result: not analysed again

    @property
    def is_done(self) -> bool:
        """A lasting outcome: a rerun skips it. A failure is tried again."""
        return self in (OutcomeStatus.ANALYSED, OutcomeStatus.NOT_ANALYSED, OutcomeStatus.ALREADY_DONE)


@dataclass(frozen=True)
class FindingSummary:
    """One finding, measured; its mask stays with the worker (or in the exported SEG)."""

    id: str
    volume_ml: float
    long_axis_mm: float
    max_prob: float
    score: float | None
    top_class: str  # "" when no classifier ran


@dataclass(frozen=True)
class SeriesOutcome:
    """The result of one task; ``key`` is set once the series' pixels were read."""

    series_instance_uid: str
    status: OutcomeStatus
    message: str = ""
    key: str = ""
    pixel_sha256: str = ""
    slices: int = 0
    header: SubgroupHeader = field(default_factory=SubgroupHeader)
    findings: tuple[FindingSummary, ...] = ()
    warnings: tuple[str, ...] = ()
    exported: tuple[ExportedObject, ...] = ()
    seconds: float = 0.0

    def with_status(self, status: OutcomeStatus, message: str = "") -> SeriesOutcome:
        return replace(self, status=status, message=message)


def finding_summaries(result: AnalysisResult) -> tuple[FindingSummary, ...]:
    out = []
    for f in result.findings:
        score = result.finding_features.get(f.id, {}).get("score")
        out.append(FindingSummary(f.id, f.volume_ml, f.long_axis_mm, f.max_prob, score, f.top_class))
    return tuple(out)
