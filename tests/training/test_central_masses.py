"""Simulated central masses: in the lung, with a broad base on the tissue that indents it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("SimpleITK")

from training import lesions

SPACING = (2.5, 1.5, 1.5)


def _slab() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lung on the left; from x = 40 soft tissue, deep in the lung region up to x = 50 (a hilum), then
    outside it (the region ends with a thin band, as the lung region's margin does on the chest wall)."""
    hu = np.full((12, 48, 64), -850.0, dtype=np.float32)
    hu[:, :, 40:] = 40.0
    lung = hu < -500
    region = np.zeros_like(lung)
    region[:, :, :50] = True
    return hu, lung, region


def _coords(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, y, x = (np.arange(n) * s for n, s in zip(shape, SPACING, strict=True))
    return z, y, x


def test_central_tissue_is_the_soft_tissue_deep_in_the_lung_region() -> None:
    hu, lung, region = _slab()
    central = lesions.central_tissue(hu, lung, region, SPACING)
    assert central[:, :, 40:46].all()  # 6 mm and more inside the region's edge at x = 50
    assert not central[:, :, 47:].any()  # the band along the region's edge, and what lies outside it
    assert not central[:, :, :40].any()  # lung is not tissue


@pytest.mark.parametrize("diameter", [25.0, 50.0, 80.0])
def test_a_central_mass_is_centred_in_the_lung_a_fraction_of_its_radius_from_the_tissue(diameter: float) -> None:
    hu, lung, region = _slab()
    central = lesions.central_tissue(hu, lung, region, SPACING)
    coords = _coords(hu.shape)
    rng = np.random.default_rng(0)
    for _ in range(30):
        centre = lesions.central_center(rng, lung, central, coords, diameter)
        assert centre is not None
        x_index = round(float(centre[2]) / SPACING[2])
        assert lung[0, 0, x_index]
        gap = coords[2][40] - centre[2]  # from the centre to the tissue's edge
        assert 0.2 * diameter / 2 - 1e-6 <= gap <= 0.8 * diameter / 2 + SPACING[2]


def test_no_central_mass_without_tissue_that_indents_the_lung() -> None:
    hu, lung, region = _slab()
    region[:] = False  # the tissue lies outside every lung's hull: chest wall, not hilum
    central = lesions.central_tissue(hu, lung, region, SPACING)
    assert lesions.central_center(np.random.default_rng(0), lung, central, _coords(hu.shape), 40.0) is None


def test_a_central_mass_is_mostly_solid_and_large() -> None:
    rng = np.random.default_rng(1)
    kinds = [lesions.random_lesion(rng, np.zeros(3), 40.0, lesions.CENTRAL_KINDS).kind for _ in range(200)]
    assert "ggo" not in kinds and kinds.count("solid") > 150
    low, high = lesions.CENTRAL_DIAMETER_MM
    assert low >= 20.0 and high <= 80.0
