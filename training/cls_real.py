"""The lesion density classifier (solid vs sub-solid), trained on real chest CT backgrounds.

The first classifier learned from phantom lungs and called every real tumour "sub-solid" with
p >= 0.95. This one sees the real lung parenchyma, vessels and walls of the corpus scans:

- synthetic lesions (solid, part-solid, ground-glass; 5-45 mm) inserted into the real lungs
  of the training patients, labelled by construction;
- the real tumours of the training patients (solid: the GTVs, and the A0001 mass centre),
  cropped around their centres with jitter, labelled solid.

There is no real sub-solid lesion in the corpus, so the sub-solid class is validated on
synthetic lesions only; the manifest and card say so, and the app shows it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from training import lesions
from training.seg25d import components, normalise
from training.train import train_classifier

if TYPE_CHECKING:
    from training.nets import CropClassifier
    from training.real_data import GridCase

log = logging.getLogger(__name__)

CROP = (16, 32, 32)  # on the 2.5 x 1.5 x 1.5 mm grid: 40 x 48 x 48 mm
SOLID, SUBSOLID = 0, 1


def _crop(hu: np.ndarray, centre: np.ndarray) -> np.ndarray | None:
    start = [round(c) - n // 2 for c, n in zip(centre, CROP, strict=True)]
    if any(s < 0 or s + n > m for s, n, m in zip(start, CROP, hu.shape, strict=True)):
        return None
    return hu[tuple(slice(s, s + n) for s, n in zip(start, CROP, strict=True))]


_PLACEMENTS: dict[tuple[str, str, tuple[int, ...]], lesions.Placement] = {}


def _placement(case: GridCase, coords: tuple[np.ndarray, ...]) -> lesions.Placement:
    """The case's lesion placement map, computed once per case (a whole-lung distance map is slow)."""
    key = (case.name, case.variant, case.lung.shape)
    if key not in _PLACEMENTS:
        _PLACEMENTS[key] = lesions.Placement(case.lung, coords)
    return _PLACEMENTS[key]


def synthetic_crop(rng: np.random.Generator, case: GridCase) -> tuple[np.ndarray, int] | None:
    """A crop around a lesion newly inserted into the real lung of ``case``."""
    d = float(np.clip(lesions.random_diameter(rng), 5, 45))
    coords = tuple(np.arange(n) * s for n, s in zip(case.hu.shape, case.spacing, strict=True))
    c = _placement(case, coords).sample(rng, d, attached=bool(rng.uniform() < 0.4))
    if c is None:
        return None
    p = lesions.random_lesion(rng, c, d)
    centre = c / np.asarray(case.spacing)
    window = tuple(
        slice(max(0, round(ci) - n), min(m, round(ci) + n))
        for ci, n, m in zip(centre, CROP, case.hu.shape, strict=True)
    )
    hu = case.hu[window].copy()
    local = tuple(coords[i][window[i]] for i in range(3))
    label = np.zeros(hu.shape, dtype=bool)
    lesions.insert(hu, case.lung[window], label, local, p, rng, z_sub=2, noise_sd=float(rng.uniform(5, 25)))
    if not label.any():
        return None
    jitter = rng.normal(0, 2.0, 3) / np.asarray(case.spacing)
    crop = _crop(hu, np.argwhere(label).mean(axis=0) + jitter)
    return (crop, p.label) if crop is not None else None


def real_tumour_crops(rng: np.random.Generator, case: GridCase, n: int) -> list[tuple[np.ndarray, int]]:
    """Crops around the centres of the case's real tumours (all solid), with jitter."""
    labels, count = components(case.lesion)
    out = []
    for k in range(1, count + 1):
        idx = np.argwhere(labels == k)
        if len(idx) * float(np.prod(case.spacing)) < 500:  # < 0.5 mL: a fragment
            continue
        for _ in range(n):
            centre = idx.mean(axis=0) + rng.normal(0, 3.0, 3) / np.asarray(case.spacing)
            crop = _crop(case.hu, centre)
            if crop is not None:
                out.append((crop, SOLID))
    return out


