"""Lung masks against clinical contours, and their speed, vs a plain threshold baseline, in one run.

Run: python bench/bench_lung_mask.py [--repeats 3]

For each NSCLC-Radiomics patient (and A0001 for the region): Dice of each lung against the
radiotherapy "Lung L" / "Lung R" contours on the CT's own grid and on the model grid
(5 x 1.5 x 1.5 mm, mapped back); how much of each tumour (GTV) or of the radiologists' boxed
mass the lung region holds; how much of the heart and of the body outside the lungs it also
covers; times of body mask + lungs + region. The baseline is what one writes first with
SimpleITK: body = largest component above -500 HU with holes filled per slice, lungs = the two
largest components below -400 HU inside it, holes filled per slice, sides by centroid.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from _common import median_seconds, require_corpus

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.inference.lung_mask import LungMasks, body_mask, lung_region, lungs
from meddiag_desktop.inference.resample import covering_grid, from_grid, to_grid
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.rtstruct import Structure, rasterise, read_structure_set
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

NSCLC = ["LUNG1-001", "LUNG1-002", "LUNG1-003"]
MODEL_SPACING = (5.0, 1.5, 1.5)
STRUCTURES = ("Lung L", "Lung R", "GTV-1", "GTV-2", "GTV-3", "Heart")


def load_volume(folder: Path) -> Volume:
    with tempfile.TemporaryDirectory() as tmp, SeriesIndex(Path(tmp) / "index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        [volume] = load_series(index, series.series_instance_uid)
    return volume


def unique_contours(structure: Structure) -> Structure:
    """One copy of contours repeated on a slice (LUNG1-002 "Lung L" repeats some up to 17 times;
    even-odd filling would cancel an even number of copies)."""
    kept, keys = [], []
    for c in structure.contours:
        key = (round(float(c[0, 2]), 2), frozenset(map(tuple, np.round(c[:, :2], 1).tolist())))
        if not any(key[0] == k[0] and len(key[1] & k[1]) >= 0.9 * max(len(key[1]), len(k[1])) for k in keys):
            kept.append(c)
            keys.append(key)
    return dataclasses.replace(structure, contours=tuple(kept))


def contours(rtstruct: Path, volume: Volume) -> dict[str, np.ndarray]:
    structure_set = read_structure_set(rtstruct)
    names = {s.name for s in structure_set.structures}
    return {n: rasterise(unique_contours(structure_set.structure(n)), volume).mask for n in STRUCTURES if n in names}


def voc_boxes(folder: Path, annotations: Path, volume: Volume) -> np.ndarray:
    positions = {}
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        positions[str(ds.SOPInstanceUID)] = np.asarray(ds.ImagePositionPatient, dtype=np.float64)
    boxes = np.zeros(volume.shape, dtype=bool)
    for xml in sorted(annotations.glob("*.xml")):
        if xml.stem in positions:
            z = round(float(volume.lps_to_index(positions[xml.stem][None])[0, 0]))
            for b in ET.parse(xml).getroot().iter("bndbox"):
                x0, y0, x1, y1 = (int(float(b.findtext(k, "0"))) for k in ("xmin", "ymin", "xmax", "ymax"))
                boxes[z, y0 : y1 + 1, x0 : x1 + 1] = True
    return boxes


def baseline(hu: np.ndarray, spacing: tuple[float, float, float], affine: np.ndarray) -> LungMasks:
    """Plain SimpleITK: threshold, largest components, holes filled slice by slice."""

    def image(mask: np.ndarray) -> sitk.Image:
        img = sitk.GetImageFromArray(mask.astype(np.uint8))
        img.SetSpacing((spacing[2], spacing[1], spacing[0]))
        return img

    def fill_slices(mask: np.ndarray) -> np.ndarray:
        return np.stack(
            [sitk.GetArrayFromImage(sitk.BinaryFillhole(sitk.GetImageFromArray(s.astype(np.uint8)))) > 0 for s in mask]
        )

    components = sitk.RelabelComponent(sitk.ConnectedComponent(image(hu > -500)), sortByObjectSize=True)
    body = fill_slices(sitk.GetArrayFromImage(components) == 1)
    labels = sitk.GetArrayFromImage(
        sitk.RelabelComponent(sitk.ConnectedComponent(image(body & (hu < -400))), sortByObjectSize=True)
    )
    parts = [fill_slices(labels == i) for i in (1, 2) if (labels == i).any()]
    x = [float(affine[0, :3] @ (np.argwhere(p[:, ::4, ::4]).mean(axis=0) * (1, 4, 4)) + affine[0, 3]) for p in parts]
    empty = np.zeros(hu.shape, dtype=bool)
    parts += [empty] * (2 - len(parts))
    x += [0.0] * (2 - len(x))
    return LungMasks(parts[0], parts[1]) if x[0] > x[1] else LungMasks(parts[1], parts[0])


def ours(
    hu: np.ndarray, spacing: tuple[float, float, float], affine: np.ndarray | None
) -> tuple[LungMasks, np.ndarray]:
    masks = lungs(hu, spacing, body_mask(hu, spacing), affine=affine)
    return masks, lung_region(masks, spacing)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / max(1, int(a.sum()) + int(b.sum()))


def back(mask: np.ndarray, grid: object, volume: Volume) -> np.ndarray:
    return from_grid(mask.astype(np.float32), grid, volume.affine, volume.shape) > 0.5  # type: ignore[arg-type]


def coverage(region: np.ndarray, refs: dict[str, np.ndarray], body: np.ndarray, lung: np.ndarray) -> str:
    """Fractions of the lesions, the heart and the body outside the lungs inside the region."""
    out = [f"{n} {region[m].mean():6.1%}" for n, m in refs.items() if n.startswith(("GTV", "boxed"))]
    if "Heart" in refs:
        out.append(f"heart {region[refs['Heart']].mean():5.1%}")
    out.append(f"body outside lungs {region[body & ~lung].mean():5.1%}")
    return ", ".join(out)


def bench_patient(name: str, volume: Volume, refs: dict[str, np.ndarray], repeats: int) -> None:
    hu = np.asarray(volume.array, dtype=np.float32)
    sp, a = volume.spacing, volume.affine
    grid = covering_grid(a, volume.shape, MODEL_SPACING)
    hu_grid = to_grid(hu, a, grid, fill=-1024.0)
    (left, right), region = ours(hu, sp, a)
    (gl, gr), gregion = ours(hu_grid, grid.spacing, None)
    bl, br = baseline(hu, sp, a)
    t_native = median_seconds(lambda: ours(hu, sp, a), repeats)
    t_grid = median_seconds(lambda: ours(hu_grid, grid.spacing, None), repeats)
    t_base = median_seconds(lambda: baseline(hu_grid, grid.spacing, grid.affine), repeats)
    print(f"{name}  {volume.shape[0]} x {volume.shape[1]} x {volume.shape[2]}, {sp[0]:.2f} x {sp[1]:.2f} mm")
    if "Lung L" in refs:
        rl, rr = refs["Lung L"], refs["Lung R"]
        print(f"  Dice left / right, native grid          {dice(left, rl):.4f} / {dice(right, rr):.4f}")
        print(
            f"  Dice left / right, model grid -> native  {dice(back(gl, grid, volume), rl):.4f} / "
            f"{dice(back(gr, grid, volume), rr):.4f}"
        )
        print(f"  Dice left / right, baseline (native)     {dice(bl, rl):.4f} / {dice(br, rr):.4f}")
    body = body_mask(hu, sp)
    lung = refs["Lung L"] | refs["Lung R"] if "Lung L" in refs else left | right  # no contours: our lungs
    print(f"  region, native grid:      {coverage(region, refs, body, lung)}")
    print(f"  region, model grid:       {coverage(back(gregion, grid, volume), refs, body, lung)}")
    print(f"  time, native grid (body + lungs + region)      {t_native * 1000:8.0f} ms")
    print(
        f"  time, model grid {hu_grid.shape[0]} x {hu_grid.shape[1]} x {hu_grid.shape[2]}          "
        f"{t_grid * 1000:8.0f} ms  ({t_grid / t_base:.2f}x the baseline's {t_base * 1000:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    corpus = require_corpus()
    start = time.perf_counter()
    for patient in NSCLC:
        folder = corpus / "nsclc_radiomics" / patient
        volume = load_volume(folder / "ct")
        bench_patient(patient, volume, contours(folder / "rtstruct.dcm", volume), args.repeats)
    folder = corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L"
    volume = load_volume(folder)
    boxes = voc_boxes(folder, corpus / "lung_pet_ct_dx" / "annotations" / "A0001", volume)
    bench_patient("A0001", volume, {"boxed mass > -100 HU": boxes & (volume.array > -100)}, args.repeats)
    print(f"(whole run {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
