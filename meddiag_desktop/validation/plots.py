"""Report plots as PNG bytes: matplotlib's Agg canvas on a bare Figure (no pyplot, no GUI backend)."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from meddiag_desktop.validation.metrics import FP_RATES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.validation.summary import GroupSummary

MIN_FP = 1.0 / 16.0  # a log axis cannot show 0 false findings per scan: points below it are drawn at it
_STYLES = ("-", "--", ":", "-.")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def froc_png(groups: Sequence[GroupSummary]) -> bytes:
    """Sensitivity against mean false findings per scan, one step curve per group with lesions."""
    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = figure.add_subplot()
    right = max(FP_RATES)
    for i, g in enumerate(g for g in groups if g.lesions):
        fp = [max(p.fp_per_scan, MIN_FP) for p in g.froc]
        right = max(right, fp[-1])
        style = _STYLES[i % len(_STYLES)]
        label = f"{g.name} ({g.hits}/{g.lesions}, {g.scans} scans)"
        ax.step(fp, [p.sensitivity for p in g.froc], where="post", linestyle=style, marker=".", label=label)
    for rate in FP_RATES:
        ax.axvline(rate, color="0.85", linewidth=0.8, zorder=0)
    ax.set_xscale("log", base=2)
    ticks = [MIN_FP * 2**k for k in range(int(math.log2(right / MIN_FP)) + 1)]
    ax.set_xticks(ticks, [f"≤{t:g}" if t == MIN_FP else f"{t:g}" for t in ticks])
    ax.set_xlim(MIN_FP / 1.2, right * 1.2)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("mean false findings per scan (log scale)")
    ax.set_ylabel("sensitivity (lesions hit)")
    ax.set_title("FROC")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return _png(figure)


def lesion_png(rows: Sequence[tuple[str, float | None, str]]) -> bytes:
    """One horizontal bar per lesion: ``(name, value 0..1 or None for a miss, kind)``."""
    figure = Figure(figsize=(7.0, 0.8 + 0.28 * max(len(rows), 1)), layout="constrained")
    ax = figure.add_subplot()
    names = [name for name, _, _ in rows]
    values = [value or 0.0 for _, value, _ in rows]
    colours = ["#c0392b" if value is None else "#2471a3" if kind == "dice" else "#7d3c98" for _, value, kind in rows]
    ax.barh(range(len(rows)), values, color=colours)
    for y, (_, value, kind) in enumerate(rows):
        text = "missed" if value is None else f"{kind} {value:.2f}"
        ax.text(min((value or 0.0) + 0.01, 0.85), y, text, va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.axvline(0.5, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xlabel("Dice of the hit finding (outlines) / coverage of dense boxed voxels (boxes)")
    return _png(figure)
