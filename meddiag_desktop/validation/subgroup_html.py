"""Subgroup tables as HTML: the validation report's subgroup section, and a page for any :class:`SubgroupTable`.

The page form also serves ``meddiag-desktop stats --subgroups`` (acceptance of AI findings per
subgroup, computed in ``review.stats_subgroups``): same tables, flags and forest plots.
"""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

from meddiag_desktop.core.subgroup_stats import LEVEL, N_BOOT, Flag, estimate_text
from meddiag_desktop.core.subgroups import ATTRIBUTES
from meddiag_desktop.validation.subgroup_plots import forest_png, reliability_png
from meddiag_desktop.validation.subgroups import OPERATING_FP_PER_SCAN

if TYPE_CHECKING:
    from meddiag_desktop.core.subgroup_table import SubgroupRow, SubgroupTable
    from meddiag_desktop.validation.subgroups import SubgroupReport

PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1c2833; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #d5d8dc; } .disclaimer { font-weight: bold; color: #922b21; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.86em; }
th, td { border: 1px solid #d5d8dc; padding: 3px 7px; text-align: left; } th { background: #eaf2f8; }
img { max-width: 100%; }
"""
CSS = """
td.flag-worse { background: #f5b7b1; font-weight: bold; } td.flag-better { background: #d4efdf; }
td.flag-small { color: #7b7d7d; font-style: italic; }
ul.flags li { margin: 0.2em 0; }
"""
_CELL_CLASS = {
    Flag.WORSE: "flag-worse",
    Flag.BETTER: "flag-better",
    Flag.TOO_SMALL: "flag-small",
    Flag.NO_VALUE: "flag-small",
}


def _e(value: object) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _cell(row: SubgroupRow, key: str) -> str:
    e, f = row.estimates[key], row.flags.get(key, Flag.NONE)
    text = estimate_text(e) + f" n={e.n}" + (f" · {f.value}" if f.value else "")
    cls = _CELL_CLASS.get(f, "")
    return f'<td class="{cls}">{_e(text)}</td>' if cls else f"<td>{_e(text)}</td>"


def _table(table: SubgroupTable, rows: list[SubgroupRow]) -> str:
    head = "".join(f"<th>{_e(s.rule.metric)}</th>" for s in table.specs)
    body = "".join(
        f"<tr><td>{_e(r.group)}</td><td class='num'>{r.units}</td>{''.join(_cell(r, s.key) for s in table.specs)}</tr>"
        for r in rows
    )
    return f"<table><tr><th>subgroup</th><th>{_e(table.unit)}</th>{head}</tr>{body}</table>"


def _flag_list(table: SubgroupTable) -> str:
    worse = table.worse()
    if not worse:
        return "<p>No subgroup is worse than the overall figures by more than the stated margins.</p>"
    return f'<p>Flagged: worse than overall</p><ul class="flags">{"".join(f"<li>{_e(w)}</li>" for w in worse)}</ul>'


def table_sections(table: SubgroupTable, level: int = 3) -> list[str]:
    """Flags in words, the overall row, one table per attribute, the figures too small to tell, forest plots."""
    h = f"h{level}"
    parts = [_flag_list(table), f"<{h}>Overall</{h}>", _table(table, [table.overall])]
    for attribute in ATTRIBUTES:
        parts += [f"<{h}>Per {_e(attribute)}</{h}>", _table(table, table.attribute_rows(attribute))]
    better = table.better()
    if better:
        parts += [f"<{h}>Better than overall</{h}>", _list(better)]
    small = table.too_small()
    if small:
        parts += [f"<{h}>Too small to tell</{h}>", "<ul>" + "".join(f"<li>{_e(w)}</li>" for w in small) + "</ul>"]
    parts += [f"<{h}>Per subgroup, against the overall value</{h}>"]
    parts += [_img(forest_png(table, s.key), f"forest plot: {s.rule.metric}") for s in table.specs]
    return parts


def method_items(table: SubgroupTable) -> list[str]:
    """How the table's subgroups are compared, in words."""
    return [
        f"{LEVEL:.0%} CIs: percentile bootstrap over {table.unit} ({N_BOOT} resamples, seed {table.seed}).",
        *(s.rule.describe() + "." for s in table.specs),
        "With many subgroups some CIs exclude the overall value by chance; the margin keeps such small "
        "differences from being flagged.",
    ]


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def subgroup_page(title: str, sections: list[tuple[str, SubgroupTable]], intro: str, disclaimer: str) -> str:
    """A self-contained page of subgroup tables (inline CSS, plots as ``data:`` PNGs)."""
    parts = [f"<h1>{_e(title)}</h1>", f'<p class="disclaimer">{_e(disclaimer)}</p>', f"<p>{_e(intro)}</p>"]
    for heading, table in sections:
        parts += [f"<h2>{_e(heading)}</h2>", *table_sections(table), "<h3>How subgroups are compared</h3>",
                  _list(method_items(table))]  # fmt: skip
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{PAGE_CSS}{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def _method(sub: SubgroupReport) -> str:
    threshold = "–" if sub.threshold is None else f"{sub.threshold:.3f}"
    items = [
        f"Counted: {sub.scans} analysed scans as acquired. Subgroups from each scan's DICOM header.",
        f"Operating point: findings scoring at least {threshold}, the loosest threshold with at most "
        f"{OPERATING_FP_PER_SCAN:g} false findings per scan over all scans; the same threshold in every subgroup"
        + (" (no threshold keeps that few: nothing counts as found)." if sub.threshold is None else "."),
        *method_items(sub.table),
        *sub.notes,
    ]
    return _list(items)


def subgroup_section(sub: SubgroupReport) -> str:
    """The validation report's section, starting with its ``<h2>``."""
    parts = ["<h2>Subgroups (fairness)</h2>", *table_sections(sub.table)]
    parts += ["<h3>Calibration</h3>", _img(reliability_png(sub.reliability), "reliability diagram")]
    parts += ["<h3>How subgroups are compared</h3>", _method(sub)]
    return "\n".join(parts)
