"""The self-contained HTML report: inline CSS, plots as ``data:`` PNGs, nothing fetched from anywhere."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

from meddiag_desktop.validation import metrics
from meddiag_desktop.validation.plots import froc_png, lesion_png
from meddiag_desktop.validation.report import DISCLAIMER, ReportTables, rules, tables
from meddiag_desktop.validation.results import CaseStatus
from meddiag_desktop.validation.summary import analysed_lesions, by_size

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.validation.results import CaseResult, LesionResult, ValidationReport
    from meddiag_desktop.validation.subgroups import SubgroupReport
    from meddiag_desktop.validation.summary import GroupSummary

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1c2833; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #d5d8dc; }
.disclaimer { font-weight: bold; color: #922b21; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.86em; }
th, td { border: 1px solid #d5d8dc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eaf2f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.miss td { background: #fdedec; } tr.off td { color: #7b7d7d; }
code { font-size: 0.95em; } img { max-width: 100%; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        cells = "".join(
            f'<td class="num">{_e(v)}</td>' if isinstance(v, int | float) else f"<td>{_e(v)}</td>" for v in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


_GROUP_HEADERS = (
    "group", "scans", "not analysed", "lesions hit", "sensitivity", "false findings", "per scan", "median Dice",
    "median volume error", "median box coverage", *(f"sens. @{r:g} FP/scan" for r in metrics.FP_RATES), "CPM",
)  # fmt: skip


def _group_rows(groups: Sequence[GroupSummary]) -> str:
    rows = [
        [
            g.name, g.scans, g.not_analysed, f"{g.hits}/{g.lesions}", _pct(g.sensitivity), g.false_findings,
            _num(g.fp_per_scan, 1), _num(g.median_dice), _num(g.median_volume_error_pct, 0) + " %"
            if g.median_volume_error_pct is not None else "–", _pct(g.median_box_coverage),
            *(_pct(g.sensitivity_at(r)) for r in metrics.FP_RATES), _pct(g.cpm),
        ]
        for g in groups
    ]  # fmt: skip
    return _table(_GROUP_HEADERS, rows)


def _size_hits(case: CaseResult) -> str:
    parts = []
    for _, band in metrics.SIZE_BANDS:
        mine = [lesion for lesion in case.lesions if lesion.size_band == band]
        if mine:
            parts.append(f"{band}: {sum(x.hit for x in mine)}/{len(mine)}")
    return "; ".join(parts) or "–"


def _scan_rows(cases: Sequence[CaseResult], series: dict[str, str]) -> str:
    headers = ("patient", "folder", "series", "variant", "vendor", "slice mm", "status", "lesions hit",
               "false findings", "hits by size", "notes")  # fmt: skip
    rows, classes = [], []
    for c in cases:
        note = "; ".join([c.message, *c.notes, *c.analysis_warnings][:6]).strip("; ")
        hits = f"{c.hits}/{len(c.lesions)}" if c.analysed else "–"
        rows.append([c.patient, c.folder, series[c.series_instance_uid], c.variant, c.vendor,
                     _num(c.slice_spacing_mm, 1), c.status.value + (" (cached)" if c.from_cache else ""), hits,
                     c.false_findings if c.analysed else "–", _size_hits(c) if c.analysed else "–", note])  # fmt: skip
        classes.append("" if c.analysed else "off")
    return _table(headers, rows, classes)


def _lesion_cells(lesion: LesionResult) -> list[object]:
    return [lesion.name, lesion.source, lesion.shape, _num(lesion.size_mm, 0), _num(lesion.volume_ml, 1),
            "hit" if lesion.hit else "MISSED", lesion.hit_finding or "–", _num(lesion.dice),
            _num(lesion.volume_error_pct, 0), _pct(lesion.box_coverage), _pct(lesion.finding_inside),
            _num(lesion.detection_score)]  # fmt: skip


def _lesion_rows(cases: Sequence[CaseResult]) -> str:
    headers = ("patient", "folder", "variant", "lesion", "source", "shape", "size mm", "volume mL", "result",
               "hit finding", "Dice", "volume error %", "box coverage", "finding inside box", "score")  # fmt: skip
    rows, classes = [], []
    for c in (c for c in cases if c.analysed):
        for lesion in c.lesions:
            rows.append([c.patient, c.folder, c.variant, *_lesion_cells(lesion)])
            classes.append("" if lesion.hit else "miss")
    return _table(headers, rows, classes)


def _findings_details(cases: Sequence[CaseResult]) -> str:
    parts = []
    for c in (c for c in cases if c.analysed):
        rows = [[f.id, _num(f.score, 3), _num(f.volume_ml, 2), f.status.value, ", ".join(f.overlaps) or "–"]
                for f in c.findings]  # fmt: skip
        table = _table(("finding", "score", "volume mL", "status", "overlaps"), rows) if rows else "<p>no findings</p>"
        parts.append(
            f"<details><summary>{_e(c.folder)} ({_e(c.variant)}): {len(rows)} findings</summary>{table}</details>"
        )
    return "".join(parts)


def _lesion_plot(cases: Sequence[CaseResult]) -> str:
    rows: list[tuple[str, float | None, str]] = []
    for c in (c for c in cases if c.analysed):
        for lesion in c.lesions:
            kind = "coverage" if lesion.shape == "box" else "dice"
            value = lesion.box_coverage if kind == "coverage" else lesion.dice
            rows.append((f"{c.patient} {lesion.name} ({c.variant})", value if lesion.hit else None, kind))
    return _img(lesion_png(rows), "per-lesion Dice and box coverage") if rows else ""


def _provenance(report: ValidationReport) -> str:
    m = report.model
    rows = [
        ["model", f"{m.id} {m.version} ({m.source or 'unknown source'})"], ["model sha256", m.sha256],
        ["manifest sha256", m.settings_sha256 or "–"], ["operating threshold", _num(m.threshold)],
        ["software", f"MedDiag Desktop {report.software_version}"], ["created (UTC)", report.created_utc],
    ]  # fmt: skip
    return _table(("", ""), rows)


def _size_table(lesions: Sequence[LesionResult]) -> str:
    rows = [[s.band, s.lesions, s.hits, _num(s.median_dice)] for s in by_size(lesions)]
    return _table(("size band", "lesions", "hit", "median Dice"), rows)


def _body(report: ValidationReport, t: ReportTables) -> list[str]:
    cases = report.cases
    skipped = [c for c in cases if c.status in (CaseStatus.FAILED, CaseStatus.SKIPPED)]
    return [
        "<h1>Lesion model validation</h1>", f'<p class="disclaimer">{_e(DISCLAIMER)}</p>', _provenance(report),
        "<h2>Summary</h2>", _group_rows(t.headline),
        "<h2>FROC</h2>", _img(froc_png([*t.headline, *(t.thickness if len(t.thickness) > 1 else [])]), "FROC"),
        "<h2>Per patient</h2>", _group_rows(t.patients),
        "<h2>Per scan</h2>", _scan_rows(cases, t.series),
        "<h2>Per lesion</h2>", _lesion_rows(cases), _lesion_plot(cases),
        "<h2>Per slice-thickness band (slice spacing analysed)</h2>", _group_rows(t.thickness),
        "<h2>Per vendor</h2>", _group_rows(t.vendors),
        "<h2>Per lesion size band</h2>", _size_table(analysed_lesions(cases)),
        "<h2>Findings per scan</h2>", _findings_details(cases),
        "<h2>Not evaluated</h2>", _table(("folder", "variant", "status", "reason"),
                                         [[c.folder, c.variant, c.status.value, c.message] for c in skipped]),
        "<h2>Rules</h2>", _table(("rule", "value"), [[k, v] for k, v in rules().items()]),
        "<h2>Notes</h2>", "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>",
        f'<p class="disclaimer">{_e(DISCLAIMER)}</p>',
    ]  # fmt: skip


def render_html(report: ValidationReport, subgroups: SubgroupReport | None = None) -> str:
    """The report as one HTML document with no external references (and a subgroup section when given)."""
    from meddiag_desktop.validation.subgroup_html import CSS, subgroup_section

    parts = _body(report, tables(report))
    if subgroups is not None:
        parts.insert(parts.index("<h2>Per patient</h2>"), subgroup_section(subgroups))
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Lesion model validation: {_e(report.model.id)}</title><style>{_CSS}{CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
