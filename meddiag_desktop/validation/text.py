"""Plain-text tables of a validation report for the terminal (no patient identifiers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meddiag_desktop.validation.metrics import FP_RATES, SIZE_BANDS
from meddiag_desktop.validation.report import DISCLAIMER, tables

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.validation.results import CaseResult, ValidationReport
    from meddiag_desktop.validation.summary import GroupSummary


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def _f(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def _by_size(case: CaseResult) -> str:
    parts = []
    for _, band in SIZE_BANDS:
        mine = [lesion for lesion in case.lesions if lesion.size_band == band]
        if mine:
            parts.append(f"{band} {sum(x.hit for x in mine)}/{len(mine)}")
    return ", ".join(parts) or "-"


def format_scan_table(report: ValidationReport) -> str:
    """One row per scan: lesions hit / total, false findings, hits per size band."""
    series = tables(report).series
    rows = []
    for c in report.cases:
        ok = c.analysed
        rows.append([
            c.patient, c.folder, series[c.series_instance_uid], c.variant, c.vendor, _f(c.slice_spacing_mm, ".1f"),
            c.status.value, f"{c.hits}/{len(c.lesions)}" if ok else "-", str(c.false_findings) if ok else "-",
            _by_size(c) if ok else (c.message[:70] or "-"),
        ])  # fmt: skip
    headers = ("patient", "folder", "series", "variant", "vendor", "slice mm", "status", "hit", "false", "by size")
    return _grid(headers, rows)


def format_lesion_table(report: ValidationReport) -> str:
    """One row per reference lesion on the analysed scans."""
    rows = []
    for c in (c for c in report.cases if c.analysed):
        for x in c.lesions:
            rows.append([
                c.patient, c.folder, c.variant, x.name, x.shape, _f(x.size_mm, ".0f"), _f(x.volume_ml, ".1f"),
                "hit" if x.hit else "MISSED", x.hit_finding or "-", _f(x.dice), _f(x.volume_error_pct, ".0f"),
                _f(x.box_coverage), _f(x.finding_inside),
            ])  # fmt: skip
    headers = ("patient", "folder", "variant", "lesion", "shape", "mm", "mL", "result", "finding", "Dice",
               "vol err %", "box cov", "inside")  # fmt: skip
    return _grid(headers, rows)


def _group_line(g: GroupSummary) -> str:
    at = ", ".join(f"{r:g}: {_f(g.sensitivity_at(r))}" for r in FP_RATES)
    return (
        f"{g.name}: {g.hits}/{g.lesions} lesions hit, {g.false_findings} false findings on {g.scans} scans "
        f"({_f(g.fp_per_scan, '.1f')}/scan), median Dice {_f(g.median_dice)}; sensitivity at FP/scan {at}"
        + (f"; {g.not_analysed} scans not analysed" if g.not_analysed else "")
    )


def format_summary(report: ValidationReport) -> str:
    """The overall and per-variant figures, the model, and the disclaimer."""
    t = tables(report)
    m = report.model
    lines = [_group_line(g) for g in t.headline]
    lines.append(f"model: {m.id} {m.version} sha256:{m.sha256[:12]}")
    lines += [f"note: {n}" for n in report.notes]
    lines.append(DISCLAIMER)
    return "\n".join(lines)
