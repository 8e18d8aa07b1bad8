"""Subgroup plots as PNG bytes (matplotlib Agg on a bare Figure, never pyplot): forest plot, reliability diagram."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from meddiag_desktop.core.subgroup_stats import Flag
from meddiag_desktop.validation.plots import _png

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.core.subgroup_stats import Estimate, ReliabilityBin
    from meddiag_desktop.core.subgroup_table import SubgroupTable

_COLOURS = {
    Flag.WORSE: "#c0392b",
    Flag.BETTER: "#1e8449",
    Flag.TOO_SMALL: "#a6acaf",
    Flag.NO_VALUE: "#a6acaf",
    Flag.NONE: "#2471a3",
}


def _span(e: Estimate) -> tuple[float, float, float]:
    value = e.value or 0.0
    return value, value if e.low is None else e.low, value if e.high is None else e.high


def forest_png(table: SubgroupTable, key: str) -> bytes:
    """One metric: each subgroup's value and CI against the overall value (red: worse, grey: too small)."""
    rows = [r for r in table.rows if r.estimates[key].value is not None]
    spans = [_span(r.estimates[key]) for r in rows]
    figure = Figure(figsize=(7.0, 0.9 + 0.22 * max(len(rows), 1)), layout="constrained")
    ax = figure.add_subplot()
    for y, (row, (value, low, high)) in enumerate(zip(rows, spans, strict=True)):
        colour = _COLOURS[row.flags[key]]
        ax.plot([low, high], [y, y], color=colour, linewidth=1.6)
        ax.plot([value], [y], "o", color=colour, markersize=4)
    overall = table.overall.estimates[key].value
    if overall is not None:
        ax.axvline(overall, color="0.3", linestyle="--", linewidth=0.9, label=f"overall {overall:.2f}")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=7, frameon=False)
    ax.set_yticks(range(len(rows)), [f"{r.attribute}: {r.group} (n={r.estimates[key].n})" for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    spec = next(s for s in table.specs if s.key == key)
    ax.set_xlabel(f"{spec.rule.metric} (95 % CI)")
    return _png(figure)


def reliability_png(bins: Sequence[ReliabilityBin]) -> bytes:
    """Observed rate of real lesions against the mean finding score per bin, with the findings per bin."""
    figure = Figure(figsize=(5.0, 4.6), layout="constrained")
    ax = figure.add_subplot()
    used = [(b, b.mean_probability or 0.0, b.observed_rate or 0.0) for b in bins if b.count]
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.9, label="perfect calibration")
    ax.bar([(b.low + b.high) / 2 for b, _, _ in used], [rate for _, _, rate in used], width=0.09,
           color="#aed6f1", edgecolor="#2471a3", label="observed share of lesions")  # fmt: skip
    ax.plot([p for _, p, _ in used], [rate for _, _, rate in used], "o-", color="#2471a3", markersize=4)
    for b, _, rate in used:
        ax.text((b.low + b.high) / 2, min(rate + 0.02, 0.95), f"n={b.count}", ha="center", fontsize=7)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("finding score (mean per bin)")
    ax.set_ylabel("findings that are lesions")
    ax.set_title("Reliability diagram")
    ax.legend(loc="upper left", fontsize=7)
    return _png(figure)
