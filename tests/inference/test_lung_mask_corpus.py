"""Lung masks against real clinical contours (NSCLC-Radiomics) and radiologists' boxes (A0001).

Each scan is loaded and segmented once (``_measure`` is cached per patient); the tests then
check one figure each, on the CT's own grid and, for the lung region, on the model grid
(5 x 1.5 x 1.5 mm) where ``analyze`` uses it.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pydicom
import pytest

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.inference.lung_mask import LungMasks, body_mask, lung_region, lungs
from meddiag_desktop.inference.resample import covering_grid, from_grid, to_grid
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.rtstruct import Structure, rasterise, read_structure_set
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

NSCLC = ["LUNG1-001", "LUNG1-002", "LUNG1-003"]
MODEL_SPACING = (5.0, 1.5, 1.5)


def _volume(folder: Path, tmp: Path) -> Volume:
    with SeriesIndex(tmp / "index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        [volume] = load_series(index, series.series_instance_uid)
    return volume


def unique_contours(structure: Structure) -> Structure:
    """Keep one copy of contours repeated on a slice (same vertices, any start point).

    LUNG1-002's "Lung L" repeats some slices' contour up to 17 times (an export artefact; the
    planning system's ROI Volume, 3542.7 mL, counts every copy). Under the even-odd rule an
    even number of copies cancels, so those slices would have no lung at all.
    """
    kept: list[np.ndarray] = []
    keys: list[tuple[float, frozenset[tuple[float, float]]]] = []
    for c in structure.contours:
        key = (round(float(c[0, 2]), 2), frozenset(map(tuple, np.round(c[:, :2], 1).tolist())))
        if not any(key[0] == k[0] and len(key[1] & k[1]) >= 0.9 * max(len(key[1]), len(k[1])) for k in keys):
            kept.append(c)
            keys.append(key)
    return dataclasses.replace(structure, contours=tuple(kept))


def _labels(rtstruct: Path, volume: Volume, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    structure_set = read_structure_set(rtstruct)
    return {name: rasterise(unique_contours(structure_set.structure(name)), volume).mask for name in names}


def _voc_boxes(folder: Path, annotations: Path, volume: Volume) -> np.ndarray:
    """The radiologists' PASCAL-VOC boxes (pixel corners, inclusive) as a mask on the series."""
    positions = {}
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        positions[str(ds.SOPInstanceUID)] = np.asarray(ds.ImagePositionPatient, dtype=np.float64)
    boxes = np.zeros(volume.shape, dtype=bool)
    for xml in sorted(annotations.glob("*.xml")):
        if xml.stem not in positions:
            continue  # a slice of the study's other reconstruction
        z = round(float(volume.lps_to_index(positions[xml.stem][None])[0, 0]))
        for box in ET.parse(xml).getroot().iter("bndbox"):
            x0, y0, x1, y1 = (int(float(box.findtext(k, "0"))) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes[z, y0 : y1 + 1, x0 : x1 + 1] = True
    return boxes


def _on_model_grid(hu: np.ndarray, volume: Volume) -> np.ndarray:
    """The lung region computed on the model grid, as ``analyze`` does, mapped back to the CT."""
    grid = covering_grid(volume.affine, volume.shape, MODEL_SPACING)
    resampled = to_grid(hu, volume.affine, grid, fill=-1024.0)
    masks = lungs(resampled, grid.spacing, body_mask(resampled, grid.spacing))
    region = lung_region(masks, grid.spacing)
    return from_grid(region.astype(np.float32), grid, volume.affine, volume.shape) > 0.5


@dataclasses.dataclass(frozen=True)
class Measures:
    dice: dict[str, float]  # "left" vs Lung L, "right" vs Lung R, and swapped
    left_x_mm: float
    right_x_mm: float
    in_region: dict[str, float]  # fraction of each target inside the region (native grid)
    in_model_grid_region: dict[str, float]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / max(1, int(a.sum()) + int(b.sum()))


def _centre_x(mask: np.ndarray, volume: Volume) -> float:
    return float(volume.index_to_lps(np.argwhere(mask[:, ::4, ::4]).mean(axis=0) * (1, 4, 4))[0])


@functools.cache
def _measure(corpus: Path, patient: str) -> Measures:
    with tempfile.TemporaryDirectory() as tmp:
        if patient == "A0001":
            folder = corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L"
            volume = _volume(folder, Path(tmp))
            targets = {"boxed mass": _voc_boxes(folder, corpus / "lung_pet_ct_dx/annotations/A0001", volume)}
            contours: dict[str, np.ndarray] = {}
        else:
            folder = corpus / "nsclc_radiomics" / patient
            volume = _volume(folder / "ct", Path(tmp))
            contours = _labels(folder / "rtstruct.dcm", volume, ("Lung L", "Lung R", "GTV-1"))
            targets = {"GTV-1": contours["GTV-1"]}
    hu = np.asarray(volume.array, dtype=np.float32)
    if "boxed mass" in targets:
        targets["boxed mass"] &= hu > -100.0  # the mass itself, not the lung or fat in the box corners
    left, right = lungs(hu, volume.spacing, body_mask(hu, volume.spacing), affine=volume.affine)
    region = lung_region(LungMasks(left, right), volume.spacing)
    model_region = _on_model_grid(hu, volume)
    dice = {}
    if contours:
        dice = {
            "left": _dice(left, contours["Lung L"]),
            "right": _dice(right, contours["Lung R"]),
            "left vs Lung R": _dice(left, contours["Lung R"]),
        }
    return Measures(
        dice,
        _centre_x(left, volume),
        _centre_x(right, volume),
        {k: float(region[m].mean()) for k, m in targets.items()},
        {k: float(model_region[m].mean()) for k, m in targets.items()},
    )


@pytest.mark.parametrize("patient", NSCLC)
def test_each_lung_matches_the_clinical_contour(corpus: Path, patient: str) -> None:
    m = _measure(corpus, patient)
    assert m.dice["left"] >= 0.95, f"{patient} left lung Dice {m.dice['left']:.4f} against Lung L"
    assert m.dice["right"] >= 0.95, f"{patient} right lung Dice {m.dice['right']:.4f} against Lung R"


@pytest.mark.parametrize("patient", [*NSCLC, "A0001"])
def test_left_lung_is_on_the_patients_left(corpus: Path, patient: str) -> None:
    m = _measure(corpus, patient)
    assert m.left_x_mm > m.right_x_mm + 100.0, f"{patient}: left lung at x {m.left_x_mm:.0f}, right {m.right_x_mm:.0f}"
    if m.dice:
        assert m.dice["left vs Lung R"] < 0.05


@pytest.mark.parametrize("patient", NSCLC)
def test_lung_region_holds_the_tumour(corpus: Path, patient: str) -> None:
    m = _measure(corpus, patient)
    assert m.in_region["GTV-1"] >= 0.95, f"{patient}: {m.in_region['GTV-1']:.1%} of GTV-1 in the lung region"
    assert m.in_model_grid_region["GTV-1"] >= 0.95, (
        f"{patient}: {m.in_model_grid_region['GTV-1']:.1%} of GTV-1 in the lung region on the model grid"
    )


def test_lung_region_holds_the_mass_attached_to_the_mediastinum(corpus: Path) -> None:
    m = _measure(corpus, "A0001")
    assert m.in_region["boxed mass"] >= 0.90, f"{m.in_region['boxed mass']:.1%} of the boxed mass in the region"
    assert m.in_model_grid_region["boxed mass"] >= 0.90, (
        f"{m.in_model_grid_region['boxed mass']:.1%} of the boxed mass in the region on the model grid"
    )
