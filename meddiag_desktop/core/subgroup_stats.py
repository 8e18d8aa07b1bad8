"""Subgroup statistics: metrics with bootstrap CIs, and when a subgroup is flagged.

A metric is a function of per-unit weights (the unit is the study or the review: the lesions
and findings of one study stay together when resampled). The point estimate gives every unit
weight 1; the 95 % CI is the percentile interval of ``N_BOOT`` bootstrap resamples of the
units (multinomial weights, seeded). A subgroup is flagged

- *too small to tell* when it has fewer than the metric's stated minimum (units, lesions, ...);
- *worse* (or *better*) when its CI excludes the overall value **and** it differs from the
  overall value by more than the metric's stated margin (the CI alone would flag trivial
  differences in a large cohort, and, by chance, about one in twenty subgroups). Only *worse*
  is an alarm: when one subgroup fails, the others are better than an overall value it pulls
  down. A percentile bootstrap CI collapses at 0 and 1 (10 of 10 found gives 1.00-1.00), so
  a perfect small subgroup can read *better*; the margin keeps *worse* from tiny shortfalls.
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    Metric = Callable[[NDArray[np.float64]], NDArray[np.float64]]
    """Unit weights ``(B, n_units)`` -> the metric under each weighting ``(B,)`` (NaN: undefined)."""

N_BOOT = 1000
LEVEL = 0.95


def _ratio(top: NDArray[np.float64], bottom: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def ratio_metric(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> Metric:
    """``sum(w * numerator) / sum(w * denominator)``: a pooled rate (sensitivity, acceptance, mean Dice)."""
    return lambda w: _ratio(w @ numerator, w @ denominator)


def auc_metric(scores: NDArray[np.float64], positive: NDArray[np.bool_]) -> Metric:
    """Area under the ROC curve of unit scores against unit labels (ties count one half).

    With weights it is the weighted Mann-Whitney statistic, so a bootstrap resample of units is
    a re-weighting.
    """
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])

    def metric(w: NDArray[np.float64]) -> NDArray[np.float64]:
        wp, wn = w[:, positive], w[:, ~positive]
        return _ratio(np.einsum("bi,ij,bj->b", wp, wins, wn), wp.sum(axis=1) * wn.sum(axis=1))

    return metric


def auc(scores: NDArray[np.float64], positive: NDArray[np.bool_]) -> float | None:
    """Plain AUC (``None`` without both classes)."""
    value = auc_metric(np.asarray(scores, float), np.asarray(positive, bool))(np.ones((1, len(scores))))[0]
    return None if np.isnan(value) else float(value)


ECE_BINS = 10


def ece_metric(
    probability: NDArray[np.float64], outcome: NDArray[np.bool_], unit_of: NDArray[np.intp], n_units: int
) -> Metric:
    """Expected calibration error over items (findings) grouped in units (studies).

    ``ECE = sum_b |sum_{i in b} (y_i - p_i)| / N`` over ``ECE_BINS`` equal-width bins of ``p``:
    the share-weighted gap between the observed rate and the mean predicted probability per bin.
    """
    bins = np.clip((probability * ECE_BINS).astype(int), 0, ECE_BINS - 1)
    one_hot = np.zeros((len(probability), ECE_BINS))
    one_hot[np.arange(len(probability)), bins] = 1.0
    gap = (outcome.astype(float) - probability)[:, None] * one_hot
    per_unit_gap = np.zeros((n_units, ECE_BINS))
    np.add.at(per_unit_gap, unit_of, gap)
    per_unit_n = np.bincount(unit_of, minlength=n_units).astype(float)

    def metric(w: NDArray[np.float64]) -> NDArray[np.float64]:
        return _ratio(np.abs(w @ per_unit_gap).sum(axis=1), w @ per_unit_n)

    return metric


def ece(probability: NDArray[np.float64], outcome: NDArray[np.bool_]) -> float | None:
    n = len(probability)
    value = ece_metric(np.asarray(probability, float), np.asarray(outcome, bool), np.arange(n), n)(np.ones((1, n)))[0]
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram."""

    low: float
    high: float
    count: int
    mean_probability: float | None
    observed_rate: float | None


