"""Subgroup statistics (core.subgroup_stats / subgroup_table / subgroups): hand-computed values, CIs, flags."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.subgroup_stats import (
    Estimate,
    Flag,
    FlagRule,
    auc,
    auc_metric,
    ece,
    estimate,
    flag,
    flag_words,
    ratio_metric,
    reliability,
)
from meddiag_desktop.core.subgroup_table import MetricSpec, subgroup_table, table_dict
from meddiag_desktop.core.subgroups import SubgroupHeader, age_band, thickness_band

RULE = FlagRule("lesion sensitivity", 0.10, 10, "lesions")


def test_auc_matches_a_hand_computed_case() -> None:
    # positives 0.9, 0.8, 0.6 against negatives 0.7, 0.55, 0.4: 3 + 3 + 2 of 9 pairs won
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.4])
    positive = np.array([True, True, False, True, False, False])
    assert auc(scores, positive) == pytest.approx(8 / 9)
    assert auc(np.array([0.5, 0.5]), np.array([True, False])) == pytest.approx(0.5)  # a tie counts one half
    assert auc(np.array([0.2, 0.9]), np.array([True, True])) is None  # no negatives: no AUC


def test_weighted_auc_equals_the_auc_of_the_duplicated_units() -> None:
    """A bootstrap resample is a re-weighting; integer weights must equal repeating the units."""
    rng = np.random.default_rng(1)
    scores, positive = rng.uniform(size=12), rng.uniform(size=12) < 0.5
    weights = rng.integers(0, 4, size=12)
    repeated = np.repeat(np.arange(12), weights)
    weighted = auc_metric(scores, positive)(weights[None, :].astype(float))[0]
    assert weighted == pytest.approx(auc(scores[repeated], positive[repeated]))


def test_ece_is_zero_when_calibrated_and_the_gap_when_not() -> None:
    p = np.concatenate([np.full(100, 0.25), np.full(100, 0.75)])
    calibrated = np.concatenate([np.arange(100) < 25, np.arange(100) < 75])
    assert ece(p, calibrated) == pytest.approx(0.0, abs=1e-12)
    overconfident = np.full(100, 0.9)
    assert ece(overconfident, np.arange(100) < 50) == pytest.approx(0.4)
    # gaps of opposite sign in two bins add up, they do not cancel: 0.5 * 0.2 + 0.5 * 0.2
    two_way = np.concatenate([np.full(100, 0.2), np.full(100, 0.8)])
    assert ece(two_way, np.concatenate([np.arange(100) < 40, np.arange(100) < 60])) == pytest.approx(0.2)
    bins = reliability(p, calibrated)
    assert [b.count for b in bins if b.count] == [100, 100]
    assert bins[2].observed_rate == pytest.approx(0.25) and bins[7].mean_probability == pytest.approx(0.75)


def test_bootstrap_ci_covers_the_true_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for trial in range(200):
        hits = (rng.uniform(size=150) < 0.7).astype(float)
        e = estimate(ratio_metric(hits, np.ones(150)), 150, 150, np.random.default_rng(trial), n_boot=400)
        assert e.low is not None and e.high is not None and e.low <= e.value <= e.high  # type: ignore[operator]
        covered += e.low <= 0.7 <= e.high
    assert 0.88 <= covered / 200 <= 0.99


def test_estimate_is_reproducible_with_its_seed() -> None:
    hits = np.array([1.0, 0, 1, 1, 0, 1, 1, 1])
    metric = ratio_metric(hits, np.ones(8))
    first = estimate(metric, 8, 8, np.random.default_rng(3))
    assert estimate(metric, 8, 8, np.random.default_rng(3)) == first
    assert first.value == pytest.approx(0.75)


def test_flags_too_small_worse_better_and_within_margin() -> None:
    overall = Estimate(0.9, 0.85, 0.95, 200)
    assert flag(Estimate(0.0, 0.0, 0.0, 9), overall, RULE) is Flag.TOO_SMALL  # 9 lesions < 10
    worse = Estimate(0.2, 0.05, 0.4, 12)
    assert flag(worse, overall, RULE) is Flag.WORSE
    words = flag_words("scanner", "ACME Apex 64", worse, overall, RULE, Flag.WORSE)
    assert "WORSE by 0.70" in words and "0.1 margin" in words and "CI excludes" in words
    assert flag(Estimate(1.0, 1.0, 1.0, 12), overall, RULE) is Flag.NONE  # 0.10 better: not beyond the margin
    assert flag(Estimate(1.0, 1.0, 1.0, 12), Estimate(0.8, 0.7, 0.9, 100), RULE) is Flag.BETTER
    ece_rule = FlagRule("ECE", 0.1, 10, "findings", higher_is_better=False)
    assert flag(Estimate(0.5, 0.4, 0.6, 30), Estimate(0.2, 0.15, 0.25, 90), ece_rule) is Flag.WORSE  # higher ECE
    # the CI excludes the overall value, but the difference is within the margin: not flagged
    assert flag(Estimate(0.84, 0.82, 0.86, 300), overall, RULE) is Flag.NONE
    # a large difference whose CI still holds the overall value: not flagged
    assert flag(Estimate(0.6, 0.3, 0.95, 12), overall, RULE) is Flag.NONE
    small = flag_words("sex", "female", Estimate(0.5, 0.1, 0.9, 4), overall, RULE, Flag.TOO_SMALL)
    assert small == "sex female: too small to tell for lesion sensitivity (4 lesions; at least 10 needed)."


def test_subgroup_header_groups_and_bands() -> None:
    header = SubgroupHeader("F", 58.0, "ACME", "Apex 64", "SOFT", 2.5, contrast=True)
    assert header.groups() == {
        "sex": "female", "age band": "40-59 y", "scanner": "ACME Apex 64", "kernel": "SOFT",
        "slice thickness": "1.5-3.5 mm", "contrast": "yes",
    }  # fmt: skip
    assert SubgroupHeader().groups()["scanner"] == "not stated" and SubgroupHeader().groups()["contrast"] == "no"
    assert (age_band(39.9), age_band(75.0), thickness_band(5.0), thickness_band(None)) == (
        "<40 y", ">=75 y", "3.5-6 mm", "not stated",
    )  # fmt: skip


def test_subgroup_table_flags_the_subgroup_that_fails() -> None:
    """40 units: the 20 from scanner B find nothing; scanner A finds everything."""
    found = np.array([1.0] * 20 + [0.0] * 20)
    header_a, header_b = SubgroupHeader("F", 50, "A", "a"), SubgroupHeader("F", 50, "B", "b")
    groups = [header_a.groups()] * 20 + [header_b.groups()] * 20

    def sensitivity(units: np.ndarray) -> tuple:
        return ratio_metric(found[units], np.ones(len(units))), len(units)

    table = subgroup_table(groups, [MetricSpec("sensitivity", RULE, sensitivity)], unit="scans", seed=0)
    assert table.overall.estimates["sensitivity"].value == pytest.approx(0.5)
    [b] = [r for r in table.rows if r.group == "B b"]
    assert b.flags["sensitivity"] is Flag.WORSE and "WORSE" in b.words["sensitivity"]
    assert [w.split(":")[0] for w in table.worse()] == ["scanner B b"]
    assert [w.split(":")[0] for w in table.better()] == ["scanner A a"]  # A is better than the pooled value
    data = table_dict(table)
    assert data["flags"] == table.worse() and data["better"] == table.better()
    assert data["subgroups"][0]["attribute"] == "sex"
    assert data["rules"][0]["margin"] == 0.1 and "percentile bootstrap" in data["method"]
