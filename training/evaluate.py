"""Held-out synthetic evaluation through the real runtime pipeline (meddiag_desktop.inference).

* Synthetic test scans: new phantoms (seed not used anywhere else) rendered at native grids
  (2.5-5 mm slices, 0.9 mm pixels), with lesions, plus lesion-free scans for false positives.
* Classical baseline (lung mask + soft-tissue components) on the same scans; also used on the
  real patients by ``package25d``.
* Calibration helpers (AUC, ECE) shared with the classifier stage.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pydicom

from meddiag_desktop.core.volume import Volume, affine_from_dicom
from meddiag_desktop.inference._sitk import sitk
from meddiag_desktop.inference.analyze import analyze_volume
from meddiag_desktop.inference.findings import components
from meddiag_desktop.inference.lung_mask import body_mask, lung_mask
from meddiag_desktop.inference.resample import covering_grid, from_grid, to_grid
from training import lesions, phantom

if TYPE_CHECKING:
    from meddiag_desktop.inference.registry import ModelRegistry

log = logging.getLogger(__name__)

BASELINE_SPACING = (5.0, 1.5, 1.5)  # the classical detector's grid
REAL_SERIES = Path(__file__).resolve().parents[2] / "shared/corpus/lung_pet_ct_dx/A0001_philips_lungkernel_L"

TEST_SEED = 777_000


@dataclass
class TestScan:
    volume: Volume
    gt: np.ndarray  # int16 lesion ids on the native grid (0 = background)
    diameters: dict[int, float]
    attached: dict[int, bool]
    kinds: dict[int, str]


def make_test_scan(rng: np.random.Generator, n_lesions: int) -> TestScan:
    an = phantom.random_anatomy(rng)
    dz = float(rng.choice([2.5, 3.0, 5.0]))
    ss = 3 if dz >= 5 else 2
    nz, n_yx, pix = round(100 / dz), 448, 0.9
    zc = (
        float(rng.uniform(an.dome_z + 10, an.apex_z - 50))
        if n_lesions
        else float(rng.choice([rng.uniform(an.dome_z - 70, an.dome_z), rng.uniform(an.apex_z - 20, an.apex_z + 40)]))
    )
    z_sub = zc + (np.arange(nz * ss) - nz * ss / 2) * dz / ss
    hu, lung, coords = phantom.render_anatomy(rng, an, z_sub, (n_yx, n_yx), (pix, pix))
    gt_sub = np.zeros(hu.shape, np.int16)
    diam, att, kinds = {}, {}, {}
    for i in range(1, n_lesions + 1):
        d = lesions.random_diameter(rng)
        attached = bool(rng.uniform() < 0.45)
        c = lesions.place_center(rng, lung, coords, d, attached)
        if c is None:
            continue
        p = lesions.random_lesion(rng, c, d)
        lab = np.zeros(hu.shape, bool)
        lesions.insert(hu, lung, lab, coords, p, rng, z_sub=1)
        gt_sub[lab & (gt_sub == 0)] = i
        diam[i], att[i], kinds[i] = d, attached, p.kind
    img = phantom.scanner(rng, hu, ss, (pix, pix))
    gt = np.zeros(img.shape, np.int16)
    for i in diam:
        gt[phantom.reduce_mask(gt_sub == i, ss) & (gt == 0)] = i
    z_mm = coords[0].reshape(nz, ss).mean(1)
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = dz, pix, pix, 1.0
    affine[:3, 3] = (coords[2][0], coords[1][0], z_mm[0])
    vol = Volume(
        array=np.round(img).astype(np.int16),
        affine=affine,
        modality="CT",
        series_instance_uid=f"2.25.{rng.integers(1 << 60)}",
    )
    keep = {i for i in diam if (gt == i).any()}
    return TestScan(vol, gt, {i: diam[i] for i in keep}, {i: att[i] for i in keep}, {i: kinds[i] for i in keep})


def baseline_masks(vol: Volume) -> np.ndarray:
    """Classical detector: soft tissue inside the (hole-filled) lung mask, vessels opened away."""
    grid = covering_grid(vol.affine, vol.shape, BASELINE_SPACING)
    hu = to_grid(vol.array, vol.affine, grid, fill=-1024.0)
    lungs = lung_mask(hu, grid.spacing, body_mask(hu, grid.spacing))
    cand = lungs & (hu > -500)
    img = sitk.GetImageFromArray(cand.astype(np.uint8))
    opened = sitk.GetArrayFromImage(sitk.BinaryMorphologicalOpening(img, [2, 2, 0])) > 0
    labels, count = components(opened)
    sizes = np.bincount(labels.ravel())
    min_vox = 0.05 * 1000 / float(np.prod(grid.spacing))
    keep = np.isin(labels, np.flatnonzero(sizes >= min_vox)[1:] if count else [])
    return from_grid(keep.astype(np.float32), grid, vol.affine, vol.shape, linear=False) > 0.5


def score(pred: np.ndarray, scan: TestScan) -> dict[str, Any]:
    """Dice, per-lesion hits and false-positive components for one scan."""
    labels, count = components(pred)
    gt_any = scan.gt > 0
    hits, fps = set(), 0
    for lab in range(1, count + 1):
        ids = np.unique(scan.gt[labels == lab])
        ids = ids[ids > 0]
        hits.update(int(i) for i in ids)
        fps += int(len(ids) == 0)
    denom = pred.sum() + gt_any.sum()
    dice = float(2 * (pred & gt_any).sum() / denom) if gt_any.any() else None
    return {"dice": dice, "hits": sorted(hits), "fp": fps, "n_lesions": len(scan.diameters)}


def _summ(rows: list[dict[str, Any]], scans: list[TestScan]) -> dict[str, Any]:
    n_les = sum(r["n_lesions"] for r in rows)
    n_hit = sum(len(r["hits"]) for r in rows)
    dices = [r["dice"] for r in rows if r["dice"] is not None]
    out: dict[str, Any] = {
        "scans": len(rows),
        "lesions": n_les,
        "sensitivity": round(n_hit / max(n_les, 1), 3),
        "false_positives_per_scan": round(sum(r["fp"] for r in rows) / len(rows), 2),
        "dice_mean": round(float(np.mean(dices)), 3) if dices else None,
    }
    buckets = {"5-10mm": (0, 10), "10-30mm": (10, 30), "30-80mm": (30, 81)}
    for name, (lo, hi) in buckets.items():
        tot = hit = 0
        for r, s in zip(rows, scans, strict=True):
            for i, d in s.diameters.items():
                if lo <= d < hi:
                    tot += 1
                    hit += int(i in r["hits"])
        out[f"sensitivity_{name}"] = f"{hit}/{tot}"
    for flag, name in ((True, "attached"), (False, "free")):
        tot = sum(1 for s in scans for i in s.attached if s.attached[i] == flag)
        hit = sum(1 for r, s in zip(rows, scans, strict=True) for i in r["hits"] if s.attached.get(i) == flag)
        out[f"sensitivity_{name}"] = f"{hit}/{tot}"
    return out


def evaluate_synthetic(reg: ModelRegistry, threads: int, threshold: float, n_pos: int, n_neg: int) -> dict[str, Any]:
    rng = np.random.default_rng(TEST_SEED)
    scans = [make_test_scan(rng, int(rng.integers(1, 4))) for _ in range(n_pos)]
    scans += [make_test_scan(rng, 0) for _ in range(n_neg)]
    model_rows, base_rows, times, cls_p, cls_y = [], [], [], [], []
    for k, scan in enumerate(scans):
        t0 = time.time()
        res = analyze_volume(scan.volume, reg, threads=threads, threshold=threshold)
        times.append(time.time() - t0)
        pred = np.zeros(scan.volume.shape, bool)
        for f in res.findings:
            pred[f.bbox_slices] |= f.mask
            ids = np.unique(scan.gt[f.bbox_slices][f.mask])
            ids = ids[ids > 0]
            if len(ids) == 1 and f.class_probabilities:
                cls_p.append(1.0 - f.class_probabilities["solid"])  # "subsolid" carries a caveat in its label
                cls_y.append(int(scan.kinds[int(ids[0])] != "solid"))
        model_rows.append(score(pred, scan))
        base_rows.append(score(baseline_masks(scan.volume), scan))
        log.info("test scan %d: model %s | baseline %s (%.1f s)", k, model_rows[-1], base_rows[-1], times[-1])
    return {
        "model": _summ(model_rows, scans),
        "baseline": _summ(base_rows, scans),
        "lesion_free_scans": n_neg,
        "seconds_per_scan_median": round(float(np.median(times)), 1),
        "cls_on_detected_lesions": {"n": len(cls_y), "auc": auc(np.array(cls_p), np.array(cls_y))},
    }


def auc(p: np.ndarray, y: np.ndarray) -> float | None:
    """ROC AUC via the Mann-Whitney U statistic (ties count one half)."""
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return round(float(greater / (len(pos) * len(neg))), 4)


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over top-class confidence, equal-width bins."""
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(float((pred[sel] == y[sel]).mean()) - float(conf[sel].mean()))
    return round(total, 4)


def load_real_volume() -> tuple[Volume, list[str]]:
    files = sorted(REAL_SERIES.glob("*.dcm"))
    ds = [pydicom.dcmread(f) for f in files]
    iop = np.asarray(ds[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(normal @ np.asarray(d.ImagePositionPatient, float)))
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in ds])
    ipp = [np.asarray(d.ImagePositionPatient, float) for d in ds]
    step = (ipp[-1] - ipp[0]) / (len(ds) - 1)
    affine = affine_from_dicom(ipp[0], iop, tuple(float(v) for v in ds[0].PixelSpacing), step)
    uids = tuple(str(d.SOPInstanceUID) for d in ds)
    vol = Volume(
        array=hu.astype(np.int16),
        affine=affine,
        modality="CT",
        source_sop_instance_uids=uids,
        series_instance_uid=str(ds[0].SeriesInstanceUID),
    )
    return vol, list(uids)
