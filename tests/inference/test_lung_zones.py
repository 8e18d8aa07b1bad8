"""Which lung and which third of it: the zone rule, the nearest-lung rule, and a whole analysis."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from inference_fixtures import chest_volume

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.lung_zone import slice_text, zone_of, zone_text
from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.lung_mask import LungMasks
from meddiag_desktop.inference.lung_zones import MAX_GAP_MM, LungZones
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.inference.resample import Grid

if TYPE_CHECKING:
    from pathlib import Path


def test_thirds_run_from_the_apex_and_nothing_outside_the_lung_has_a_zone() -> None:
    assert [zone_of(z, 300.0, 0.0) for z in (299.0, 201.0, 199.0, 101.0, 99.0, 1.0)] == [
        "upper", "upper", "middle", "middle", "lower", "lower"
    ]  # fmt: skip
    assert zone_of(301.0, 300.0, 0.0) == "" and zone_of(-1.0, 300.0, 0.0) == "" and zone_of(5.0, 0.0, 0.0) == ""
    assert zone_text("left", "lower") == "left lung, lower third"
    assert zone_text("left", "") == "left lung, zone not known" and zone_text("", "") == ""
    assert slice_text(42.4, 64) == "slice 43 of 64" and slice_text(70.0, 64) == "slice 64 of 64"


def test_a_zone_needs_known_words_and_a_side() -> None:
    mask = np.ones((1, 1, 1), dtype=bool)
    args = ("F1", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0, 0, 0, 1, 1, 1), 1.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.5, mask)
    with pytest.raises(ValueError, match="lung zone 'apex'"):
        Finding(*args, lung_side="left", lung_zone="apex")
    with pytest.raises(ValueError, match="needs the lung's side"):
        Finding(*args, lung_zone="upper")


def _zones() -> LungZones:
    """Two box lungs on 3 slabs of 2 model slices (z 2.5 mm, 10 rows, 20 columns of 1 mm)."""
    right, left = np.zeros((3, 10, 20), dtype=bool), np.zeros((3, 10, 20), dtype=bool)
    right[:, 2:8, 1:6] = True  # columns run towards the patient's left, as on the model grid
    left[1:, 2:8, 14:19] = True  # the left lung starts a slab higher
    return LungZones.of(LungMasks(left, right), Grid((0.0, 0.0, 100.0), (2.5, 1.0, 1.0), (6, 10, 20)), factor=2)


def test_the_nearest_lung_on_the_finding_slab_names_the_side() -> None:
    zones = _zones()
    assert zones.side_at((3.0, 5.0, 110.0)) == "right"  # inside the right lung
    assert zones.side_at((12.0, 5.0, 110.0)) == "left"  # nearer the left one
    assert zones.side_at((12.0, 5.0, 101.0)) == "right"  # on the lowest slab only the right lung exists
    far = LungZones(zones.sides[:, :, :2].copy(), Grid((0.0, 0.0, 100.0), (2.5, 1.0, 1.0), (6, 10, 2)), 2)
    assert MAX_GAP_MM == 10.0 and far.side_at((1.0 + 9.0, 5.0, 110.0)) == "right"  # a small nodule near the lung
    assert far.side_at((1.0 + 11.0, 5.0, 110.0)) == ""  # too far from every lung (mediastinum)
    assert far.side_at((1.0 + 29.0, 5.0, 110.0), radius_mm=20.0) == "right"  # a large mass indenting the lung
    assert far.side_at((1.0 + 31.0, 5.0, 110.0), radius_mm=20.0) == ""
    assert zones.extent_mm("right") == pytest.approx((100.0 + 5.5 * 2.5, 100.0 - 0.5 * 2.5))
    assert zones.extent_mm("left") == pytest.approx((100.0 + 5.5 * 2.5, 100.0 + 1.5 * 2.5))


def test_analysis_places_the_chest_nodule_in_the_middle_of_the_right_lung(model_root: Path) -> None:
    volume = chest_volume()  # lungs on slices 2..17; the nodule on slice 10, column 22 (right lung: 9..27)
    result = analyze_volume(volume, ModelRegistry(model_root), seg_model_id="seg-fixture", cls_model_id=None, threads=1)
    assert len(result.findings) == 1
    f = result.findings[0]
    assert (f.lung_side, f.lung_zone) == ("right", "middle")
    assert result.to_dict()["findings"][0]["lung_zone"] == "middle"
    for z, zone in ((14, "upper"), (5, "lower")):  # the patient's left lung, near its apex, then its base
        moved = chest_volume(nodule_center=(z, 30, 44))
        found = analyze_volume(moved, ModelRegistry(model_root), seg_model_id="seg-fixture", cls_model_id=None,
                               threads=1).findings  # fmt: skip
        assert [(g.lung_side, g.lung_zone) for g in found] == [("left", zone)]
