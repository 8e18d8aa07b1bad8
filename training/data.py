"""Training data: phantom slabs and real-CT background slabs, lesion insertion, patch sampling.

Everything here is at the segmentation model's grid (SPACING) unless stated. The real
background is the lung_pet_ct_dx series restricted to slices far (>= 50 mm) from its
tumour, which stays held out for testing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from meddiag_desktop.inference.lung_mask import body_mask, lung_mask
from training import lesions, phantom

SPACING = (5.0, 1.5, 1.5)
CLIP_HU = (-1000.0, 500.0)
PATCH = (16, 96, 96)
CLS_SPACING = (5.0, 1.5, 1.5)
CLS_SIZE = (8, 32, 32)
REAL_SERIES = Path(__file__).resolve().parents[1].parent / "shared/corpus/lung_pet_ct_dx/A0001_philips_lungkernel_L"
REAL_BACKGROUND_SLICES = range(0, 32)  # tumour boxes are on slices 41-51 (5 mm apart)


@dataclass
class Slab:
    """A CT slab on the model grid with its lung mask, lesion label and lesion list."""

    hu: np.ndarray  # float32 (z, y, x)
    lung: np.ndarray
    label: np.ndarray
    lesions: list[lesions.LesionParams]
    coords: tuple[np.ndarray, np.ndarray, np.ndarray]
    source: str


def normalise(hu: np.ndarray) -> np.ndarray:
    lo, hi = CLIP_HU
    return ((np.clip(hu, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def load_ct_series(folder: Path) -> tuple[np.ndarray, tuple[float, float, float], list[str]]:
    """HU volume (z, y, x) sorted along the slice normal, spacing, and SOP UIDs."""
    datasets = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    iop = np.asarray(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda d: float(normal @ np.asarray(d.ImagePositionPatient, dtype=float)))
    hu = np.stack(
        [d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in datasets]
    )
    pos = [float(normal @ np.asarray(d.ImagePositionPatient, dtype=float)) for d in datasets]
    dz = float(np.median(np.diff(pos)))
    ps = [float(v) for v in datasets[0].PixelSpacing]
    return hu, (dz, ps[0], ps[1]), [str(d.SOPInstanceUID) for d in datasets]


def resample(hu: np.ndarray, spacing: tuple[float, ...], target: tuple[float, ...]) -> np.ndarray:
    img = sitk.GetImageFromArray(hu.astype(np.float32))
    img.SetSpacing((spacing[2], spacing[1], spacing[0]))
    size = [max(1, round(n * s / t)) for n, s, t in zip(hu.shape[::-1], spacing[::-1], target[::-1], strict=True)]
    out = sitk.Resample(
        img,
        size,
        sitk.Transform(),
        sitk.sitkLinear,
        img.GetOrigin(),
        (target[2], target[1], target[0]),
        img.GetDirection(),
        -1024.0,
        sitk.sitkFloat32,
    )
    return sitk.GetArrayFromImage(out)


def _coords(shape: tuple[int, ...], spacing: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = [np.arange(n) * s for n, s in zip(shape, spacing, strict=True)]
    return (c[0], c[1] - c[1].mean(), c[2] - c[2].mean())


def real_background_slabs() -> list[Slab]:
    """The real chest CT far from its tumour, on the model grid, plus its mirror image."""
    hu, spacing, _ = load_ct_series(REAL_SERIES)
    hu = hu[REAL_BACKGROUND_SLICES.start : REAL_BACKGROUND_SLICES.stop]
    out = []
    for arr in (hu, hu[:, :, ::-1]):
        res = resample(np.ascontiguousarray(arr), spacing, SPACING)
        body = body_mask(res, SPACING)
        lung = lung_mask(res, SPACING, body)
        out.append(Slab(res, lung, np.zeros(res.shape, bool), [], _coords(res.shape, SPACING), "real"))
    return out


def phantom_slab(rng: np.random.Generator, nz: int = 20, n_yx: int = 256, spacing=SPACING) -> Slab:
    """A phantom slab with 0-3 lesions inserted before the scanner simulation."""
    an = phantom.random_anatomy(rng)
    ss = 3
    zc = float(rng.choice([rng.uniform(an.dome_z - 60, an.apex_z + 40), rng.uniform(an.dome_z, an.apex_z - 20)]))
    z_sub = zc + (np.arange(nz * ss) - nz * ss / 2) * spacing[0] / ss
    hu, lung, coords = phantom.render_anatomy(rng, an, z_sub, (n_yx, n_yx), spacing[1:])
    label = np.zeros(hu.shape, dtype=bool)
    params = []
    for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
        d = lesions.random_diameter(rng)
        c = lesions.place_center(rng, lung, coords, d, attached=bool(rng.uniform() < 0.45))
        if c is None:
            continue
        p = lesions.random_lesion(rng, c, d)
        lesions.insert(hu, lung, label, coords, p, rng, z_sub=1)
        params.append(p)
    out = phantom.scanner(rng, hu, ss, spacing[1:])
    z = coords[0].reshape(nz, ss).mean(1)
    return Slab(
        out, phantom.reduce_mask(lung, ss), phantom.reduce_mask(label, ss), params, (z, coords[1], coords[2]), "phantom"
    )


def _crop_start(
    rng: np.random.Generator, shape: tuple[int, ...], size: tuple[int, ...], center: np.ndarray | None
) -> list[int]:
    out = []
    for n, s, i in zip(shape, size, range(3), strict=True):
        if center is None:
            out.append(int(rng.integers(0, max(1, n - s + 1))))
        else:
            c = int(center[i]) + int(rng.integers(-s // 3, s // 3 + 1))
            out.append(int(np.clip(c - s // 2, 0, max(0, n - s))))
    return out


def _pad_to(a: np.ndarray, size: tuple[int, ...], value: float) -> np.ndarray:
    pad = [(0, max(0, s - n)) for n, s in zip(a.shape, size, strict=True)]
    return np.pad(a, pad, constant_values=value) if any(p[1] for p in pad) else a


def sample_patch(
    rng: np.random.Generator,
    slab: Slab,
    extra_lesions: int,
    attached_p: float = 0.5,
    big_p: float = 0.0,
    extra_noise: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A (normalised image, label) training patch, with on-the-fly lesions inserted.

    ``attached_p``: probability a new lesion sits on the lung border (pleura, hilum,
    mediastinum); ``big_p``: probability of a 30-80 mm mass; ``extra_noise``: up to this
    much extra white noise (HU) to mimic sharp lung kernels.
    """
    u = rng.uniform()
    center = None
    if slab.label.any() and u < 0.5:
        idx = np.argwhere(slab.label)
        center = idx[rng.integers(len(idx))]
    elif u < 0.8:
        dense = np.argwhere(slab.hu[:, ::4, ::4] > -500) * np.array([1, 4, 4])
        center = dense[rng.integers(len(dense))] if len(dense) else None
    s = _crop_start(rng, slab.hu.shape, PATCH, center)
    sl = tuple(slice(a, a + n) for a, n in zip(s, PATCH, strict=True))
    hu = _pad_to(slab.hu[sl].copy(), PATCH, -1024.0)
    lung = _pad_to(slab.lung[sl], PATCH, 0)
    label = _pad_to(slab.label[sl].copy(), PATCH, 0)
    coords = tuple(np.arange(n) * sp for n, sp in zip(PATCH, SPACING, strict=True))
    for _ in range(extra_lesions):
        if rng.uniform() < big_p:
            d = float(rng.uniform(30, 80))
        else:
            d = lesions.random_diameter(rng) * (0.6 if rng.uniform() < 0.5 else 1.0)
        c = lesions.place_center(rng, lung, coords, d, attached=bool(rng.uniform() < attached_p))
        if c is not None:
            p = lesions.random_lesion(rng, c, d)
            lesions.insert(hu, lung, label, coords, p, rng, z_sub=5, noise_sd=float(rng.uniform(5, 25)))
    if rng.uniform() < 0.5:
        hu, label = hu[:, :, ::-1], label[:, :, ::-1]
    hu = hu * float(rng.uniform(0.97, 1.03)) + float(rng.uniform(-20, 20))
    if extra_noise > 0:
        hu = hu + rng.normal(0.0, float(rng.uniform(0, extra_noise)), hu.shape).astype(np.float32)
    return normalise(hu), np.ascontiguousarray(label)


