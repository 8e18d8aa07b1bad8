"""Writing the validation report: ``report.json`` and a self-contained ``report.html``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meddiag_desktop.validation.html_report import render_html
from meddiag_desktop.validation.report import report_dict

if TYPE_CHECKING:
    from pathlib import Path

    from meddiag_desktop.validation.results import ValidationReport
    from meddiag_desktop.validation.subgroups import SubgroupReport


@dataclass(frozen=True)
class ReportFiles:
    """Where the report was written."""

    json: Path
    html: Path


def write_report(report: ValidationReport, out_dir: Path, subgroups: SubgroupReport | None = None) -> ReportFiles:
    """Write ``report.json`` and ``report.html`` (inline CSS, plots as data: URIs) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir / "report.json", out_dir / "report.html")
    data = report_dict(report, subgroups)
    files.json.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    files.html.write_text(render_html(report, subgroups), encoding="utf-8")
    return files
