"""Procedurally generated chest CT phantoms with realistic HU, partial volume and noise.

A phantom is described in patient millimetres (x: patient left, y: posterior, z: superior),
so the same description can be rendered at any voxel grid. The anatomy varies with z:
neck/shoulders and axillae at the top, lungs with vessels, mediastinum, heart, aorta,
trachea, spine and ribs in the chest, diaphragm domes with liver, stomach and bowel gas
below, and the patient table under the back. Scanner effects (slice thickness, kernel
blur, noise) are applied after lesions are inserted so lesions get the same partial volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

AIR = -1000.0
FAT = -100.0
SOFT = 40.0
LUNG = -860.0


@dataclass(frozen=True)
class Anatomy:
    """Random per-patient shape parameters (mm)."""

    body_a: float  # lateral semi-axis
    body_b: float  # AP semi-axis
    fat: float  # subcutaneous fat thickness
    dome_z: float  # top of the diaphragm domes
    apex_z: float  # lung apex
    lung_scale: float
    heart_dx: float
    aorta_hu: float
    table_gap: float
    table_hu: float
    lung_hu: float
    y_shift: float


def random_anatomy(rng: np.random.Generator) -> Anatomy:
    return Anatomy(
        body_a=float(rng.uniform(135, 190)),
        body_b=float(rng.uniform(95, 135)),
        fat=float(rng.uniform(4, 30)),
        dome_z=float(rng.uniform(-20, 20)),
        apex_z=float(rng.uniform(200, 240)),
        lung_scale=float(rng.uniform(0.85, 1.05)),
        heart_dx=float(rng.uniform(10, 40)),
        aorta_hu=float(rng.choice([40.0, rng.uniform(120, 300)])),
        table_gap=float(rng.uniform(2, 40)),
        table_hu=float(rng.uniform(-200, 300)),
        lung_hu=float(rng.uniform(-900, -800)),
        y_shift=float(rng.uniform(-20, 20)),
    )


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, a: float, b: float) -> np.ndarray:
    return ((x - cx) / max(a, 1e-3)) ** 2 + ((y - cy) / max(b, 1e-3)) ** 2 <= 1.0


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    img = sitk.GetImageFromArray(rng.standard_normal(shape).astype(np.float32))
    out = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(img, sigma))
    return out / max(float(out.std()), 1e-6)


def _slice_anatomy(an: Anatomy, z: float, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return (hu, lung, lung_candidate) for one axial slice at height z (mm)."""
    neck = np.clip((z - (an.apex_z - 20)) / 60.0, 0, 1)  # 0 in chest, 1 in neck
    shoulders = np.clip(1 - abs(z - (an.apex_z - 40)) / 70.0, 0, 1)
    a = an.body_a * (1 - 0.5 * neck) + 25 * shoulders
    b = an.body_b * (1 - 0.35 * neck)
    cy = an.y_shift
    hu = np.full(x.shape, AIR, dtype=np.float32)
    body = _ellipse(x, y, 0, cy, a, b)
    hu[body] = FAT
    inner_a, inner_b = a - an.fat, b - an.fat * 0.8
    muscle = _ellipse(x, y, 0, cy, inner_a, inner_b)
    hu[muscle] = SOFT + 15
    cav_a, cav_b = inner_a - 12, inner_b - 10
    cavity = _ellipse(x, y, 0, cy, cav_a, cav_b)
    hu[cavity] = SOFT
    # arms beside the body at shoulder level (axilla: fat between arm and chest wall)
    if shoulders > 0.2:
        for side in (-1, 1):
            ax = side * (a + 30 + 20 * shoulders)
            arm = _ellipse(x, y, ax, cy, 40, 45)
            hu[arm] = FAT
            hu[_ellipse(x, y, ax, cy, 30, 35)] = SOFT + 10
            hu[_ellipse(x, y, ax, cy, 10, 10)] = 700
            hu[_ellipse(x, y, side * (a - 5), cy, 35 * shoulders, 30)] = FAT + 20
    # ribs: a ring at the cavity edge, present on bands that slant with z
    ang = np.arctan2(y - cy, x)
    ring = _ellipse(x, y, 0, cy, cav_a + 7, cav_b + 7) & ~cavity
    rib_on = np.cos(2 * np.pi * (z / 22.0 + 0.25 * np.abs(ang))) > 0.2
    hu[ring & rib_on & (neck < 0.8)] = 500
    # spine: vertebral body, cortex and canal, posterior midline
    sy = cy + cav_b - 22
    hu[_ellipse(x, y, 0, sy, 19, 17)] = 650
    hu[_ellipse(x, y, 0, sy, 16, 14)] = 230
    hu[_ellipse(x, y, 0, sy + 26, 9, 8)] = 25
    hu[_ellipse(x, y, 0, sy + 26, 14, 12) & ~_ellipse(x, y, 0, sy + 26, 9, 8)] = 600
    lung = np.zeros(x.shape, dtype=bool)
    if z < an.apex_z:
        taper = np.sqrt(np.clip(1 - ((z - an.dome_z) / (an.apex_z - an.dome_z + 1e-3)) ** 4, 0, 1))
        for side in (-1, 1):
            lx = side * cav_a * 0.48
            la, lb = cav_a * 0.42 * an.lung_scale * taper, cav_b * 0.80 * an.lung_scale * taper
            r2 = ((x - lx) / max(la, 1)) ** 2 + ((y - cy + 5) / max(lb, 1)) ** 2
            dome = an.dome_z + (8 if side < 0 else 0) - 70 * r2  # recesses go lower
            lung |= (r2 <= 1.0) & (z > dome) & cavity
        med = _ellipse(x, y, 0, cy - 10, cav_a * 0.22, cav_b * 0.95)
        lung &= ~med
    lung &= ~_ellipse(x, y, 0, sy, 24, 22)
    hu[lung] = an.lung_hu
    # mediastinum: heart (lower chest), aorta, trachea
    hz = an.dome_z + 10
    if hz - 20 < z < hz + 110:
        k = 1 - ((z - (hz + 45)) / 70.0) ** 2
        if k > 0:
            h = _ellipse(x, y, an.heart_dx, cy - 15, 65 * np.sqrt(k), 50 * np.sqrt(k))
            hu[h] = SOFT
            lung[h] = False
            hu[h & ~_ellipse(x, y, an.heart_dx, cy - 15, 61 * np.sqrt(k), 46 * np.sqrt(k))] = FAT
    if z > hz + 40:
        ao = _ellipse(x, y, 18, sy - 28, 13, 13)
        hu[ao] = an.aorta_hu
        lung[ao] = False
    if z > hz + 110:
        ao2 = _ellipse(x, y, 0, cy - 35, 14, 14)
        hu[ao2] = an.aorta_hu
        lung[ao2] = False
    if z > hz + 90:
        tr = _ellipse(x, y, 0, cy - 20 + 0.1 * (z - hz), 10, 9)
        hu[tr & ~_ellipse(x, y, 0, cy - 20 + 0.1 * (z - hz), 8, 7)] = SOFT
        hu[_ellipse(x, y, 0, cy - 20 + 0.1 * (z - hz), 8, 7)] = AIR
    # abdomen below the domes: liver (right), stomach with gas (left), bowel loops
    below = cavity & ~lung & (hu == an.lung_hu)
    hu[below] = SOFT
    if z < an.dome_z + 5:
        liver = cavity & (x < 20) & ~lung & (hu > -200) & (hu < 100)
        hu[liver] = 60
    return hu, lung, cavity


