"""A subgroup table: every metric overall and per subgroup, with CIs, flags and the flags in words.

The caller describes its metrics (:class:`MetricSpec`: how to compute one over a set of units,
and its :class:`~meddiag_desktop.core.subgroup_stats.FlagRule`) and gives each unit's subgroups
(:meth:`SubgroupHeader.groups`); :func:`subgroup_table` does the rest. JSON and plain text here;
the HTML pages render :class:`SubgroupTable` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meddiag_desktop.core.subgroup_stats import (
    LEVEL,
    N_BOOT,
    Estimate,
    Flag,
    FlagRule,
    estimate,
    flag,
    flag_words,
    seed_for,
)
from meddiag_desktop.core.subgroups import ATTRIBUTES, band_order

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from numpy.typing import NDArray

    from meddiag_desktop.core.subgroup_stats import Metric

OVERALL = "overall"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: ``build(units)`` gives the metric over those unit indices and the count its minimum is about."""

    key: str
    rule: FlagRule
    build: Callable[[NDArray[np.intp]], tuple[Metric, int]]


@dataclass(frozen=True)
class SubgroupRow:
    """One subgroup (or the overall row): its size, each metric's estimate and flag."""

    attribute: str
    group: str
    units: int
    estimates: Mapping[str, Estimate]
    flags: Mapping[str, Flag]
    words: Mapping[str, str]  # the flags in plain words, by metric key

    def flagged(self, kind: Flag) -> list[str]:
        return [self.words[k] for k, f in self.flags.items() if f is kind and self.words.get(k)]


@dataclass(frozen=True)
class SubgroupTable:
    """Overall and per-subgroup figures of a set of metrics."""

    unit: str  # "studies", "reviews"
    specs: tuple[MetricSpec, ...]
    overall: SubgroupRow
    rows: tuple[SubgroupRow, ...]
    seed: int

    def worse(self) -> list[str]:
        """Every subgroup figure worse than overall beyond the margin, in words: the alarms."""
        return [w for r in self.rows for w in r.flagged(Flag.WORSE)]

    def better(self) -> list[str]:
        return [w for r in self.rows for w in r.flagged(Flag.BETTER)]

    def too_small(self) -> list[str]:
        return [w for r in self.rows for w in r.flagged(Flag.TOO_SMALL)]

    def attribute_rows(self, attribute: str) -> list[SubgroupRow]:
        return [r for r in self.rows if r.attribute == attribute]


def _row(
    attribute: str, group: str, units: NDArray[np.intp], specs: Sequence[MetricSpec], seed: int,
    overall: SubgroupRow | None,
) -> SubgroupRow:  # fmt: skip
    estimates: dict[str, Estimate] = {}
    flags: dict[str, Flag] = {}
    words: dict[str, str] = {}
    for spec in specs:
        metric, n = spec.build(units)
        e = estimate(metric, len(units), n, seed_for(seed, spec.key, attribute, group), N_BOOT)
        estimates[spec.key] = e
        if overall is None:
            continue
        flags[spec.key] = flag(e, overall.estimates[spec.key], spec.rule)
        words[spec.key] = flag_words(attribute, group, e, overall.estimates[spec.key], spec.rule, flags[spec.key])
    return SubgroupRow(attribute, group, len(units), estimates, flags, words)


def _ordered(attribute: str, values: set[str]) -> list[str]:
    natural = [v for v in band_order(attribute) if v in values]
    return natural + sorted(values - set(natural))


def subgroup_table(
    groups: Sequence[Mapping[str, str]], specs: Sequence[MetricSpec], *, unit: str, seed: int = 0
) -> SubgroupTable:
    """Every metric over all units and over each subgroup of each attribute in ``ATTRIBUTES``.

    ``groups[i]`` maps each attribute to unit ``i``'s subgroup.
    """
    everyone = np.arange(len(groups), dtype=np.intp)
    overall = _row(OVERALL, OVERALL, everyone, specs, seed, None)
    rows = []
    for attribute in ATTRIBUTES:
        for value in _ordered(attribute, {g[attribute] for g in groups}):
            members = np.asarray([i for i, g in enumerate(groups) if g[attribute] == value], dtype=np.intp)
            rows.append(_row(attribute, value, members, specs, seed, overall))
    return SubgroupTable(unit, tuple(specs), overall, tuple(rows), seed)


def _estimate_dict(e: Estimate, flagged: Flag | None) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    out: dict[str, Any] = {"value": r(e.value), "ci_low": r(e.low), "ci_high": r(e.high), "n": e.n}
    if flagged is not None:
        out["flag"] = flagged.value or None
    return out


def _row_dict(row: SubgroupRow) -> dict[str, Any]:
    return {
        "attribute": row.attribute, "group": row.group, "units": row.units,
        "metrics": {k: _estimate_dict(e, row.flags.get(k)) for k, e in row.estimates.items()},
    }  # fmt: skip


def _rule_dict(spec: MetricSpec) -> dict[str, Any]:
    r = spec.rule
    return {"metric": spec.key, "rule": r.describe(), "margin": r.margin, "min_n": r.min_n, "n_means": r.n_means}


def table_dict(table: SubgroupTable) -> dict[str, Any]:
    """The table, JSON-ready, with the rules it was flagged by."""
    return {
        "unit": table.unit,
        "method": (
            f"{LEVEL:.0%} CI: percentile bootstrap over {table.unit} ({N_BOOT} resamples, seed {table.seed}); "
            "a subgroup is flagged when its CI excludes the overall value and the difference exceeds the margin"
        ),
        "rules": [_rule_dict(s) for s in table.specs],
        "overall": _row_dict(table.overall),
        "subgroups": [_row_dict(r) for r in table.rows],
        "flags": table.worse(),
        "better": table.better(),
        "too_small": table.too_small(),
    }


def format_flags(table: SubgroupTable, limit: int = 12) -> str:
    """The flags in words for the terminal: subgroups worse than overall, then counts of the others."""
    worse, better, small = table.worse(), table.better(), table.too_small()
    lines = [f"subgroups: {len(table.rows)} over {', '.join(ATTRIBUTES)}"]
    if worse:
        lines += [f"  FLAG {w}" for w in worse[:limit]]
        lines += [f"  ... and {len(worse) - limit} more"] if len(worse) > limit else []
    else:
        lines.append("  no subgroup is worse than the overall figures by more than the stated margins")
    if better:
        lines.append(f"  {len(better)} subgroup figure(s) better than overall (listed in the report)")
    if small:
        lines.append(f"  {len(small)} subgroup figure(s) too small to tell (listed in the report)")
    return "\n".join(lines)
