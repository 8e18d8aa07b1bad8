"""Finding measurements (volume, RECIST axes) and the lung-region veto."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.inference.findings import component_boxes, components, measure
from meddiag_desktop.inference.lung_mask import body_mask, lung_mask, lung_region


def _volume(arr: np.ndarray, spacing: tuple[float, float, float]) -> Volume:
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    affine[2, 0], affine[1, 1], affine[0, 2] = spacing
    return Volume(array=arr, affine=affine, modality="CT")


def test_ellipse_measurements_match_geometry() -> None:
    spacing = (1.0, 0.5, 0.5)
    z, y, x = np.mgrid[0:30, 0:120, 0:120].astype(float)
    # ellipsoid with semi-axes 10 mm (x), 6 mm (y), 5 mm (z)
    inside = ((x - 60) * 0.5 / 10) ** 2 + ((y - 60) * 0.5 / 6) ** 2 + ((z - 15) / 5) ** 2 <= 1
    vol = _volume(np.where(inside, 40, -850).astype(np.int16), spacing)
    labels, count = components(inside)
    assert count == 1
    box = component_boxes(labels, count)[0]
    f = measure("F1", labels[box] == 1, box, vol, inside.astype(np.float32))
    assert f.volume_ml == pytest.approx(4 / 3 * np.pi * 10 * 6 * 5 / 1000, rel=0.05)
    assert f.long_axis_mm == pytest.approx(20.0, abs=1.0)
    assert f.short_axis_mm == pytest.approx(12.0, abs=1.0)
    assert f.mean_hu == 40 and f.max_prob == 1.0
    np.testing.assert_allclose(f.centroid_index, (15, 60, 60), atol=0.01)
    np.testing.assert_allclose(f.centroid_lps, (30, 30, 15), atol=0.01)
    assert f.full_mask(vol.shape).sum() == inside.sum()


def test_finding_rejects_mask_bbox_mismatch() -> None:
    with pytest.raises(ValueError, match="does not match bbox"):
        Finding("F1", (0, 0, 0), (0, 0, 0), (0, 0, 0, 2, 2, 2), 1, 1, 1, 0, 0, 0, 0, np.ones((1, 2, 2), bool))


def _chest(spacing: tuple[float, float, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Body, two lungs, a mass attached to the mediastinal side of the left lung, a table
    and a bowel-gas bubble with a wall below the lungs."""
    nz, ny, nx = 24, 160, 200
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx].astype(float)
    y_mm, x_mm = (y - 80) * spacing[1], (x - 100) * spacing[2]
    hu = np.full((nz, ny, nx), -1000.0)
    body = (y_mm / 100) ** 2 + (x_mm / 140) ** 2 <= 1
    hu[body] = 40
    lungs = np.zeros_like(body)
    for cx in (-65, 65):
        lungs |= ((y_mm + 5) / 70) ** 2 + ((x_mm - cx) / 45) ** 2 <= 1
    lungs &= z >= 8
    hu[lungs] = -850
    mass = ((y_mm - 10) / 18) ** 2 + ((x_mm - 30) / 18) ** 2 + ((z - 16) * spacing[0] / 18) ** 2 <= 1
    hu[mass] = 35
    hu[:, 150:154, :] = 150  # table
    gas = ((y_mm - 0) / 20) ** 2 + ((x_mm - 0) / 25) ** 2 + ((z - 3) * spacing[0] / 12) ** 2 <= 1
    hu[gas] = -1000
    wall = (((y_mm) / 24) ** 2 + ((x_mm) / 29) ** 2 + ((z - 3) * spacing[0] / 15) ** 2 <= 1) & ~gas
    return hu, {
        "mass": mass,
        "table": np.zeros_like(mass) | (np.arange(ny)[None, :, None] >= 150) & (np.arange(ny)[None, :, None] < 154),
        "wall": wall & (z < 8),
    }


def test_lung_region_keeps_attached_mass_and_drops_table_and_bowel() -> None:
    spacing = (5.0, 1.5, 1.5)
    hu, parts = _chest(spacing)
    body = body_mask(hu, spacing)
    assert not body[:, 150:154].any(), "the table is not part of the body"
    lungs = lung_mask(hu, spacing, body)
    assert not lungs[:8].any(), "bowel gas below the lungs is not lung"
    region = lung_region(lungs, spacing, margin_mm=5.0)
    assert region[parts["mass"]].mean() > 0.9
    assert region[parts["wall"]].mean() < 0.05
    assert not region[:, 150:154].any()
