"""Manifest-driven pre-processing: checks, resampling to the model grid, windowing, body crop."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.errors import InferenceError
from meddiag_desktop.inference.lung_mask import body_mask
from meddiag_desktop.inference.morphology import bbox
from meddiag_desktop.inference.resample import Grid, antialias, covering_grid, to_grid

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.manifest import InputSpec, ModelManifest

AIR_HU = -1024.0
BODY_MARGIN_MM = 12.0


def normalise(hu: NDArray[np.float32], spec: InputSpec) -> NDArray[np.float32]:
    """Apply the manifest's clip window and normalisation to HU values."""
    lo, hi = spec.clip_hu
    out: NDArray[np.float32] = np.clip(hu, lo, hi, dtype=np.float32)  # the one copy; the rest in place
    if spec.normalisation == "window_to_unit":
        offset, scale = lo, hi - lo
    else:
        offset = spec.normalisation_params.get("mean", 0.0)
        scale = spec.normalisation_params.get("std", 1.0)
    out -= np.float32(offset)
    out /= np.float32(scale)
    return out


def pixel_sha256(volume: Volume) -> str:
    """sha256 over dtype, shape and C-order bytes of the voxel array (for the audit trail)."""
    arr = volume.array
    digest = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    for z in range(arr.shape[0]):  # slice by slice: ``tobytes()`` of the whole volume would copy it
        digest.update(np.ascontiguousarray(arr[z]).data)
    return digest.hexdigest()


def check_volume(volume: Volume, manifest: ModelManifest, *, overridden: bool = False) -> list[str]:
    """Refuse volumes the model is not meant for; return soft warnings for the rest.

    ``overridden``: the radiologist overrode the input check (``inference.ood``), so spacing
    outside the model's range is analysed; the other refusals stand.
    """
    if volume.array.ndim != 3:
        raise InferenceError("AI analysis needs a greyscale CT volume; this series is colour.")
    if volume.modality and volume.modality != manifest.modality:
        raise InferenceError(f"Model '{manifest.id}' is for {manifest.modality}; this series is {volume.modality}.")
    if volume.display.units not in ("", "HU"):
        raise InferenceError(f"Model '{manifest.id}' needs Hounsfield units, got {volume.display.units!r}.")
    warnings = []
    dz, dy, dx = volume.spacing
    lo, hi = manifest.acceptable_ranges.slice_thickness_mm
    if not overridden and not lo - 1e-3 <= dz <= hi + 1e-3:
        raise InferenceError(
            f"Slice spacing {dz:.2f} mm is outside the range model '{manifest.id}' was validated "
            f"for ({lo}-{hi} mm); not analysed."
        )
    lo, hi = manifest.acceptable_ranges.pixel_spacing_mm
    if not overridden and not (lo - 1e-3 <= dy <= hi + 1e-3 and lo - 1e-3 <= dx <= hi + 1e-3):
        raise InferenceError(
            f"Pixel spacing {dy:.2f} x {dx:.2f} mm is outside the range model '{manifest.id}' was "
            f"validated for ({lo}-{hi} mm); not analysed."
        )
    if volume.is_sheared:
        warnings.append("Gantry tilt: the series was resampled onto an axial grid for analysis.")
    return warnings


@dataclass(frozen=True, eq=False)
class ModelInput:
    """The volume on the model's grid, and the body-bounding sub-grid the network sees."""

    grid: Grid
    hu: NDArray[np.float32]
    body: NDArray[np.bool_]
    crop_start: tuple[int, int, int]
    crop_shape: tuple[int, int, int]
    masks: MaskGrid

    @property
    def crop_slices(self) -> tuple[slice, slice, slice]:
        s, n = self.crop_start, self.crop_shape
        return (slice(s[0], s[0] + n[0]), slice(s[1], s[1] + n[1]), slice(s[2], s[2] + n[2]))


Box = tuple[tuple[int, int, int], tuple[int, int, int]]
MASK_SLICE_MM = 5.0  # anatomy masks (body, lungs) are found on slabs of about this thickness


@dataclass(frozen=True, eq=False)
class MaskGrid:
    """The model grid averaged along z into ~5 mm slabs, where body and lung masks are found.

    Body and lung outlines change little over 5 mm; finding them on slabs halves their time and
    memory on a 2.5 mm model grid. :meth:`expand` repeats a slab mask back onto the model grid.
    """

    hu: NDArray[np.float32]
    spacing: tuple[float, float, float]
    factor: int
    depth: int  # slices of the model grid
    body: NDArray[np.bool_]  # on the slabs

    @classmethod
    def of(cls, hu: NDArray[np.float32], spacing: tuple[float, float, float]) -> MaskGrid:
        k = max(1, round(MASK_SLICE_MM / spacing[0]))
        if k == 1:
            return cls(hu, spacing, 1, hu.shape[0], body_mask(hu, spacing))
        n = -(-hu.shape[0] // k)
        padded = np.concatenate([hu, np.repeat(hu[-1:], n * k - hu.shape[0], axis=0)])
        slabs = np.asarray(padded.reshape(n, k, *hu.shape[1:]).mean(axis=1, dtype=np.float32), dtype=np.float32)
        slab_spacing = (spacing[0] * k, spacing[1], spacing[2])
        return cls(slabs, slab_spacing, k, hu.shape[0], body_mask(slabs, slab_spacing))

    def expand(self, mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return mask if self.factor == 1 else np.repeat(mask, self.factor, axis=0)[: self.depth]


def _body_box(body: NDArray[np.bool_], spacing: tuple[float, float, float]) -> Box:
    box = bbox(body)  # per-axis projections: ``np.argwhere`` of a body is 24 bytes per voxel (~200 MB)
    if box is None:
        return (0, 0, 0), (body.shape[0], body.shape[1], body.shape[2])
    margin = np.array([0, BODY_MARGIN_MM / spacing[1], BODY_MARGIN_MM / spacing[2]]).astype(int)
    lo = np.maximum(np.array([s.start for s in box]) - margin, 0)
    hi = np.minimum(np.array([s.stop for s in box]) + margin, body.shape)
    return (int(lo[0]), int(lo[1]), int(lo[2])), (int(hi[0] - lo[0]), int(hi[1] - lo[1]), int(hi[2] - lo[2]))


def on_model_grid(volume: Volume, spacing: tuple[float, float, float]) -> tuple[Grid, NDArray[np.float32]]:
    """The volume's HU on the axial LPS grid at ``spacing``, block-averaged first where finer."""
    grid = covering_grid(volume.affine, volume.shape, spacing)
    array, affine = antialias(volume.array, volume.affine, spacing)
    return grid, to_grid(array, affine, grid, fill=AIR_HU)


def to_model_input(volume: Volume, manifest: ModelManifest) -> ModelInput:
    """Resample onto the model's axial LPS grid and find the body's bounding box."""
    grid, hu = on_model_grid(volume, manifest.input.spacing_mm)
    return input_on_grid(grid, hu)


def input_on_grid(grid: Grid, hu: NDArray[np.float32]) -> ModelInput:
    """HU already on an axial grid, with its body mask and the body-bounding crop."""
    masks = MaskGrid.of(hu, grid.spacing)
    body = masks.expand(masks.body)
    start, shape = _body_box(body, grid.spacing)
    return ModelInput(grid, hu, body, start, shape, masks)
