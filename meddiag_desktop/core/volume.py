"""A 3D image on a physical grid: the one type every layer passes around.

The affine follows highdicom's ``Volume`` convention: it maps array indices
``(slice, row, column, 1)`` to patient LPS millimetres (PS3.3 C.7.6.2.1.1).
Column 0 is the slice step, column 1 the step down a row (IOP column cosine
times PixelSpacing[0]), column 2 the step along a row (IOP row cosine times
PixelSpacing[1]). Operations return new objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


class WarningKind(enum.Enum):
    """Kinds of problem found while assembling a series: geometry, or pixels that are not the image."""

    MISSING_POSITION = "missing_position"
    MIXED_ORIENTATION = "mixed_orientation"
    UNEVEN_SPACING = "uneven_spacing"
    GANTRY_TILT = "gantry_tilt"
    DUPLICATE_POSITION = "duplicate_position"
    MULTIPLE_STACKS = "multiple_stacks"
    SINGLE_SLICE = "single_slice"
    MIXED_MATRIX = "mixed_matrix"
    UNREADABLE_IMAGES = "unreadable_images"
    IMPLAUSIBLE_PIXELS = "implausible_pixels"  # decoded, but values impossible for the bit depth or modality


PIXEL_PROBLEMS = frozenset({WarningKind.UNREADABLE_IMAGES, WarningKind.IMPLAUSIBLE_PIXELS})
"""Warnings that mean some shown pixels are not the image (blank or corrupt), not just odd geometry."""


@dataclass(frozen=True)
class GeometryWarning:
    """A plain-words warning kept on the volume and shown to the user (geometry or pixel data)."""

    kind: WarningKind
    message: str


@dataclass(frozen=True)
class DisplayHints:
    """How the stored values should be shown (values themselves are never altered)."""

    invert: bool = False  # MONOCHROME1: low values are bright (PS3.3 C.7.6.3.1.2)
    windows: tuple[tuple[float, float], ...] = ()  # (center, width) pairs from the header
    is_color: bool = False
    units: str = ""  # "HU" for CT after rescale, "" when unknown


@dataclass(frozen=True, eq=False)
class Volume:
    """Voxel array ``(z, y, x)`` (or ``(z, y, x, 3)`` for colour) plus its geometry."""

    array: NDArray[np.generic]
    affine: NDArray[np.float64]
    frame_of_reference_uid: str = ""
    series_instance_uid: str = ""
    modality: str = ""
    source_sop_instance_uids: tuple[str, ...] = ()
    warnings: tuple[GeometryWarning, ...] = ()
    display: DisplayHints = field(default_factory=DisplayHints)
    slice_positions: NDArray[np.float64] | None = None
    """Exact LPS position of each slice's first voxel when spacing is uneven (else None)."""

    def __post_init__(self) -> None:
        if self.array.ndim not in (3, 4):
            raise ValueError(f"Volume array must be 3D (or 4D colour), got {self.array.ndim}D")
        if self.affine.shape != (4, 4):
            raise ValueError("Volume affine must be 4x4")
        n = len(self.source_sop_instance_uids)
        if n and n != self.array.shape[0]:
            raise ValueError(f"{n} source UIDs for {self.array.shape[0]} slices")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Spatial shape ``(z, y, x)``."""
        z, y, x = self.array.shape[:3]
        return (z, y, x)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along ``(z, y, x)``."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    @property
    def origin(self) -> NDArray[np.float64]:
        """LPS position (mm) of voxel (0, 0, 0)'s centre."""
        return self.affine[:3, 3].copy()

    @property
    def direction(self) -> NDArray[np.float64]:
        """3x3 unit direction cosines; columns are the (z, y, x) axes in LPS."""
        cosines: NDArray[np.float64] = self.affine[:3, :3] / np.asarray(self.spacing)
        return cosines

    @property
    def is_sheared(self) -> bool:
        """True when the slice axis is not perpendicular to the image plane (gantry tilt)."""
        d = self.direction
        normal = np.cross(d[:, 2], d[:, 1])
        return bool(abs(abs(float(np.dot(normal, d[:, 0]))) - 1.0) > 1e-4)

    def index_to_lps(self, index: NDArray[np.float64] | tuple[float, float, float]) -> NDArray[np.float64]:
        """Map ``(z, y, x)`` voxel indices (N x 3 or 3,) to LPS mm."""
        idx = np.asarray(index, dtype=np.float64)
        return idx @ self.affine[:3, :3].T + self.affine[:3, 3]

    def lps_to_index(self, point: NDArray[np.float64] | tuple[float, float, float]) -> NDArray[np.float64]:
        """Map LPS mm points (N x 3 or 3,) to fractional ``(z, y, x)`` indices."""
        p = np.asarray(point, dtype=np.float64) - self.affine[:3, 3]
        result: NDArray[np.float64] = p @ np.linalg.inv(self.affine[:3, :3]).T
        return result

    def with_array(self, array: NDArray[np.generic]) -> Volume:
        """Same geometry, new voxels (shape must match spatially)."""
        if array.shape[:3] != self.shape:
            raise ValueError(f"shape {array.shape[:3]} does not match volume {self.shape}")
        return replace(self, array=array)

    def with_warnings(self, *extra: GeometryWarning) -> Volume:
        """A copy carrying additional warnings."""
        return replace(self, warnings=self.warnings + extra)


def affine_from_dicom(
    first_position: NDArray[np.float64] | tuple[float, float, float],
    orientation: NDArray[np.float64] | tuple[float, ...],
    pixel_spacing: tuple[float, float],
    slice_step: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Build the index->LPS affine from IPP, IOP, PixelSpacing and the slice step vector.

    ``pixel_spacing`` is DICOM order (row spacing, column spacing), PS3.3 C.7.6.2.1.1.
    ``slice_step`` is the LPS vector from one slice's IPP to the next.
    """
    iop = np.asarray(orientation, dtype=np.float64)
    row_cosine, col_cosine = iop[:3], iop[3:]
    affine = np.eye(4)
    affine[:3, 0] = np.asarray(slice_step, dtype=np.float64)
    affine[:3, 1] = col_cosine * float(pixel_spacing[0])
    affine[:3, 2] = row_cosine * float(pixel_spacing[1])
    affine[:3, 3] = np.asarray(first_position, dtype=np.float64)
    return affine