def _vessels(
    rng: np.random.Generator,
    hu: np.ndarray,
    lung: np.ndarray,
    coords: tuple[np.ndarray, np.ndarray, np.ndarray],
    an: Anatomy,
) -> None:
    """Draw tapering vessel trees from each hilum into the lungs (in place)."""
    zc, yc, xc = coords
    dz, dy, dx = (zc[1] - zc[0]) if len(zc) > 1 else 1.0, yc[1] - yc[0], xc[1] - xc[0]
    z_mid = float(np.clip(0.5 * (zc[0] + zc[-1]), an.dome_z + 20, an.apex_z - 40))
    for side in (-1, 1):
        for _ in range(int(rng.integers(20, 40))):
            p = np.array([z_mid + rng.uniform(-60, 60), an.y_shift + rng.uniform(-30, 10), side * rng.uniform(25, 45)])
            radius = rng.uniform(2.0, 5.0)
            direction = rng.standard_normal(3)
            direction[2] = side * abs(direction[2]) + side * 0.6
            for _seg in range(int(rng.integers(4, 9))):
                direction = direction / np.linalg.norm(direction) + 0.5 * rng.standard_normal(3)
                direction /= np.linalg.norm(direction)
                q = p + direction * rng.uniform(12, 30)
                _draw_segment(hu, lung, coords, (dz, dy, dx), p, q, radius)
                p, radius = q, max(0.6, radius * rng.uniform(0.6, 0.85))
    idx = np.argwhere(lung[:, ::3, ::3]) * np.array([1, 3, 3])
    for _ in range(int(rng.integers(60, 220)) if len(idx) else 0):
        i = idx[rng.integers(len(idx))]
        p = np.array([zc[i[0]], yc[i[1]], xc[i[2]]])
        q = p + _unit3(rng) * rng.uniform(8, 30)
        _draw_segment(hu, lung, coords, (dz, dy, dx), p, q, float(rng.uniform(0.6, 2.2)))


