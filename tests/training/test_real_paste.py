"""Real tumours pasted on the lung border of other scans (a training augmentation; needs SimpleITK)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("SimpleITK")

from training import real_paste
from training.real_data import GridCase

SPACING = (2.5, 1.5, 1.5)


def _case(name: str, variant: str, radius: float) -> GridCase:
    """Lung on the left, soft tissue on the right, a ball of tumour (``radius`` voxels) in the lung."""
    hu = np.full((20, 40, 40), -850.0, dtype=np.float32)
    hu[:, :, 24:] = 40.0
    z, y, x = np.ogrid[:20, :40, :40]
    lesion = ((z - 10) * 2.5 / 1.5) ** 2 + (y - 20) ** 2 + (x - 12) ** 2 <= radius**2
    hu[lesion] = 30.0 + 20.0 * np.sin(np.arange(int(lesion.sum())))  # a texture of its own
    lung = hu < -500
    none = np.zeros_like(lung)
    return GridCase(name, variant, hu, lesion, none, lung, lung | lesion, np.ones_like(lung), SPACING)


def test_crops_are_the_outlined_tumours_of_the_scans_as_acquired() -> None:
    cases = [_case("P1", "native", 6), _case("P1", "avg9", 6), _case("P2", "native", 1)]  # P2's is under 1 mL
    [crop] = real_paste.tumour_crops(cases)
    assert crop.source == "P1" and crop.mask.shape == crop.hu.shape
    assert crop.mask.sum() == cases[0].lesion.sum()
    assert not crop.mask[0].any() and not crop.mask[:, 0].any()  # a margin on every side


def _chunk() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lung (left), a rib along its border, soft tissue (right): a chunk of another scan."""
    hu = np.full((21, 64, 64), -850.0, dtype=np.float32)
    hu[:, :, 34:] = 40.0
    hu[:, :, 34:36] = 700.0
    return hu, hu < -500, np.zeros(hu.shape, dtype=bool)


def test_a_pasted_tumour_shows_on_the_lung_border_and_is_labelled() -> None:
    [crop] = real_paste.tumour_crops([_case("P1", "native", 7)])
    hu, lung, label = _chunk()
    before = hu.copy()
    rng = np.random.default_rng(4)
    pasted = [real_paste.paste(hu, lung, label, SPACING, crop, rng) for _ in range(3)]
    assert any(pasted) and label.any()
    assert label[9:12].any()  # on the middle slices, which the network is asked about
    changed = np.abs(hu - before) > 1.0
    assert changed[label].mean() > 0.9  # what is labelled shows
    assert not changed[:, :, 34:36].any()  # bone is never overwritten
    deep = np.zeros_like(lung)
    deep[:, :, 40:58] = True  # soft tissue more than 2 mm from the lung: a tumour would not show there
    assert not label[deep].any() and not changed[deep].any()
    assert np.median(hu[label]) > -100.0  # tumour density, not lung


def test_nothing_changes_without_lung_border_near_the_middle_slice() -> None:
    [crop] = real_paste.tumour_crops([_case("P1", "native", 7)])
    hu = np.full((21, 64, 64), 40.0, dtype=np.float32)
    lung, label = np.zeros(hu.shape, dtype=bool), np.zeros(hu.shape, dtype=bool)
    lung[:3] = True  # lung only far above the middle slice
    before = hu.copy()
    assert not real_paste.paste(hu, lung, label, SPACING, crop, np.random.default_rng(0))
    assert (hu == before).all() and not label.any()
