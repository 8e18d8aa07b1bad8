"""Real tumours pasted against the lung border of other real chest CTs (a training augmentation).

A fold sees two or three outlined real tumours. The simulated lesions are smooth shapes with a
noise texture, and the fold that must find the 367 mL LUNG1-002 mass never sees a solid mass
with mostly soft tissue around it: it takes such a mass for mediastinum. Pasting the fold's own
real tumours, mirrored, turned and rescaled, onto the pleura, hilum and mediastinum of the
other scans shows the network real tumour texture (heterogeneous density, necrosis, spiculated
margins) in places it has not seen it. A tumour is pasted only over aerated lung and the lung's
border (2 mm), as a mass that grows into the lung and pushes it aside; never over bone, fat, the
oesophagus or inside solid organs (a first try pasted over fat and put tumours into the
subcutaneous fat of the chest wall). What is pasted is labelled as lesion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from training import lesions

if TYPE_CHECKING:
    from training.real_data import GridCase

MIN_ML = 1.0
SCALE = (0.7, 1.5)  # of the tumour's size; 1.5 turns the 160 mL LUNG1-001 tumour into a 540 mL mass
HU_SHIFT = 20.0
MIN_VISIBLE = 0.3  # share of the tumour that must land on lung or the lung's border
BONE_HU = 150.0


@dataclass(frozen=True)
class TumourCrop:
    """One outlined real tumour on the model grid, cut out with a margin."""

    source: str
    hu: np.ndarray  # float32
    mask: np.ndarray  # bool, same shape


def tumour_crops(cases: list[GridCase], margin: int = 2) -> list[TumourCrop]:
    """Every outlined tumour of at least ``MIN_ML`` in the cases as acquired."""
    out = []
    for case in cases:
        if case.variant != "native":
            continue
        labels, _ = ndimage.label(case.lesion)
        voxel_ml = float(np.prod(case.spacing)) / 1000.0
        for i, box in enumerate(ndimage.find_objects(labels), start=1):
            if box is None or float((labels[box] == i).sum()) * voxel_ml < MIN_ML:
                continue
            grown = tuple(
                slice(max(0, s.start - margin), min(size, s.stop + margin))
                for s, size in zip(box, case.lesion.shape, strict=True)
            )
            out.append(TumourCrop(case.name, case.hu[grown].astype(np.float32), labels[grown] == i))
    return out


def transformed(crop: TumourCrop, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The tumour mirrored, turned by a multiple of 90 degrees in-plane and rescaled: (hu, alpha)."""
    hu, mask = crop.hu, crop.mask.astype(np.float32)
    for axis in range(3):
        if rng.uniform() < 0.5:
            hu, mask = np.flip(hu, axis), np.flip(mask, axis)
    turns = int(rng.integers(4))
    hu, mask = np.rot90(hu, turns, axes=(1, 2)), np.rot90(mask, turns, axes=(1, 2))
    scale = float(rng.uniform(*SCALE))
    hu = ndimage.zoom(np.ascontiguousarray(hu), scale, order=1)
    alpha = ndimage.gaussian_filter(ndimage.zoom(np.ascontiguousarray(mask), scale, order=1), 0.6)
    return hu.astype(np.float32), np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _window(centre: np.ndarray, shape: tuple[int, ...], bounds: tuple[int, ...]) -> tuple[tuple[slice, ...], ...]:
    """Where a crop of ``shape`` centred on ``centre`` lands in an array of ``bounds``: (target, source)."""
    target, source = [], []
    for c, n, size in zip(centre, shape, bounds, strict=True):
        start = round(float(c)) - n // 2
        lo, hi = max(0, start), min(size, start + n)
        if hi <= lo:
            return (), ()
        target.append(slice(lo, hi))
        source.append(slice(lo - start, hi - start))
    return tuple(target), tuple(source)


def paste(
    hu: np.ndarray,
    lung: np.ndarray,
    label: np.ndarray,
    spacing: tuple[float, float, float],
    crop: TumourCrop,
    rng: np.random.Generator,
) -> bool:
    """Paste ``crop`` (transformed) on the lung border near the middle slice of ``hu``; in place.

    Returns False, changing nothing, when the chunk has no lung border there or too little of
    the tumour would show.
    """
    mid = hu.shape[0] // 2
    near_middle = np.zeros_like(lung)
    near_middle[mid - 1 : mid + 2] = lung[mid - 1 : mid + 2]
    coords = tuple(np.arange(n) * s for n, s in zip(hu.shape, spacing, strict=True))
    t_hu, alpha = transformed(crop, rng)
    diameter = float(np.cbrt(6.0 * float((alpha >= 0.5).sum()) * float(np.prod(spacing)) / np.pi))
    centre_mm = lesions.place_center(rng, near_middle, coords, diameter, attached=True)
    if centre_mm is None:
        return False
    offset = np.array(alpha.shape) / 2.0 - np.array(ndimage.center_of_mass(alpha >= 0.5))
    target, source = _window(centre_mm / np.array(spacing) + offset, alpha.shape, hu.shape)
    if not target:
        return False
    old = hu[target]
    shows = lesions.lung_near(lung[target], (spacing[1], spacing[2])) & (old < BONE_HU)
    a = alpha[source] * shows
    if float((a >= 0.5).sum()) < MIN_VISIBLE * float((alpha >= 0.5).sum()):
        return False
    value = t_hu[source] + float(rng.uniform(-HU_SHIFT, HU_SHIFT))
    hu[target] = (old * (1 - a) + value * a).astype(hu.dtype)
    label[target] |= a >= 0.5
    return True
