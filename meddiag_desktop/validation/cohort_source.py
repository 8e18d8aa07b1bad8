"""Real chest CT backgrounds for the generated cohort: a series, its lungs, and where a study may be cut.

A source is one real CT series with its lung mask (``inference.lung_mask``), the distance of
every lung voxel to the lung border, and the slabs a generated study may be cut from: slabs
with plenty of lung on every slice and far from the series' own reference lesions, so a
generated study without planted lesions really has none that anybody marked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.config import demo_dir
from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.inference.lung_mask import body_mask, lung_mask
from meddiag_desktop.io._sitk import sitk
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.case_labels import case_lesions
from meddiag_desktop.validation.cases import discover_cases
from meddiag_desktop.validation.runner import load_case_volume

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume

logger = logging.getLogger(__name__)

DEMO_SERIES = demo_dir()
DEMO_BOXES = DEMO_SERIES.parent / "demo_annotations"
DEMO_NAME = "TCIA Lung-PET-CT-Dx A0001 (CC BY 4.0; Li P. et al., TCIA 2020, doi:10.7937/TCIA.2020.NNC20461)"
SLAB_MM = 40.0  # a generated study's extent along z: keeps one analysis at ~1-2 s on 2 cores
LESION_MARGIN_MM = 15.0  # a slab keeps this far from the series' own reference lesions
MIN_LUNG_SHARE = 0.3  # every slab slice has at least this share of the series' largest lung slice
CHEST_WALL_MM = 45.0  # kept around the lungs in-plane


@dataclass(frozen=True, eq=False)
class CohortSource:
    """One real CT series prepared for cutting studies from.

    ``hu`` is ``(z, y, x)`` float32, ``lung_depth_mm`` each lung voxel's distance to the lung
    border in mm (0 outside the lungs), ``chest_box`` the in-plane ``(y0, y1, x0, x1)`` bounds of
    the chest (lungs and chest wall), ``slab_starts`` the first slices of the usable slabs.
    """

    name: str
    volume: Volume
    hu: NDArray[np.float32]
    lung_depth_mm: NDArray[np.float32]
    chest_box: tuple[int, int, int, int]
    slab_slices: int
    slab_starts: tuple[int, ...]

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.volume.spacing


def _slab_starts(lung: NDArray[np.bool_], lesions: NDArray[np.bool_], dz: float, slab: int) -> tuple[int, ...]:
    area = lung.sum(axis=(1, 2))
    usable = area >= MIN_LUNG_SHARE * area.max()
    lesion_slices = np.flatnonzero(lesions.any(axis=(1, 2)))
    margin = int(np.ceil(LESION_MARGIN_MM / dz))
    for z in lesion_slices:
        usable[max(0, z - margin) : z + margin + 1] = False
    return tuple(s for s in range(len(area) - slab + 1) if usable[s : s + slab].all())


def _chest_box(
    hu: NDArray[np.float32], lung: NDArray[np.bool_], spacing: tuple[float, float, float]
) -> tuple[int, int, int, int]:
    """The lungs' in-plane bounds widened by a chest wall, within the body (the table is left out)."""
    body = np.asarray(body_mask(hu, spacing).any(axis=0))
    lungs = np.asarray(lung.any(axis=0))
    box = []
    for axis, step in ((1, spacing[1]), (0, spacing[2])):
        inside, there = np.flatnonzero(lungs.any(axis=axis)), np.flatnonzero(body.any(axis=axis))
        margin = round(CHEST_WALL_MM / step)
        box += [max(int(there[0]), int(inside[0]) - margin), min(int(there[-1]), int(inside[-1]) + margin) + 1]
    return box[0], box[1], box[2], box[3]


def _depth_mm(lung: NDArray[np.bool_], spacing: tuple[float, float, float]) -> NDArray[np.float32]:
    """Each lung voxel's distance to the lung border in mm (0 outside)."""
    image = sitk.GetImageFromArray(lung.astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    distance = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(image, True, False, True))
    return np.asarray(np.maximum(distance, 0.0), dtype=np.float32)


def prepare_source(name: str, volume: Volume, lesions: NDArray[np.bool_]) -> CohortSource:
    """A source from a CT volume and the union of its reference lesions (kept away from).

    Raises
    ------
    MeddiagError
        The series has no slab of ``SLAB_MM`` with lung on every slice away from its lesions.
    """
    hu = np.asarray(volume.array, dtype=np.float32)
    spacing = volume.spacing
    lung = lung_mask(hu, spacing)
    slab = max(round(SLAB_MM / spacing[0]), 2)
    starts = _slab_starts(lung, lesions, spacing[0], slab)
    if not starts:
        raise MeddiagError(f"{name}: no {SLAB_MM:g} mm slab with lung on every slice away from its lesions.")
    depth = _depth_mm(lung, spacing)
    logger.info("cohort source %s: %d slab positions", name, len(starts))
    return CohortSource(name, volume, hu, depth, _chest_box(hu, lung, spacing), slab, starts)


def sources_from(paths: Sequence[Path], index_path: Path, *, annotations: Path | None = None) -> list[CohortSource]:
    """Every CT series with reference labels under ``paths`` (as ``validate`` finds them) as a source.

    Series whose lungs leave no usable slab are left out (logged).
    """
    out = []
    with SeriesIndex(index_path) as index:
        found = discover_cases(paths, index, annotations=annotations)
    for case in found.cases:
        volume = load_case_volume(case)
        lesions, _ = case_lesions(case.sources, volume)
        known = np.zeros(volume.shape, dtype=bool)
        for label in lesions:
            known |= label.mask
        try:
            out.append(prepare_source(case.folder, volume, known))
        except MeddiagError as exc:
            logger.warning("cohort source left out: %s", exc)
    return out


def demo_source(index_path: Path) -> CohortSource:
    """The bundled demo chest CT, kept away from its boxed tumour."""
    [source] = sources_from([DEMO_SERIES], index_path, annotations=DEMO_BOXES)
    return replace(source, name=DEMO_NAME)