def classifier_crop(rng: np.random.Generator, slab: Slab, jitter_mm: float = 3.0) -> tuple[np.ndarray, int] | None:
    """A CLS_SIZE crop around a lesion newly inserted into ``slab`` (not in place)."""
    d = lesions.random_diameter(rng)
    c = lesions.place_center(rng, slab.lung, slab.coords, d, attached=bool(rng.uniform() < 0.4))
    if c is None:
        return None
    p = lesions.random_lesion(rng, c, d)
    half = np.array(CLS_SIZE) // 2
    ci = np.round((c - np.array([slab.coords[i][0] for i in range(3)])) / np.array(SPACING)).astype(int)
    lo = ci - half - 4
    sl = tuple(slice(max(0, a), max(0, a) + n + 8) for a, n in zip(lo, CLS_SIZE, strict=True))
    hu = slab.hu[sl].copy()
    lung = slab.lung[sl]
    if hu.shape != tuple(n + 8 for n in CLS_SIZE):
        return None
    coords = tuple(slab.coords[i][sl[i]] for i in range(3))
    label = np.zeros(hu.shape, bool)
    lesions.insert(hu, lung, label, coords, p, rng, z_sub=5, noise_sd=float(rng.uniform(5, 25)))
    if not label.any():
        return None
    cen = np.argwhere(label).mean(0) + rng.normal(0, jitter_mm, 3) / np.array(SPACING)
    s = [int(np.clip(round(cen[i]) - CLS_SIZE[i] // 2, 0, hu.shape[i] - CLS_SIZE[i])) for i in range(3)]
    crop = hu[s[0] : s[0] + CLS_SIZE[0], s[1] : s[1] + CLS_SIZE[1], s[2] : s[2] + CLS_SIZE[2]]
    return normalise(crop), p.label
