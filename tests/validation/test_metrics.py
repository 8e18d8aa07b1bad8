"""Matching rules and figures on generated masks and findings with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meddiag_desktop.core.labels import LabelRole, LabelShape, ReferenceLabel
from meddiag_desktop.validation.metrics import (
    dice,
    froc,
    lesion_size_mm,
    match_case,
    sensitivity_at,
    size_band,
    thickness_band,
)
from meddiag_desktop.validation.results import CaseResult, CaseStatus, FindingResult, FindingStatus, LesionResult
from meddiag_desktop.validation.summary import by_size, by_thickness, by_vendor, summarise
from tests.validation.helpers import box, finding_from_mask

SHAPE = (20, 40, 40)
SPACING = (1.0, 1.0, 1.0)
ML = 0.001  # 1 mm^3 voxels


def outline(name: str, mask: np.ndarray) -> ReferenceLabel:
    return ReferenceLabel(name, mask, LabelRole.LESION, LabelShape.OUTLINE, "test")


def boxes(name: str, mask: np.ndarray) -> ReferenceLabel:
    return ReferenceLabel(name, mask, LabelRole.LESION, LabelShape.BOX, "test")


def hu(dense: np.ndarray | None = None) -> np.ndarray:
    out = np.full(SHAPE, -800.0, dtype=np.float32)
    if dense is not None:
        out[dense] = 30.0
    return out


def test_dice_of_half_overlapping_cubes() -> None:
    a, b = box(SHAPE, (0, 0, 0), (10, 10, 10)), box(SHAPE, (5, 0, 0), (15, 10, 10))
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0 and dice(a, ~a) == 0.0


def test_outline_hit_reports_dice_and_volume_error_of_the_hit_finding() -> None:
    lesion = box(SHAPE, (5, 10, 10), (15, 20, 20))  # 1000 voxels
    finding = box(SHAPE, (10, 10, 10), (20, 20, 20))  # 1000 voxels, 500 shared
    [result], [f] = match_case([outline("GTV-1", lesion)], [finding_from_mask("F1", finding)], hu(), SPACING, ML)
    assert result.hit and result.hit_finding == "F1"
    assert result.dice == pytest.approx(0.5)
    assert result.volume_error_pct == pytest.approx(0.0)
    assert result.volume_ml == pytest.approx(1.0) and result.box_coverage is None
    assert f.status is FindingStatus.HIT and f.hit_of == ("GTV-1",)


def test_volume_error_is_signed_percent_of_the_lesion() -> None:
    lesion = box(SHAPE, (5, 10, 10), (15, 20, 20))  # 1000
    finding = box(SHAPE, (5, 10, 10), (10, 20, 20))  # 500, inside
    [result], _ = match_case([outline("L", lesion)], [finding_from_mask("F1", finding)], hu(), SPACING, ML)
    assert result.volume_error_pct == pytest.approx(-50.0)
    assert result.dice == pytest.approx(2 * 500 / 1500)


def test_low_dice_hits_only_when_the_centroid_is_inside() -> None:
    lesion = box(SHAPE, (0, 0, 0), (20, 20, 20))  # 8000 voxels
    small_inside = box(SHAPE, (9, 9, 9), (11, 11, 11))  # Dice 0.002, centroid in the lesion
    [result], _ = match_case([outline("L", lesion)], [finding_from_mask("F1", small_inside)], hu(), SPACING, ML)
    assert result.hit and result.dice == pytest.approx(2 * 8 / 8008)
    # a long finding poking into the corner: Dice < 0.1 and centroid outside -> no hit, but not false either
    poke = box(SHAPE, (0, 18, 18), (20, 40, 40))
    [result], [f] = match_case([outline("L", lesion)], [finding_from_mask("F1", poke)], hu(), SPACING, ML)
    assert not result.hit and result.dice is None and result.detection_score is None
    assert f.status is FindingStatus.OVERLAP and f.overlaps == ("L",)


def test_best_dice_wins_the_others_are_neither_hit_nor_false_and_a_distant_one_is_false() -> None:
    lesion = box(SHAPE, (5, 10, 10), (15, 20, 20))
    good = finding_from_mask("F1", box(SHAPE, (5, 10, 10), (14, 20, 20)), max_prob=0.6)
    partial = finding_from_mask("F2", box(SHAPE, (5, 10, 10), (8, 20, 20)), max_prob=0.95)
    far = finding_from_mask("F3", box(SHAPE, (0, 30, 30), (3, 35, 35)), max_prob=0.7)
    [result], findings = match_case([outline("L", lesion)], [good, partial, far], hu(), SPACING, ML)
    assert result.hit_finding == "F1" and result.dice == pytest.approx(0.9 * 2 / 1.9)
    assert result.detection_score == pytest.approx(0.95)  # any qualifying finding's best score counts for FROC
    assert [f.status for f in findings] == [FindingStatus.HIT, FindingStatus.OVERLAP, FindingStatus.FALSE]


def test_missed_lesion_and_no_findings() -> None:
    lesion = box(SHAPE, (5, 10, 10), (15, 20, 20))
    [result], findings = match_case([outline("L", lesion)], [], hu(), SPACING, ML)
    assert not result.hit and findings == []


def test_box_lesion_reports_coverage_of_dense_boxed_voxels_and_share_inside() -> None:
    region = box(SHAPE, (5, 5, 5), (15, 25, 25))  # 10 x 20 x 20 = 4000 boxed voxels
    dense = box(SHAPE, (5, 10, 10), (15, 20, 20))  # 1000 of them are tumour (> -100 HU)
    finding = box(SHAPE, (5, 10, 10), (10, 20, 30))  # 500 x 2: covers 500 dense voxels; 5*10*15=750 inside box
    [result], [f] = match_case([boxes("A", region)], [finding_from_mask("F1", finding)], hu(dense), SPACING, ML)
    assert result.hit and result.box_coverage == pytest.approx(0.5)
    assert result.finding_inside == pytest.approx(750 / 1000)
    assert result.dice is None and result.volume_error_pct is None
    assert f.status is FindingStatus.HIT


def test_box_hit_needs_ten_percent_coverage_or_the_centroid_in_the_box() -> None:
    region = box(SHAPE, (5, 5, 5), (15, 25, 25))
    dense = box(SHAPE, (5, 10, 10), (15, 20, 20))  # 1000 dense voxels
    # covers 50 dense voxels (5 %), centroid outside the box
    edge = box(SHAPE, (5, 10, 19), (10, 20, 40))
    [result], [f] = match_case([boxes("A", region)], [finding_from_mask("F1", edge)], hu(dense), SPACING, ML)
    assert not result.hit and f.status is FindingStatus.OVERLAP
    # the same coverage from a finding centred in the box (air around the tumour) is a hit
    air = box(SHAPE, (9, 6, 6), (11, 24, 11))
    [result], _ = match_case([boxes("A", region)], [finding_from_mask("F1", air)], hu(dense), SPACING, ML)
    assert result.hit and result.box_coverage == pytest.approx(2 * 10 * 1 / 1000)


def test_lesion_size_and_bands() -> None:
    cube = outline("L", box(SHAPE, (0, 0, 0), (10, 10, 10)))
    assert lesion_size_mm(cube, (1.0, 1.0, 1.0)) == pytest.approx((6000 / math.pi) ** (1 / 3))
    region = boxes("A", box(SHAPE, (0, 0, 0), (2, 10, 30)))
    assert lesion_size_mm(region, (5.0, 0.5, 0.8)) == pytest.approx(24.0)
    assert [size_band(s) for s in (4, 10, 19.9, 25, 80)] == ["<10 mm", "10-20 mm", "10-20 mm", "20-30 mm", ">=30 mm"]
    assert [thickness_band(s) for s in (0.625, 1.5, 1.6, 3.0, 3.5, 3.6, 5.0, 6.0, 6.1, 9.0)] == [
        "<=1.5 mm", "<=1.5 mm", "1.5-3.5 mm", "1.5-3.5 mm", "1.5-3.5 mm", "3.5-6 mm", "3.5-6 mm", "3.5-6 mm",
        ">6 mm", ">6 mm",
    ]  # fmt: skip


def test_froc_points_and_sensitivity_at_fp_rates() -> None:
    points = froc([0.9, 0.5, None], [0.8, 0.3, 0.2], scans=2)
    got = [(p.threshold, round(p.sensitivity, 3), p.fp_per_scan) for p in points]
    assert got == [
        (math.inf, 0.0, 0.0), (0.9, 0.333, 0.0), (0.8, 0.333, 0.5), (0.5, 0.667, 0.5), (0.3, 0.667, 1.0),
        (0.2, 0.667, 1.5),
    ]  # fmt: skip
    assert sensitivity_at(points, 0.25) == pytest.approx(1 / 3)
    assert sensitivity_at(points, 0.5) == pytest.approx(2 / 3)
    assert sensitivity_at(points, 8.0) == pytest.approx(2 / 3)


def lesion(hit: bool, score: float | None, band: str = "10-20 mm", dice_: float | None = None) -> LesionResult:
    return LesionResult("L", "test", "outline", 100, 1.0, 15.0, band, hit, "F1" if hit else None, dice_,
                        detection_score=score)  # fmt: skip


def false(score: float) -> FindingResult:
    return FindingResult("F9", score, score, 0.1, FindingStatus.FALSE)


def case(
    vendor: str, spacing: float, lesions: list[LesionResult], fps: list[FindingResult], **kw: object
) -> CaseResult:
    return CaseResult(
        f"{vendor}{spacing}", "folder", "P1", "1.2.3", vendor, "as acquired", kw.pop("status", CaseStatus.ANALYSED),  # type: ignore[arg-type]
        spacing, thickness_band(spacing), lesions=tuple(lesions), findings=tuple(fps),
    )  # fmt: skip


def test_groups_by_vendor_and_thickness_count_refused_scans_apart() -> None:
    cases = [
        case("SIEMENS", 3.0, [lesion(True, 0.9, dice_=0.6), lesion(False, None, ">=30 mm")], [false(0.4)]),
        case("Philips", 5.0, [lesion(True, 0.8, dice_=0.8)], [false(0.95), false(0.5)]),
        case("SIEMENS", 9.0, [lesion(False, None)], [], status=CaseStatus.NOT_ANALYSED),
    ]
    vendors = {g.name: g for g in by_vendor(cases)}
    assert (vendors["SIEMENS"].scans, vendors["SIEMENS"].hits, vendors["SIEMENS"].lesions) == (1, 1, 2)
    assert vendors["SIEMENS"].not_analysed == 1 and vendors["SIEMENS"].false_findings == 1
    assert vendors["Philips"].fp_per_scan == 2.0 and vendors["Philips"].median_dice == pytest.approx(0.8)
    bands = by_thickness(cases)
    assert [g.name for g in bands] == ["1.5-3.5 mm", "3.5-6 mm", ">6 mm"]
    assert bands[2].scans == 0 and bands[2].not_analysed == 1 and bands[2].sensitivity is None
    overall = summarise("all", cases)
    assert (overall.hits, overall.lesions, overall.false_findings, overall.scans) == (2, 3, 3, 2)
    assert overall.median_dice == pytest.approx(0.7)
    # the false finding scored 0.95 comes before any hit: 0.5 FP/scan (2 scans) buys both hits, 0.25 none
    assert overall.sensitivity_at(0.25) == 0.0
    assert overall.sensitivity_at(0.5) == pytest.approx(2 / 3)
    assert overall.sensitivity_at(1.0) == pytest.approx(2 / 3)
    sizes = {s.band: (s.hits, s.lesions) for s in by_size([x for c in cases[:2] for x in c.lesions])}
    assert sizes == {"10-20 mm": (2, 2), ">=30 mm": (0, 1)}


def test_model_scores_replace_peak_probability_for_the_froc() -> None:
    lesion = box(SHAPE, (5, 10, 10), (15, 20, 20))
    hit, false = finding_from_mask("F1", lesion), finding_from_mask("F2", box(SHAPE, (0, 30, 30), (3, 35, 35)))
    [result], findings = match_case([outline("L", lesion)], [hit, false], hu(), SPACING, ML, {"F1": 0.3, "F2": 0.9})
    assert result.detection_score == pytest.approx(0.3)
    assert [f.score for f in findings] == [pytest.approx(0.3), pytest.approx(0.9)]
    _, plain = match_case([outline("L", lesion)], [hit, false], hu(), SPACING, ML)
    assert [f.score for f in plain] == [pytest.approx(hit.max_prob), pytest.approx(false.max_prob)]
