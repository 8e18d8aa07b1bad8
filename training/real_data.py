"""The four real chest CTs of the corpus, with their reference tumours, on the model grid.

- TCIA NSCLC-Radiomics LUNG1-001..003 (3 mm; CC BY-NC 3.0): GTV contours from the RT
  Structure Sets are the positives. GTV-2/GTV-3 of LUNG1-003 are lymph nodes in the neck and
  under the carina, outside the lungs: they are marked "ignore" (neither lesion nor
  background), because a lung-lesion model is not meant to find them and one example of each
  cannot teach it to.
- TCIA Lung-PET-CT-Dx A0001 (5 mm; CC BY 4.0): radiologists' boxes only, which are not
  outlines; the boxed region is "ignore" and the rest of the scan is background.

Each case is loaded with the app's own DICOM reader and resampled with the app's own
pre-processing (``inference.preprocess.on_model_grid``), so training sees exactly what
inference sees. Results are cached as ``.npz`` in the work folder.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.reslice import average_mask, average_slices, slices_per_group
from meddiag_desktop.inference.lung_mask import body_mask, lung_mask, lung_region
from meddiag_desktop.inference.preprocess import on_model_grid
from meddiag_desktop.inference.resample import to_grid
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.rtstruct import read_structure_set, structure_labels
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

if TYPE_CHECKING:
    from meddiag_desktop.core.volume import Volume

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
NSCLC = ("LUNG1-001", "LUNG1-002", "LUNG1-003")
A0001 = "A0001"
PATIENTS = (*NSCLC, A0001)
NOT_LUNG_LESIONS = {"LUNG1-003": ("GTV-2", "GTV-3")}
LICENCES = {
    "LUNG1-001": "CC BY-NC 3.0",
    "LUNG1-002": "CC BY-NC 3.0",
    "LUNG1-003": "CC BY-NC 3.0",
    A0001: "CC BY 4.0",
}


@dataclass
class NativeCase:
    """A real scan on its own grid with its reference masks."""

    name: str
    volume: Volume
    lesion: np.ndarray  # bool, what the model should mark
    ignore: np.ndarray  # bool, neither lesion nor background
    manufacturer: str


@dataclass
class GridCase:
    """A real scan on the model grid, ready for patch sampling."""

    name: str
    variant: str  # "native" or "avg<mm>"
    hu: np.ndarray  # float32 (z, y, x)
    lesion: np.ndarray  # bool
    ignore: np.ndarray  # bool
    lung: np.ndarray  # bool, aerated lung (where synthetic lesions may be inserted)
    region: np.ndarray  # bool, lung envelope
    body: np.ndarray  # bool
    spacing: tuple[float, float, float]


def series_folder(name: str) -> Path:
    if name == A0001:
        return CORPUS / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L"
    return CORPUS / "nsclc_radiomics" / name / "ct"


def load_volume(folder: Path, work: Path) -> Volume:
    with SeriesIndex(work / f"index_{folder.parent.name}_{folder.name}.sqlite") as index:
        scan(folder, index)
        [series] = [s for s in index.series() if s.kind.value == "image"]
        [volume] = load_series(index, series.series_instance_uid)
    return volume


def voc_boxes(volume: Volume, folder: Path) -> dict[int, list[tuple[int, int, int, int]]]:
    """PASCAL-VOC boxes ``(xmin, ymin, xmax, ymax)`` per slice index of ``volume``."""
    where = {uid: z for z, uid in enumerate(volume.source_sop_instance_uids)}
    out: dict[int, list[tuple[int, int, int, int]]] = {}
    for path in sorted(folder.glob("*.xml")):
        z = where.get(path.stem)
        if z is None:
            continue
        for obj in ET.parse(path).findall("object"):
            b = obj.find("bndbox")
            assert b is not None
            box = tuple(int(float(b.findtext(k, "0"))) for k in ("xmin", "ymin", "xmax", "ymax"))
            out.setdefault(z, []).append((box[0], box[1], box[2], box[3]))
    return out


def _a0001_masks(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """No positives: the boxes and the slice above and below them are "ignore".

    A box is not an outline: its dense voxels hold the mass but also the aorta, spine and chest
    wall it touches. Teaching those as tumour taught the first trial model to mark the aorta.
    The scan still contributes its lungs, vessels, heart and mediastinum as background.
    """
    boxes = voc_boxes(volume, CORPUS / "lung_pet_ct_dx" / "annotations" / "A0001")
    ignore = np.zeros(volume.shape, dtype=bool)
    zs = sorted(boxes)
    for z, items in boxes.items():
        for x0, y0, x1, y1 in items:
            ignore[z, y0 : y1 + 1, x0 : x1 + 1] = True
    footprint = ignore.any(axis=0)
    for z in (zs[0] - 1, zs[-1] + 1):
        if 0 <= z < volume.shape[0]:
            ignore[z] |= footprint
    return np.zeros(volume.shape, dtype=bool), ignore


def _nsclc_masks(name: str, volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    structure_set = read_structure_set(CORPUS / "nsclc_radiomics" / name / "rtstruct.dcm")
    lesion = np.zeros(volume.shape, dtype=bool)
    ignore = np.zeros(volume.shape, dtype=bool)
    for label in structure_labels(structure_set, volume):
        if label.role.value != "lesion":
            continue
        if label.name in NOT_LUNG_LESIONS.get(name, ()):
            ignore |= label.mask
        else:
            lesion |= label.mask
    return lesion, ignore


def load_native(name: str, work: Path) -> NativeCase:
    volume = load_volume(series_folder(name), work)
    lesion, ignore = _a0001_masks(volume) if name == A0001 else _nsclc_masks(name, volume)
    maker = "Philips" if name == A0001 else ("SIEMENS" if name == "LUNG1-001" else "CMS (XiO export)")
    return NativeCase(name, volume, lesion, ignore, maker)


def thick_version(case: NativeCase, target_mm: float) -> NativeCase:
    """The scan with slices averaged to about ``target_mm``, masks averaged alike."""
    group = slices_per_group(case.volume, target_mm)
    return NativeCase(
        case.name,
        average_slices(case.volume, target_mm),
        average_mask(case.lesion, group),
        average_mask(case.ignore, group),
        case.manufacturer,
    )


def to_model_grid(case: NativeCase, spacing: tuple[float, float, float], variant: str) -> GridCase:
    grid, hu = on_model_grid(case.volume, spacing)
    vol = case.volume

    def mask(m: np.ndarray) -> np.ndarray:
        return to_grid(m.astype(np.float32), vol.affine, grid, fill=0.0) >= 0.5

    body = body_mask(hu, grid.spacing)
    lung = lung_mask(hu, grid.spacing, body)
    region = lung_region(lung, grid.spacing, 5.0)
    ignore_soft = to_grid(case.ignore.astype(np.float32), vol.affine, grid, fill=0.0) > 0.0
    lesion = mask(case.lesion)
    return GridCase(case.name, variant, hu, lesion, ignore_soft & ~lesion, lung, region, body, grid.spacing)


def grid_cases(
    names: tuple[str, ...], spacing: tuple[float, float, float], work: Path, thick_mm: tuple[float, ...] = (6.0, 9.0)
) -> list[GridCase]:
    """Every named case on the model grid, natively and averaged to each thickness (cached)."""
    out = []
    for name in names:
        native = None
        for target in (0.0, *thick_mm):
            variant = "native" if target == 0.0 else f"avg{target:g}"
            path = work / f"grid_{name}_{variant}_{'x'.join(f'{s:g}' for s in spacing)}.npz"
            if not path.exists():
                native = native or load_native(name, work)
                if target and slices_per_group(native.volume, target) == 1:
                    continue
                case = native if target == 0.0 else thick_version(native, target)
                g = to_model_grid(case, spacing, variant)
                np.savez_compressed(
                    path, **{k: getattr(g, k) for k in ("hu", "lesion", "ignore", "lung", "region", "body")}
                )
                log.info("cached %s %s %s", name, variant, g.hu.shape)
            data = np.load(path)
            out.append(
                GridCase(
                    name, variant, *(data[k] for k in ("hu", "lesion", "ignore", "lung", "region", "body")), spacing
                )
            )
    return out