def crop_set(
    rng: np.random.Generator, cases: list[GridCase], n_synthetic: int, real_per_tumour: int
) -> tuple[np.ndarray, np.ndarray]:
    items: list[tuple[np.ndarray, int]] = []
    while len(items) < n_synthetic:
        got = synthetic_crop(rng, cases[int(rng.integers(len(cases)))])
        if got is not None:
            items.append(got)
    for case in cases:
        if case.variant == "native":
            items += real_tumour_crops(rng, case, real_per_tumour)
    x = np.stack([normalise(c) for c, _ in items])[:, None]
    y = np.asarray([label for _, label in items], dtype=np.int64)
    return x.astype(np.float32), y


@torch.no_grad()
def probabilities(model: CropClassifier, x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    logits = model(torch.from_numpy(x)).numpy() / temperature
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    from training.train import fit_temperature

    return fit_temperature(logits, labels)


@torch.no_grad()
def _logits(model: CropClassifier, x: np.ndarray) -> np.ndarray:
    return model(torch.from_numpy(x)).numpy()


def _auc(p: np.ndarray, y: np.ndarray) -> float | None:
    from training.evaluate import auc

    return auc(p, y)


def final_classifier(
    cases: list[GridCase], n_synthetic: int, real_per_tumour: int, epochs: int, seed: int
) -> tuple[CropClassifier, float, dict[str, object]]:
    """Train on every case; fit the temperature and report on held-out synthetic crops."""
    rng = np.random.default_rng(seed)
    x, y = crop_set(rng, cases, n_synthetic, real_per_tumour)
    calib_x, calib_y = crop_set(rng, cases, n_synthetic // 4, 0)
    test_x, test_y = crop_set(rng, cases, n_synthetic // 4, 0)
    model = train_classifier(x, y, epochs, seed)
    temperature = _fit_temperature(_logits(model, calib_x), calib_y)
    p = probabilities(model, test_x, temperature)
    from training.evaluate import ece

    heldout = {
        "n": len(test_y),
        "subsolid_fraction": round(float(test_y.mean()), 3),
        "auc": _auc(p[:, SUBSOLID], test_y),
        "accuracy": round(float((p.argmax(1) == test_y).mean()), 3),
        "ece_uncalibrated": round(ece(probabilities(model, test_x), test_y), 4),
        "ece_calibrated": round(ece(p, test_y), 4),
    }
    return model, temperature, heldout


def leave_one_patient_out(
    cases_of: object, n_synthetic: int, real_per_tumour: int, epochs: int, seed: int
) -> dict[str, object]:
    """For each patient with real tumours: train without it, classify its tumour centres."""
    from training import real_data

    per_patient: dict[str, object] = {}
    for held in real_data.PATIENTS:
        test = [c for c in cases_of((held,)) if c.variant == "native"]  # type: ignore[operator]
        crops = [crop for c in test for crop in real_tumour_crops(np.random.default_rng(seed), c, 5)]
        if not crops:
            per_patient[held] = "no outlined tumour (boxes only)"
            continue
        train = cases_of(tuple(p for p in real_data.PATIENTS if p != held))  # type: ignore[operator]
        model, temperature, _ = final_classifier(train, n_synthetic, real_per_tumour, epochs, seed)
        x = np.stack([normalise(c) for c, _ in crops])[:, None].astype(np.float32)
        p_solid = probabilities(model, x, temperature)[:, SOLID]
        per_patient[held] = {
            "crops": len(crops),
            "called_solid": int((p_solid >= 0.5).sum()),
            "p_solid_median": round(float(np.median(p_solid)), 3),
            "p_solid_min": round(float(p_solid.min()), 3),
        }
        log.info("classifier fold %s: %s", held, per_patient[held])
    return {"real_tumours_leave_one_patient_out": per_patient}
