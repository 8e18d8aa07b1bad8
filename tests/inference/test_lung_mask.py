"""Lung masks on a generated chest: sides, trachea, touching lungs, masses, thick slices, non-chest.

The phantom is drawn in patient millimetres (LPS: x to the patient's left, y posterior, z
superior) and sampled on any grid, averaging sub-slices so thick slices carry partial volume
like a scanner's. Each test checks one behaviour of ``meddiag_desktop.inference.lung_mask``
that clinical contours rely on; the real-contour checks are in ``test_lung_mask_corpus.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from meddiag_desktop.inference.lung_mask import LungMasks, body_mask, lung_mask, lung_region, lungs

PIXEL_MM = 2.0
SHAPE_YX = (150, 180)  # 300 x 360 mm


@dataclass(frozen=True)
class Chest:
    """A sampled phantom: HU, spacing and the ground-truth structures on the same grid."""

    hu: np.ndarray
    spacing: tuple[float, float, float]
    left: np.ndarray  # lung as a clinical contour draws it (vessels and intrapulmonary bronchi in)
    right: np.ndarray
    airways: np.ndarray  # trachea and main bronchi outside the lungs
    vessels: np.ndarray  # inside the lungs, part of them
    wall_mass: np.ndarray  # against the right lateral chest wall, pushing into it
    mediastinal_mass: np.ndarray  # against the left lung's mediastinal surface
    heart: np.ndarray
    table: np.ndarray


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def _structures(x: np.ndarray, y: np.ndarray, z: np.ndarray, touching: bool, big_mass: bool) -> dict[str, np.ndarray]:
    """Boolean structures at points ``(x, y, z)`` (mm)."""
    body = (x / 170) ** 2 + (y / 130) ** 2 <= 1
    lung_l = ((x - 75) / 55) ** 2 + ((y - 5) / 90) ** 2 + ((z - 140) / 105) ** 2 <= 1
    lung_r = ((x + 75) / 55) ** 2 + ((y - 5) / 90) ** 2 + ((z - 140) / 105) ** 2 <= 1
    if touching:  # anterior junction line: the lungs meet in front of the mediastinum
        junction = (np.abs(x) <= 62) & (np.abs(y + 80) <= 3) & (np.abs(z - 170) <= 25)
        lung_l |= junction & (x >= 0)
        lung_r |= junction & (x < 0)
    heart = ((x - 22) / 55) ** 2 + ((y + 20) / 48) ** 2 + ((z - 85) / 50) ** 2 <= 1
    trachea = (np.hypot(x, y + 15) <= 9) & (z >= 150)
    bronchi = np.zeros_like(body)
    near = (z > 110) & (z < 160) & (np.abs(y + 10) < 20)  # only there can a bronchus be
    p = np.stack([x[near], y[near], z[near]], axis=-1)
    for side in (40.0, -40.0):
        bronchi[near] |= _segment_distance(p, np.array([0, -15, 152.0]), np.array([side, -5, 115.0])) <= 6
    airway_lumen = trachea | bronchi
    vessels = np.zeros_like(body)
    for cx, radius in ((-80, 7.0), (-60, 2.5), (95, 7.0), (65, 2.5)):
        vessels |= (np.hypot(x - cx, y - 10) <= radius) & (z > 60) & (z < 210)
    wall_c = (-115.0, 20.0, 110.0) if not big_mass else (-85.0, 45.0, 100.0)
    wall_r = 20.0 if not big_mass else 40.0
    wall_mass = np.sqrt((x - wall_c[0]) ** 2 + (y - wall_c[1]) ** 2 + (z - wall_c[2]) ** 2) <= wall_r
    med_mass = np.sqrt((x - 36) ** 2 + (y - 35) ** 2 + (z - 175) ** 2) <= 16
    gas = np.sqrt(((x - 40) / 30) ** 2 + ((y + 10) / 25) ** 2 + ((z - 12) / 10) ** 2) <= 1
    table = (y >= 138) & (y <= 146) & (np.abs(x) <= 170)
    lungs_any = (lung_l | lung_r) & ~heart
    return {
        "body": body,
        "left": lung_l & ~heart & ~wall_mass & ~med_mass & body,
        "right": lung_r & ~heart & ~wall_mass & ~med_mass & body,
        "airways": airway_lumen & ~lungs_any,
        "lumen": airway_lumen,
        "vessels": vessels & lungs_any,
        "wall_mass": wall_mass & body,
        "mediastinal_mass": med_mass & body,
        "heart": heart & body,
        "gas": gas & body,
        "table": table,
    }


def _hu(s: dict[str, np.ndarray]) -> np.ndarray:
    hu = np.full(s["body"].shape, -1000.0, dtype=np.float32)
    hu[s["body"]] = 40.0
    hu[s["left"] | s["right"]] = -860.0
    hu[s["vessels"]] = 40.0
    hu[s["lumen"]] = -1000.0
    for name in ("wall_mass", "mediastinal_mass", "heart"):
        hu[s[name]] = 40.0
    hu[s["gas"]] = -1000.0
    hu[s["table"]] = 200.0
    return hu


def chest(
    slice_mm: float = 5.0,
    *,
    touching: bool = False,
    big_mass: bool = False,
    noise_hu: float = 0.0,
    z_range: tuple[float, float] = (0.0, 260.0),
    seed: int = 0,
) -> Chest:
    """The phantom sampled with ``slice_mm`` slices over ``z_range`` (mm), 2 mm pixels."""
    nz = round((z_range[1] - z_range[0]) / slice_mm)
    sub = max(1, round(slice_mm / 2.5))  # 2.5 mm sub-slices averaged into each slice
    zc = z_range[0] + (np.arange(nz) + 0.5) * slice_mm
    y = (np.arange(SHAPE_YX[0]) - SHAPE_YX[0] / 2 + 0.5) * PIXEL_MM
    x = (np.arange(SHAPE_YX[1]) - SHAPE_YX[1] / 2 + 0.5) * PIXEL_MM
    hu = np.zeros((nz, *SHAPE_YX), dtype=np.float32)
    truth: dict[str, np.ndarray] = {}
    for k in range(sub):
        zs = zc + (k + 0.5) / sub * slice_mm - slice_mm / 2
        zz, yy, xx = np.meshgrid(zs, y, x, indexing="ij")
        s = _structures(xx, yy, zz, touching, big_mass)
        hu += _hu(s) / sub
        if k == sub // 2:
            truth = s
    if noise_hu:
        hu += np.random.default_rng(seed).normal(0.0, noise_hu, hu.shape).astype(np.float32)
    return Chest(
        hu,
        (slice_mm, PIXEL_MM, PIXEL_MM),
        truth["left"],
        truth["right"],
        truth["airways"],
        truth["vessels"],
        truth["wall_mass"],
        truth["mediastinal_mass"],
        truth["heart"],
        truth["table"],
    )


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 2.0 * float((a & b).sum()) / total if total else 1.0


def _run(c: Chest) -> LungMasks:
    return lungs(c.hu, c.spacing, body_mask(c.hu, c.spacing))


@pytest.mark.parametrize("slice_mm", [1.5, 2.5, 5.0, 10.0])
def test_each_lung_matches_the_phantom_on_any_slice_thickness(slice_mm: float) -> None:
    c = chest(slice_mm)
    left, right = _run(c)
    assert dice(left, c.left) >= 0.95, f"left lung Dice {dice(left, c.left):.3f}"
    assert dice(right, c.right) >= 0.95, f"right lung Dice {dice(right, c.right):.3f}"
    assert not (left & right).any()
    assert (left | right)[c.vessels].mean() > 0.95, "vessels inside the lungs are lung"


def test_left_is_the_patients_left_whatever_the_column_direction() -> None:
    c = chest(5.0)
    left, right = _run(c)
    assert dice(left, c.left) >= 0.95 and dice(right, c.right) >= 0.95  # columns run to patient left
    # the same scan stored with columns running to the patient's right (x flipped in the affine)
    flipped = c.hu[:, :, ::-1]
    affine = np.zeros((4, 4))
    affine[0, 2], affine[1, 1], affine[2, 0], affine[3, 3] = -PIXEL_MM, PIXEL_MM, c.spacing[0], 1.0
    left_f, right_f = lungs(flipped, c.spacing, affine=affine)
    assert dice(left_f[:, :, ::-1], c.left) >= 0.95
    assert dice(right_f[:, :, ::-1], c.right) >= 0.95


@pytest.mark.parametrize("slice_mm", [2.5, 10.0])
def test_trachea_and_main_bronchi_are_not_lung(slice_mm: float) -> None:
    c = chest(slice_mm)
    both = lung_mask(c.hu, c.spacing)
    inside = both[c.airways].mean()
    # where a main bronchus enters the lung a few voxels of it stay lung, as on clinical contours
    assert inside < 0.15, f"{inside:.0%} of the trachea and main bronchi in the lungs"
    above_carina = np.arange(c.hu.shape[0]) * slice_mm >= 160.0
    assert not (both & c.airways)[above_carina].any(), "the trachea is lung"


def test_lungs_touching_at_the_anterior_junction_are_parted() -> None:
    c = chest(2.5, touching=True)
    assert (c.left[:, :, 1:] & c.right[:, :, :-1]).any(), "the phantom's lungs touch"
    left, right = _run(c)
    assert dice(left, c.left) >= 0.95, f"left lung Dice {dice(left, c.left):.3f}"
    assert dice(right, c.right) >= 0.95, f"right lung Dice {dice(right, c.right):.3f}"


def test_noise_of_a_sharp_kernel_does_not_change_the_lungs() -> None:
    c = chest(5.0, noise_hu=80.0)
    left, right = _run(c)
    assert dice(left, c.left) >= 0.95 and dice(right, c.right) >= 0.95


@pytest.mark.parametrize("slice_mm", [2.5, 5.0, 10.0])
def test_region_keeps_masses_against_the_wall_and_mediastinum(slice_mm: float) -> None:
    c = chest(slice_mm)
    masks = _run(c)
    region = lung_region(masks, c.spacing)
    assert region[c.wall_mass].mean() >= 0.95, f"wall mass {region[c.wall_mass].mean():.1%} inside"
    assert region[c.mediastinal_mass].mean() >= 0.95, f"mediastinal mass {region[c.mediastinal_mass].mean():.1%}"
    assert not region[c.table].any()
    assert region[c.heart].mean() < 0.6
    # a mask of both lungs gives the same region (the lungs are parted again)
    assert dice(lung_region(masks.left | masks.right, c.spacing), region) > 0.99


def test_large_mass_that_collapses_a_lung_is_in_the_region_and_the_lung_keeps_its_side() -> None:
    c = chest(5.0, big_mass=True)
    left, right = _run(c)
    assert dice(right, c.right) >= 0.95 and dice(left, c.left) >= 0.95
    region = lung_region(LungMasks(left, right), c.spacing)
    assert region[c.wall_mass].mean() >= 0.93, f"mass {region[c.wall_mass].mean():.1%} inside"


@pytest.mark.parametrize(
    "z_range",
    [(0.0, 30.0), (250.0, 275.0)],
    ids=["abdomen-below-the-lungs", "neck-above-the-lungs"],
)
def test_no_lung_outside_the_chest(z_range: tuple[float, float]) -> None:
    c = chest(2.5, z_range=z_range)
    left, right = _run(c)
    assert not left.any() and not right.any()
    assert not lung_region(LungMasks(left, right), c.spacing).any()


@pytest.mark.parametrize(
    "hu",
    [
        np.zeros((0, 8, 8), np.float32),
        np.full((1, 1, 1), -1000.0, np.float32),
        np.full((4, 32, 32), -1000.0, np.float32),
        np.full((4, 32, 32), 40.0, np.float32),
    ],
    ids=["no-slices", "one-voxel", "all-air", "all-water"],
)
def test_degenerate_volumes_give_empty_masks(hu: np.ndarray) -> None:
    spacing = (5.0, 1.5, 1.5)
    left, right = lungs(hu, spacing)
    assert left.shape == hu.shape and not left.any() and not right.any()
    assert not lung_region(LungMasks(left, right), spacing).any()
    assert not lung_region(left | right, spacing).any()
