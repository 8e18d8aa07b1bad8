"""A review as one printable, self-contained HTML page.

Inline CSS, key images as ``data:`` URIs, no script and no link to anything outside the file,
so it prints and archives as it is. The page holds the patient and study header (left out when
privacy is asked for), the decision-support notice, every finding with its decision (and a
rejection's reason), the AI run's input check (run by override: who, when, the typed reason and
the issues) beside every AI finding, the series' geometry warnings, a key image per finding
(``report_images``), the models with their versions, the reviewer and sign-off time, and the
amendment history. Writing it is an audit event.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from meddiag_desktop.core.ood import CheckStatus
from meddiag_desktop.io.export_common import write_file_atomic
from meddiag_desktop.review.export import parse_model_ref, software_version
from meddiag_desktop.review.model import Decision, ReviewFinding
from meddiag_desktop.review.ood_record import run_input_check
from meddiag_desktop.review.report_images import LUNG_WINDOW, key_image_png, key_slice

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.core.export_model import ModelInfo
    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.review.records import ReviewVersion
    from meddiag_desktop.review.service import ReviewService

NOTICE = "Decision support only; not a medical device."
REPORT_EVENT = "report_written"
COLOURS = {
    Decision.ACCEPTED: "#2ecc71", Decision.EDITED: "#af7ac5", Decision.ADDED: "#3498db",
    Decision.REJECTED: "#e74c3c", Decision.PENDING: "#f1c40f",
}  # fmt: skip
_CSS = """
body{font:10.5pt/1.35 "DejaVu Sans",Arial,sans-serif;color:#111;margin:1.5em auto;max-width:19cm}
h1{font-size:16pt;margin:0 0 .2em}h2{font-size:12pt;border-bottom:1px solid #999;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;margin:.3em 0}th,td{border:1px solid #bbb;padding:2px 5px;text-align:left;
vertical-align:top}th{background:#eee}td.n{text-align:right;white-space:nowrap}
.notice{border:2px solid #c0392b;color:#c0392b;font-weight:bold;padding:4px 8px;margin:.4em 0}
.draft{background:#fdebd0;border:1px solid #e67e22;padding:4px 8px;font-weight:bold}
.status{margin:.3em 0}.privacy{color:#555;font-style:italic}
.override{background:#fdebd0;border:2px solid #e67e22;padding:4px 8px;margin:.4em 0}
figure{margin:.6em 0;page-break-inside:avoid;break-inside:avoid}figure img{width:100%;max-width:17cm}
figcaption{font-size:9pt;color:#333}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;
border:1px solid #555;vertical-align:-1px}footer{margin-top:1.5em;font-size:9pt;color:#444}
@page{size:A4;margin:1.5cm}@media print{body{margin:0;max-width:none}}
"""


@dataclass(frozen=True)
class ReportHeader:
    """Who and what the review is about; printed only without privacy."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    study_date: str
    study_description: str
    accession_number: str
    modality: str
    series_description: str
    study_uid: str
    series_uid: str


@dataclass(frozen=True)
class ReportInput:
    """Everything the page shows; ``header`` is ``None`` when privacy is asked for."""

    state: ReviewState
    versions: tuple[ReviewVersion, ...]
    models: tuple[ModelInfo, ...]
    run_created_utc: str
    volume: Volume
    header: ReportHeader | None
    software_version: str
    generated_utc: str
    input_check: InputCheck | None = None  # None: the run was stored before input checks were recorded
    series_warnings: tuple[str, ...] = ()


def header_from_index(index: SeriesIndex, series_uid: str) -> ReportHeader:
    """The patient, study and series as the study index has them."""
    study, patient = index.study_of_series(series_uid)
    series = index.find_series(series_uid)
    return ReportHeader(
        patient.name, patient.patient_id, patient.birth_date, patient.sex, study.date, study.description,
        study.accession_number, series.modality, series.description, study.study_instance_uid, series_uid,
    )  # fmt: skip


def write_review_report(
    service: ReviewService, state: ReviewState, volume: Volume, path: Path, header: ReportHeader | None
) -> Path:
    """Render the review into ``path`` (atomically, never over a file) and record it in the audit log."""
    run = service.run_summary(state.run_id)
    report = ReportInput(
        state, tuple(service.versions(state.review_id)), parse_model_ref(run.model_ref), run.created_utc, volume,
        header, software_version(), datetime.now(UTC).isoformat(timespec="seconds"),
        run_input_check(service.store.db, state.run_id), tuple(w.message for w in volume.warnings),
    )  # fmt: skip
    page = render_review_html(report).encode("utf-8")
    write_file_atomic(path, lambda stream: stream.write(page))
    service.record_event(state, REPORT_EVENT, details={"file": path.name, "privacy": header is None})
    return path


def render_review_html(report: ReportInput) -> str:
    """The whole page as one string."""
    body = "".join(
        [
            _title(report),
            _patient(report.header),
            _input_check(report),
            _findings(report),
            _key_images(report),
            _models(report),
            _history(report.versions),
            _footer(report),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Lesion review {report.state.review_id}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _title(report: ReportInput) -> str:
    state = report.state
    signoff = state.signoff
    if signoff is None:
        status = '<p class="draft">DRAFT: this review is not signed off.</p>'
    else:
        who = html.escape(signoff.display_name or signoff.os_user)
        status = f'<p class="status">Signed off by <b>{who}</b> at {_time(signoff.time_utc)}.</p>'
    return (
        f"<header><h1>Chest CT lesion review</h1><p class='notice'>{NOTICE}</p>"
        f"<p>Review {state.review_id}, version {state.version}; AI run of {_time(report.run_created_utc)}.</p>"
        f"{status}</header>"
    )


def _patient(header: ReportHeader | None) -> str:
    if header is None:
        return "<h2>Patient and study</h2><p class='privacy'>Patient and study details omitted (privacy).</p>"
    rows = [
        ("Patient", _person(header.patient_name)), ("Patient ID", header.patient_id),
        ("Birth date", _date(header.birth_date)), ("Sex", header.sex), ("Study date", _date(header.study_date)),
        ("Study", header.study_description), ("Accession number", header.accession_number),
        ("Series", f"{header.modality} {header.series_description}".strip()), ("Study UID", header.study_uid),
        ("Series UID", header.series_uid),
    ]  # fmt: skip
    cells = "".join(f"<tr><th>{name}</th><td>{html.escape(value or '-')}</td></tr>" for name, value in rows)
    return f"<h2>Patient and study</h2><table>{cells}</table>"


def _findings(report: ReportInput) -> str:
    head = (
        "<tr><th>Finding</th><th>Decision</th><th>Long × short axis (mm)</th><th>Volume (mL)</th>"
        "<th>Mean HU</th><th>AI class</th><th>AI probability</th><th>Slice</th><th>AI input check</th></tr>"
    )
    rows = "".join(_finding_row(item, report.volume, _check_cell(item, report)) for item in report.state.findings)
    counts = ", ".join(
        f"{sum(f.decision is d for f in report.state.findings)} {d.value}"
        for d in Decision
        if any(f.decision is d for f in report.state.findings)
    )
    return (
        f"<h2>Findings</h2><p>{len(report.state.findings)} findings: {counts or 'none'}.</p><table>{head}{rows}</table>"
    )


def _input_check(report: ReportInput) -> str:
    """The run's input check: status, the override (who, when, why) and the issues; the series' warnings."""
    check = report.input_check
    status = check.status if check is not None else CheckStatus.NOT_RECORDED
    parts = [f"<h2>AI input check</h2><p>The AI run's input check: <b>{status.value}</b>.</p>"]
    if check is not None and check.override is not None:
        o = check.override
        issues = "".join(f"<li>{html.escape(i.message)}</li>" for i in check.soft)
        parts.append(
            f"<div class='override'>The series is outside the range the AI was validated for; it was run by "
            f"override of <b>{html.escape(o.who)}</b> at {_time(o.time_utc)}. Reason: "
            f"<b>{html.escape(o.reason)}</b><ul>{issues}</ul></div>"
        )
    if report.series_warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.series_warnings)
        parts.append(f"<p>Series warnings (they apply to every finding and measurement):</p><ul>{items}</ul>")
    return "".join(parts)


def _check_cell(item: ReviewFinding, report: ReportInput) -> str:
    check = report.input_check
    words = "-" if item.finding.origin != "ai" else (check.status if check else CheckStatus.NOT_RECORDED).value
    if item.finding.origin == "ai" and check is not None and check.override is not None:
        words += f": {check.override.reason}"
    return words + ("; series warnings apply" if report.series_warnings else "")


def _finding_row(item: ReviewFinding, volume: Volume, check: str = "") -> str:
    f = item.finding
    origin = "AI" if f.origin == "ai" else "radiologist"
    ai_class = class_words(item)
    probability = f"{f.max_prob:.0%}" if f.origin == "ai" else "-"
    cells = [
        f"<td>{_swatch(item.decision)}<b>{html.escape(f.id)}</b> ({origin})</td>",
        f"<td>{html.escape(decision_text(item))}</td>",
        f'<td class="n">{f.long_axis_mm:.1f} × {f.short_axis_mm:.1f}</td>',
        f'<td class="n">{f.volume_ml:.2f}</td>',
        f'<td class="n">{f.mean_hu:.0f}</td>',
        f"<td>{html.escape(ai_class)}</td>",
        f'<td class="n">{probability}</td>',
        f'<td class="n">{key_slice(f) + 1} / {volume.shape[0]}</td>',
        f"<td>{html.escape(check)}</td>",
    ]
    return f"<tr>{''.join(cells)}</tr>"


def class_words(item: ReviewFinding) -> str:
    """The AI's class; for an edited mask the class recomputed for it, or that it was not."""
    f, edited = item.finding, item.mask_version > 0 and item.finding.origin == "ai"
    top = f.top_class
    if not top:
        return "not recomputed after edit" if edited else "-"
    return f"{top} ({f.class_probabilities[top]:.0%})" + (", recomputed after edit" if edited else "")


def decision_text(item: ReviewFinding) -> str:
    """The decision in words, with a rejection's reason and the reviewer's note."""
    words = {
        Decision.PENDING: "not yet decided", Decision.ACCEPTED: "accepted",
        Decision.EDITED: f"accepted, outline edited (version {item.mask_version})",
        Decision.ADDED: "added by the radiologist", Decision.REJECTED: "rejected",
    }  # fmt: skip
    text = words[item.decision]
    if item.decision is Decision.REJECTED:
        text += f": {item.reason.value if item.reason else 'no reason given'}"
    return f"{text} ({item.note})" if item.note else text


def _key_images(report: ReportInput) -> str:
    figures = []
    for item in report.state.findings:
        colour = COLOURS[item.decision]
        png = base64.b64encode(key_image_png(report.volume, item.finding, colour)).decode("ascii")
        caption = (
            f"{_swatch(item.decision)}<b>{html.escape(item.id)}</b>: {html.escape(decision_text(item))}. "
            f"Axial slice {key_slice(item.finding) + 1} through its centre, {LUNG_WINDOW.label()}."
        )
        alt = f"Key image of finding {item.id}"
        figures.append(
            f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return "<h2>Key images</h2>" + ("".join(figures) or "<p>No findings.</p>")


def _models(report: ReportInput) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(m.id)}</td><td>{html.escape(m.version)}</td><td><code>{html.escape(m.sha256[:16])}"
        f"</code></td></tr>"
        for m in report.models
    )
    head = "<tr><th>Model</th><th>Version</th><th>sha256 (first 16)</th></tr>"
    return f"<h2>AI models</h2><table>{head}{rows or '<tr><td colspan=3>none recorded</td></tr>'}</table>"


def _history(versions: tuple[ReviewVersion, ...]) -> str:
    if len(versions) <= 1:
        return ""
    rows = "".join(
        f"<tr><td>{v.version}</td><td>{_time(v.opened_utc)}</td><td>{html.escape(v.opened_by)}</td>"
        f"<td>{html.escape(v.amendment_reason or '(first review)')}</td>"
        f"<td>{_time(v.signed_utc) + ' by ' + html.escape(v.signed_by) if v.signed_utc else 'not signed'}</td></tr>"
        for v in versions
    )
    head = "<tr><th>Version</th><th>Opened</th><th>By</th><th>Reason for amendment</th><th>Signed off</th></tr>"
    return f"<h2>Amendment history</h2><table>{head}{rows}</table>"


def _footer(report: ReportInput) -> str:
    signoff = report.state.signoff
    reviewer = html.escape(signoff.display_name or signoff.os_user) if signoff else "not signed off"
    return (
        f"<footer><p>Reviewer: {reviewer}. Printed {_time(report.generated_utc)} by MedDiag Desktop "
        f"{html.escape(report.software_version)}.</p><p class='notice'>{NOTICE} The radiologist decides; "
        "the AI's findings are proposals.</p></footer>"
    )


def _swatch(decision: Decision) -> str:
    return f'<span class="swatch" style="background:{COLOURS[decision]}"></span>'


def _time(iso: str | None) -> str:
    """ISO 8601 -> ``YYYY-MM-DD HH:MM UTC`` (the text as it is when it does not parse)."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return html.escape(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def _person(name: str) -> str:
    """A DICOM PN ``Family^Given^Middle`` as ``Family, Given Middle``."""
    parts = [p for p in name.split("^") if p]
    return f"{parts[0]}, {' '.join(parts[1:])}" if len(parts) > 1 else name