def reliability(probability: NDArray[np.float64], outcome: NDArray[np.bool_]) -> list[ReliabilityBin]:
    bins = np.clip((np.asarray(probability) * ECE_BINS).astype(int), 0, ECE_BINS - 1)
    out = []
    for b in range(ECE_BINS):
        mine = bins == b
        n = int(mine.sum())
        mean_p = float(np.mean(probability[mine])) if n else None
        rate = float(np.mean(outcome[mine])) if n else None
        out.append(ReliabilityBin(b / ECE_BINS, (b + 1) / ECE_BINS, n, mean_p, rate))
    return out


@dataclass(frozen=True)
class Estimate:
    """A metric's value with its bootstrap CI; ``n`` counts what the metric's minimum is about."""

    value: float | None
    low: float | None
    high: float | None
    n: int


def seed_for(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the names (metric, attribute, subgroup)."""
    return np.random.default_rng([seed, zlib.crc32("|".join(names).encode())])


def estimate(metric: Metric, n_units: int, n: int, rng: np.random.Generator, n_boot: int = N_BOOT) -> Estimate:
    """The metric on all units and its percentile bootstrap CI (resamples where it is undefined are dropped)."""
    if n_units == 0:
        return Estimate(None, None, None, n)
    value = float(metric(np.ones((1, n_units)))[0])
    if np.isnan(value):
        return Estimate(None, None, None, n)
    weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).astype(float)
    samples = metric(weights)
    samples = samples[~np.isnan(samples)]
    tail = 100.0 * (1.0 - LEVEL) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail]) if len(samples) else (value, value)
    return Estimate(value, float(low), float(high), n)


class Flag(enum.Enum):
    NONE = ""
    WORSE = "worse"
    BETTER = "better"
    TOO_SMALL = "too small to tell"
    NO_VALUE = "no value"  # e.g. AUC of a subgroup with only studies with lesions


@dataclass(frozen=True)
class FlagRule:
    """When a metric's subgroup is flagged (stated in every report)."""

    metric: str  # e.g. "lesion sensitivity"
    margin: float
    min_n: int
    n_means: str  # what ``Estimate.n`` counts, e.g. "lesions"
    higher_is_better: bool = True

    def describe(self) -> str:
        return (
            f"{self.metric}: flagged when the subgroup's {LEVEL:.0%} CI excludes the overall value and the "
            f"difference exceeds {self.margin:g}; too small to tell below {self.min_n} {self.n_means}"
        )


def flag(subgroup: Estimate, overall: Estimate, rule: FlagRule) -> Flag:
    if subgroup.n < rule.min_n:
        return Flag.TOO_SMALL
    if subgroup.value is None or overall.value is None or subgroup.low is None or subgroup.high is None:
        return Flag.NO_VALUE
    outside = not subgroup.low <= overall.value <= subgroup.high
    diff = subgroup.value - overall.value
    if not outside or abs(diff) <= rule.margin:
        return Flag.NONE
    return Flag.BETTER if (diff > 0) == rule.higher_is_better else Flag.WORSE


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def estimate_text(e: Estimate) -> str:
    """``0.93 (0.85–0.98)``, or ``–`` without a value."""
    if e.value is None:
        return "–"
    return f"{e.value:.2f} ({_num(e.low)}–{_num(e.high)})"


def flag_words(attribute: str, group: str, e: Estimate, overall: Estimate, rule: FlagRule, flagged: Flag) -> str:
    """The flag in plain words ("" when the subgroup is not flagged)."""
    name = f"{attribute} {group}"
    if flagged is Flag.TOO_SMALL:
        return f"{name}: too small to tell for {rule.metric} ({e.n} {rule.n_means}; at least {rule.min_n} needed)."
    if flagged not in (Flag.WORSE, Flag.BETTER) or e.value is None or overall.value is None:
        return ""
    how = "WORSE" if flagged is Flag.WORSE else "better"
    return (
        f"{name}: {rule.metric} {estimate_text(e)} against {overall.value:.2f} overall ({e.n} {rule.n_means}): "
        f"{how} by {abs(e.value - overall.value):.2f}, more than the {rule.margin:g} margin, and the "
        f"{LEVEL:.0%} CI excludes the overall value."
    )