def _unit3(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _draw_segment(
    hu: np.ndarray,
    lung: np.ndarray,
    coords: tuple[np.ndarray, np.ndarray, np.ndarray],
    steps: tuple[float, float, float],
    p: np.ndarray,
    q: np.ndarray,
    radius: float,
) -> None:
    lo, hi = np.minimum(p, q) - radius - 1, np.maximum(p, q) + radius + 1
    sl = []
    for axis, c in enumerate(coords):
        i0 = int(np.searchsorted(c, lo[axis]))
        i1 = int(np.searchsorted(c, hi[axis]))
        if i1 <= i0:
            return
        sl.append(slice(i0, i1))
    zz, yy, xx = np.meshgrid(coords[0][sl[0]], coords[1][sl[1]], coords[2][sl[2]], indexing="ij")
    pts = np.stack([zz, yy, xx], -1)
    d = q - p
    t = np.clip(((pts - p) @ d) / max(float(d @ d), 1e-6), 0, 1)
    dist = np.linalg.norm(pts - (p + t[..., None] * d), axis=-1)
    region = (dist <= radius) & lung[sl[0], sl[1], sl[2]]
    hu[sl[0], sl[1], sl[2]][region] = 40.0


def _bowel(rng: np.random.Generator, hu: np.ndarray, coords: tuple[np.ndarray, ...], an: Anatomy) -> None:
    """Gas-filled bowel/stomach loops with soft-tissue walls below the diaphragm."""
    zc, yc, xc = coords
    for _ in range(int(rng.integers(3, 12))):
        c = np.array(
            [
                rng.uniform(zc[0] - 40, min(zc[-1], an.dome_z - 5)),
                an.y_shift + rng.uniform(-70, 40),
                rng.uniform(-90, 110),
            ]
        )
        r = rng.uniform(6, 25)
        zz, yy, xx = np.meshgrid(zc, yc, xc, indexing="ij")
        d = np.sqrt(((zz - c[0]) / 1.5) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2)
        soft = (hu > -150) & (hu < 100)
        hu[(d <= r + 3) & soft] = 55
        hu[(d <= r) & soft & (zz <= c[0] + r * 0.2)] = AIR + 30


def _table(hu: np.ndarray, x: np.ndarray, y: np.ndarray, an: Anatomy) -> None:
    top = an.y_shift + an.body_b + an.table_gap + 0.0008 * x**2
    band = (y >= top) & (y <= top + 6)
    hu[:, band] = an.table_hu
    hu[:, (y >= top + 25) & (y <= top + 28) & (np.abs(x) < 200)] = 200


@dataclass
class Phantom:
    """A rendered phantom on a regular grid: HU, lung mask and lesion label."""

    hu: np.ndarray
    lung: np.ndarray
    spacing: tuple[float, float, float]
    z_mm: np.ndarray


def render_anatomy(
    rng: np.random.Generator,
    an: Anatomy,
    z_mm: np.ndarray,
    shape_yx: tuple[int, int],
    spacing_yx: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Noise-free anatomy at the given slice positions; returns (hu, lung, coords)."""
    yc = (np.arange(shape_yx[0]) - (shape_yx[0] - 1) / 2) * spacing_yx[0]
    xc = (np.arange(shape_yx[1]) - (shape_yx[1] - 1) / 2) * spacing_yx[1]
    y, x = np.meshgrid(yc, xc, indexing="ij")
    slices = [_slice_anatomy(an, float(z), x, y) for z in z_mm]
    hu = np.stack([s[0] for s in slices])
    lung = np.stack([s[1] for s in slices])
    texture = _smooth_noise(rng, hu.shape, 2.0)
    gravity = 40.0 * (y - an.y_shift) / an.body_b
    hu = np.where(lung, hu + 25.0 * texture + gravity[None], hu)
    coords = (np.asarray(z_mm, dtype=np.float64), yc, xc)
    _vessels(rng, hu, lung, coords, an)
    if z_mm.min() < an.dome_z + 10:
        _bowel(rng, hu, coords, an)
    _table(hu, x, y, an)
    return hu.astype(np.float32), lung, coords


def scanner(
    rng: np.random.Generator,
    hu: np.ndarray,
    ss: int,
    spacing_yx: tuple[float, float],
) -> np.ndarray:
    """Simulate thickness (average ``k`` of ``ss`` sub-slices), kernel blur and noise."""
    k = int(rng.integers(max(1, ss // 2), ss + 1))
    nz = hu.shape[0] // ss
    sub = hu[: nz * ss].reshape(nz, ss, *hu.shape[1:])
    start = (ss - k) // 2
    out = sub[:, start : start + k].mean(axis=1)
    sigma_mm = float(rng.uniform(0.3, 1.0))
    img = sitk.GetImageFromArray(out.astype(np.float32))
    img.SetSpacing((spacing_yx[1], spacing_yx[0], 100.0))
    out = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(img, [sigma_mm, sigma_mm, 0.01]))
    noise_sd = float(rng.uniform(6, 35))
    noise = rng.standard_normal(out.shape).astype(np.float32)
    nimg = sitk.GetImageFromArray(noise)
    nimg.SetSpacing((spacing_yx[1], spacing_yx[0], 100.0))
    noise = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(nimg, [0.6, 0.6, 0.01]))
    noise *= noise_sd / max(float(noise.std()), 1e-6)
    return np.clip(out + noise, -1024, 3071).astype(np.float32)


def reduce_mask(mask: np.ndarray, ss: int) -> np.ndarray:
    """Sub-slice mask -> slice mask by majority (partial volume >= 50 %)."""
    nz = mask.shape[0] // ss
    return mask[: nz * ss].reshape(nz, ss, *mask.shape[1:]).mean(axis=1) >= 0.5
