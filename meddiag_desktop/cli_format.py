"""Text tables for the headless commands. Patient names and IDs are never printed."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.core.deid_model import DeidentifyResult
    from meddiag_desktop.core.export_model import ExportResult
    from meddiag_desktop.core.records import ScanProblem
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.io.series_loader import VolumePlan
    from meddiag_desktop.review.records import ReviewSummary


def format_series_table(index: SeriesIndex, root: str) -> str:
    """Study/series table of the series with files under ``root``."""
    under = {p for p in index.file_stamps(root)}
    lines = [f"{'study date':10}  {'mod':4} {'#':>4}  {'images':>6}  {'kind':5}  {'description':30}  series UID"]
    for study in index.studies():
        for series in index.series(study.study_instance_uid):
            paths = {r.path for r in index.instances(series.series_instance_uid)}
            if not paths & under:
                continue
            number = "" if series.number is None else series.number
            lines.append(
                f"{_date(study.date):10}  {series.modality:4} {number:>4}  {series.frame_count:>6}  "
                f"{series.kind.value:5}  {series.description[:30]:30}  {series.series_instance_uid}"
            )
    return "\n".join(lines)


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 else value or "-"


def format_problems(problems: Sequence[ScanProblem]) -> str:
    lines = [f"{len(problems)} files not shown as images:"]
    lines += [f"  {p.path}: {p.reason}" for p in problems]
    return "\n".join(lines)


def format_plan(number: int, plan: VolumePlan) -> str:
    """Geometry of one planned volume, in the words a radiologist or physicist uses."""
    g = plan.geometry
    spacing = np.linalg.norm(g.affine[:3, :3], axis=0)
    lines = [
        f"Volume {number}: {plan.modality} {' x '.join(str(n) for n in plan.shape)} (slices x rows x columns)",
        f"  spacing (slice, row, column): {spacing[0]:.4f}, {spacing[1]:.4f}, {spacing[2]:.4f} mm",
        f"  origin (LPS): {', '.join(f'{v:.3f}' for v in g.affine[:3, 3])} mm",
        f"  slice step (LPS): {', '.join(f'{v:.4f}' for v in g.affine[:3, 0])}",
        f"  row direction: {', '.join(f'{v:.4f}' for v in g.affine[:3, 2] / spacing[2])}",
        f"  column direction: {', '.join(f'{v:.4f}' for v in g.affine[:3, 1] / spacing[1])}",
        f"  frame of reference: {plan.frame_of_reference_uid or '-'}",
    ]
    lines += [f"  warning: {w.message}" for w in g.warnings] or ["  no geometry warnings"]
    return "\n".join(lines)


def format_reviews(reviews: Sequence[ReviewSummary]) -> str:
    """The stored reviews, newest first, with their ids for ``export --review ID``."""
    if not reviews:
        return "No reviews are stored yet (a review starts when AI results are opened in the app)."
    lines = [f"{'id':>4}  {'ver':>3}  {'created (UTC)':16}  {'status':44}  series UID"]
    for r in reviews:
        signed = f"signed {_minute(r.signed_utc)} by {r.signed_by}" if r.signed_utc else "open (not signed)"
        lines.append(f"{r.review_id:>4}  {r.version:>3}  {_minute(r.created_utc):16}  {signed:44}  {r.series_uid}")
    return "\n".join(lines)


def _minute(iso_time: str | None) -> str:
    return (iso_time or "")[:16].replace("T", " ")


def format_export(result: ExportResult, *, verified: bool) -> str:
    """The files an export wrote, and whether the report is verified."""
    lines = [f"wrote {o.kind.value} {o.path}" for o in result.objects]
    if verified:
        lines.append("The report is VERIFIED (signed off).")
    else:
        lines.append("The report is UNVERIFIED: not signed off by a radiologist.")
    return "\n".join(lines)


def format_deidentified(result: DeidentifyResult, *, include_burned_in: bool) -> str:
    """Warnings about burned-in text, the files left out with their reasons, and what was written."""
    lines = [f"warning: {w}" for w in result.warnings]
    lines += [f"skipped {s.path}: {s.reason}" for s in result.skipped]
    if result.warnings and not include_burned_in:
        lines.append("Check those images; --include-burned-in exports them anyway.")
    if result.files:
        lines.append(
            f"wrote {len(result.files)} de-identified files into {result.folder} (patient {result.pseudonym}; "
            "new UIDs; dates shifted by one offset for the whole export, times kept; private attributes removed)"
        )
    else:
        lines.append("No file was exported.")
    return "\n".join(lines)


class ProgressLine:
    """One self-overwriting stderr line, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if total and (done >= total or now - self._last >= 0.1):
            self._last = now
            print(f"\r{message[:110]:<110}", end="", file=sys.stderr, flush=True)
