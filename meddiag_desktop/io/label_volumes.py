"""NIfTI / NRRD label volumes (read with SimpleITK) -> lesion labels on a series' grid.

The label image is placed by physical position: every series voxel takes the label value at
its centre (nearest neighbour). SimpleITK reports positions in LPS whatever the file format
(NIfTI's RAS is converted on reading), so they compare directly with DICOM positions.

Which voxels make one lesion:
- several distinct non-zero values: each value is one lesion (``label 3``), however many
  pieces it has;
- a single non-zero value (a binary mask): each 26-connected component on the series grid is
  one lesion (``lesion 1`` is the largest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.labels import LabelRole, LabelShape, ReferenceLabel
from meddiag_desktop.errors import LabelReadError
from meddiag_desktop.io._sitk import sitk
from meddiag_desktop.io.label_grid import components, sample_volume

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume

LABEL_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_label_volume(path: Path) -> bool:
    """True when the file name looks like a NIfTI / NRRD / MetaImage volume."""
    return path.name.lower().endswith(LABEL_SUFFIXES)


def _format(path: Path) -> str:
    name = path.name.lower()
    return "NIfTI" if ".nii" in name else "NRRD" if ".nrrd" in name or ".nhdr" in name else "MetaImage"


def read_label_image(path: Path) -> tuple[NDArray[np.integer], NDArray[np.float64]]:
    """The label array ``(k, j, i)`` and its index->LPS affine (the ``Volume`` convention).

    Raises
    ------
    LabelReadError
        The file cannot be read, is not a single-channel 3D image, or holds non-integer values.
    """
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise LabelReadError(f"{path.name} could not be read as a label volume: {str(exc).strip()[:200]}") from exc
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise LabelReadError(f"{path.name} is not a single-channel 3D label volume.")
    values = sitk.GetArrayFromImage(image)
    if values.dtype.kind == "f" and not np.array_equal(values, np.rint(values)):
        raise LabelReadError(f"{path.name} holds non-integer values; a label volume holds one integer per lesion.")
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)
    affine = np.eye(4)
    affine[:3, :3] = (direction * spacing)[:, ::-1]  # columns (x, y, z) -> array axes (k, j, i)
    affine[:3, 3] = image.GetOrigin()
    small = values.size == 0 or (values.min() >= 0 and values.max() <= np.iinfo(np.uint16).max)
    return values.astype(np.uint16 if small else np.int32), affine


def label_volume_labels(path: Path, volume: Volume) -> list[ReferenceLabel]:
    """The lesions of a label volume on ``volume``'s grid (see the module docstring for the rule).

    Raises
    ------
    LabelReadError
        Unreadable file, or its extent (or every labelled voxel) lies outside the series.
    """
    values, affine = read_label_image(path)
    sampled, covered = sample_volume(volume, values, affine)
    if covered == 0:
        raise LabelReadError(
            f"{path.name} does not overlap this series: its voxels lie outside the series' volume "
            "(another patient, study or coordinate system?)."
        )
    present = [int(v) for v in np.unique(values) if v != 0]
    if present and not sampled.any():
        raise LabelReadError(f"{path.name} overlaps this series, but none of its labelled voxels fall on it.")
    fmt = _format(path)
    if len(present) == 1:
        pieces = components(np.asarray(sampled != 0))
        return [
            ReferenceLabel(f"lesion {k}", m, LabelRole.LESION, LabelShape.OUTLINE, fmt) for k, m in enumerate(pieces, 1)
        ]
    return [_value_label(sampled, v, fmt) for v in present if (sampled == v).any()]


def _value_label(sampled: NDArray[np.generic], value: int, fmt: str) -> ReferenceLabel:
    return ReferenceLabel(f"label {value}", np.asarray(sampled == value), LabelRole.LESION, LabelShape.OUTLINE, fmt)
