"""Planted lung nodules: placed in aerated lung, drawn with partial volume, and their reference masks.

A nodule is a slightly flattened, randomly turned ellipsoid with a soft edge, free in the lung
parenchyma (its whole extent at least ``CLEARANCE_MM`` inside the lung mask, so it touches
neither pleura nor mediastinum). Solid nodules have soft-tissue density with some texture;
*faint* nodules (the planted failure) have the density of pale ground glass, barely above the
surrounding lung, which the lung-nodule model is not able to see. Thick slices get partial volume from
sub-slice samples; the reference mask is every voxel the nodule fills at least half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

SOLID_DIAMETER_MM = (18.0, 28.0)  # the model finds solid nodules from ~16 mm (measured, see docs)
SOLID_HU = (-10.0, 60.0)
FAINT_HU = (-720.0, -660.0)  # pale ground glass: ~150 HU above aerated lung
TEXTURE_HU = 12.0
EDGE_MM = 0.8
CLEARANCE_MM = 3.0
SEPARATION_MM = 10.0
Z_SAMPLES = 5  # sub-slice samples per slice for partial volume
DENSE_LIMIT_HU = 150.0  # bone and contrast-filled vessels are never painted over


@dataclass(frozen=True)
class PlantedLesion:
    """One planted nodule; ``centre_mm`` is ``(z, y, x)`` mm from the study's first voxel centre."""

    centre_mm: tuple[float, float, float]
    diameter_mm: float
    hu: float
    faint: bool
    axes: tuple[tuple[float, float, float], ...]  # rows: unit axes of the ellipsoid (z, y, x)
    scales: tuple[float, float, float]  # relative semi-axis lengths (mean ~1)

    @property
    def extent_mm(self) -> float:
        """The largest semi-axis in mm."""
        return self.diameter_mm / 2.0 * max(self.scales)


def _rotation(rng: np.random.Generator) -> NDArray[np.float64]:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return np.asarray(q * np.sign(np.diag(r)), dtype=np.float64)


def _candidates(depth_mm: NDArray[np.float32], spacing: tuple[float, float, float], radius: float) -> NDArray[np.int64]:
    """Voxels deep enough in the lung, with the whole nodule inside the slab along z."""
    z_mm = np.arange(depth_mm.shape[0]) * spacing[0]
    inside_z = (z_mm >= radius) & (z_mm <= z_mm[-1] - radius)
    ok = (depth_mm >= radius + CLEARANCE_MM) & inside_z[:, None, None]
    return np.argwhere(ok)


def place_lesions(
    rng: np.random.Generator, depth_mm: NDArray[np.float32], spacing: tuple[float, float, float], count: int,
    *, faint: bool,
) -> list[PlantedLesion]:  # fmt: skip
    """Up to ``count`` nodules in the slab's lung (``depth_mm``: distance to the lung border)."""
    out: list[PlantedLesion] = []
    for _ in range(count):
        lesion = _one_lesion(rng, depth_mm, spacing, out, faint=faint)
        if lesion is not None:
            out.append(lesion)
    return out


def _one_lesion(
    rng: np.random.Generator, depth_mm: NDArray[np.float32], spacing: tuple[float, float, float],
    placed: list[PlantedLesion], *, faint: bool,
) -> PlantedLesion | None:  # fmt: skip
    diameter = float(rng.uniform(*SOLID_DIAMETER_MM))
    scales = rng.uniform(0.85, 1.15, 3)
    scales = scales / np.cbrt(scales.prod())  # same volume as the sphere of ``diameter``
    radius = diameter / 2.0 * float(scales.max())
    candidates = _candidates(depth_mm, spacing, radius)
    for _ in range(20):
        if len(candidates) == 0:
            return None
        voxel = candidates[int(rng.integers(len(candidates)))]
        centre = voxel * np.asarray(spacing) + rng.uniform(-0.5, 0.5, 3) * np.asarray(spacing) * (0, 1, 1)
        if all(np.linalg.norm(centre - p.centre_mm) > radius + p.extent_mm + SEPARATION_MM for p in placed):
            hu = float(rng.uniform(*(FAINT_HU if faint else SOLID_HU)))
            axes = tuple((float(a), float(b), float(c)) for a, b, c in _rotation(rng))
            c = (float(centre[0]), float(centre[1]), float(centre[2]))
            return PlantedLesion(c, diameter, hu, faint, axes, (float(scales[0]), float(scales[1]), float(scales[2])))
    return None


def _bounds(centre: float, extent: float, step: float, size: int) -> slice:
    lo = max(0, int(np.floor((centre - extent) / step)) - 1)
    return slice(lo, min(size, int(np.ceil((centre + extent) / step)) + 2))


def _coverage(
    lesion: PlantedLesion, grid: tuple[slice, slice, slice], spacing: tuple[float, float, float]
) -> NDArray[np.float64]:
    """Share of each voxel of ``grid`` the nodule fills (z averaged over ``Z_SAMPLES`` sub-slices)."""
    sub = (np.arange(Z_SAMPLES) + 0.5) / Z_SAMPLES - 0.5
    z = ((np.arange(grid[0].start, grid[0].stop)[:, None] + sub[None, :]) * spacing[0]).ravel()
    y = np.arange(grid[1].start, grid[1].stop) * spacing[1]
    x = np.arange(grid[2].start, grid[2].stop) * spacing[2]
    points = np.stack(np.meshgrid(z, y, x, indexing="ij"), axis=-1) - np.asarray(lesion.centre_mm)
    local = points @ np.asarray(lesion.axes).T / np.asarray(lesion.scales)
    radius = lesion.diameter_mm / 2.0
    alpha = np.clip(0.5 - (np.linalg.norm(local, axis=-1) - radius) / EDGE_MM, 0.0, 1.0)
    return np.asarray(alpha.reshape(-1, Z_SAMPLES, len(y), len(x)).mean(axis=1), dtype=np.float64)


def draw_lesion(
    hu: NDArray[np.float32], spacing: tuple[float, float, float], lesion: PlantedLesion, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Composite ``lesion`` into ``hu`` (in place) and return its reference mask (filled >= half)."""
    extent = lesion.extent_mm + EDGE_MM
    grid = tuple(_bounds(c, extent, s, n) for c, s, n in zip(lesion.centre_mm, spacing, hu.shape, strict=True))
    z, y, x = grid
    alpha = _coverage(lesion, (z, y, x), spacing)
    old = hu[z, y, x]
    alpha = alpha * (old < DENSE_LIMIT_HU)
    value = lesion.hu + rng.normal(0.0, TEXTURE_HU, alpha.shape)
    hu[z, y, x] = (old * (1.0 - alpha) + value * alpha).astype(np.float32)
    mask = np.zeros(hu.shape, dtype=bool)
    mask[z, y, x] = alpha >= 0.5
    return mask
