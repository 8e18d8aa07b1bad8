"""Lesion candidates found on the model grid, then carried onto the scan's own grid.

Connected components are found where the network's probability passes the threshold, on the
model grid (a few MB), not on the original grid (a float per voxel of a 500-slice scan is
hundreds of MB). Only the candidates that survive the size and lung-region checks are mapped
back, each through its own bounding box.

With an extent threshold (hysteresis), a candidate is a component above that lower threshold
which holds a core above the operating threshold: the core decides whether there is a finding
(size, lung region, score), the extent how far it reaches. On real tumours the network is
often sure of a part and half-sure of the rest; the core alone under-measured them.

With ``clip_to_lung_region`` the extent is cut back to the lung region. A mass against the
mediastinum is, to the network, continuous with the mediastinal soft tissue, and its half-sure
extent ran along it; the reference tumours lie 98-100 % inside the region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.inference.findings import labelled_components, measure
from meddiag_desktop.inference.resample import Grid, from_grid

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

    from meddiag_desktop.core.finding import Finding
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.lung_zones import LungZones
    from meddiag_desktop.inference.manifest import PostprocessSpec

MAX_FINDINGS = 50
Box = tuple[slice, slice, slice]


@dataclass(frozen=True, eq=False)
class GridMaps:
    """What the candidates are measured against, all on the model grid."""

    grid: Grid
    prob: NDArray[np.float32]
    hu: NDArray[np.float32]
    lung: NDArray[np.bool_] | None  # aerated lung
    region: NDArray[np.bool_] | None  # lung envelope (lungs plus what indents them)
    zones: LungZones | None = None  # left and right lung, to name each finding's side and zone


@dataclass(frozen=True, eq=False)
class Candidate:
    """One connected component of the thresholded probability on the model grid, and its features."""

    box: Box  # on the model grid
    mask: NDArray[np.bool_]  # inside ``box``
    volume_ml: float
    max_prob: float
    mean_prob: float
    in_region: float  # share of its voxels inside the lung region (1.0 without a region)
    lung_contact: float  # share of its surface voxels that touch aerated lung
    z_extent_mm: float
    mean_hu: float

    def features(self) -> dict[str, float]:
        """The candidate's description, as used by a candidate score and reported with findings."""
        return {
            "log_volume_ml": float(np.log(self.volume_ml)),
            "mean_prob": self.mean_prob,
            "max_prob": self.max_prob,
            "lung_contact": self.lung_contact,
            "elongation": self.z_extent_mm / max(float(np.cbrt(6000.0 * self.volume_ml / np.pi)), 1e-6),
            "mean_hu": self.mean_hu,
            "in_region": self.in_region,
        }


def candidate_score(candidate: Candidate, post: PostprocessSpec | None) -> float:
    """Logistic score from the manifest's weights over :meth:`Candidate.features`; else mean probability."""
    if post is None or not post.score_weights:
        return candidate.mean_prob
    return logistic_score(candidate.features(), post.score_weights, post.score_bias)


def logistic_score(features: Mapping[str, float], weights: Mapping[str, float], bias: float) -> float:
    """``sigmoid(bias + sum(weight * feature))`` over the named features."""
    z = bias + sum(w * features[name] for name, w in weights.items())
    return float(1.0 / (1.0 + np.exp(-z)))


def _surface_contact(mask: NDArray[np.bool_], lung: NDArray[np.bool_]) -> float:
    """Share of the mask's boundary voxels with a 6-neighbour in ``lung`` (same shape, padded)."""
    inner = mask.copy()
    near = np.zeros_like(mask)
    for axis in range(3):
        for step in (1, -1):
            inner &= np.roll(mask, step, axis=axis)
            near |= np.roll(lung, step, axis=axis)
    surface = mask & ~inner
    return float((surface & near).sum()) / max(int(surface.sum()), 1)


def _padded(box: Box, shape: tuple[int, ...]) -> Box:
    return (
        slice(max(0, box[0].start - 1), min(shape[0], box[0].stop + 1)),
        slice(max(0, box[1].start - 1), min(shape[1], box[1].stop + 1)),
        slice(max(0, box[2].start - 1), min(shape[2], box[2].stop + 1)),
    )


def _in_padded(mask: NDArray[np.bool_], box: Box, padded: Box) -> NDArray[np.bool_]:
    """``mask`` (inside ``box``) placed in the larger ``padded`` box."""
    out = np.zeros(tuple(p.stop - p.start for p in padded), dtype=bool)
    out[tuple(slice(b.start - p.start, b.stop - p.start) for b, p in zip(box, padded, strict=True))] = mask
    return out


def _candidate(
    box: Box, mask: NDArray[np.bool_], maps: GridMaps, voxel_ml: float, core: NDArray[np.bool_]
) -> Candidate:
    probs = maps.prob[box][mask]
    padded = _padded(box, maps.prob.shape)
    contact = 0.0
    if maps.lung is not None:
        own = _in_padded(mask, box, padded)
        contact = _surface_contact(own, maps.lung[padded] & ~own)
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    return Candidate(
        box=box,
        mask=mask,
        volume_ml=float(mask.sum()) * voxel_ml,
        max_prob=float(probs.max()),
        mean_prob=float(probs.mean()),
        in_region=float(maps.region[box][core].mean()) if maps.region is not None else 1.0,
        lung_contact=contact,
        z_extent_mm=float(zs[-1] - zs[0] + 1) * maps.grid.spacing[0],
        mean_hu=float(maps.hu[box][mask].mean()),
    )


def grid_candidates(maps: GridMaps, threshold: float, post: PostprocessSpec | None) -> list[tuple[Candidate, float]]:
    """Components at the extent threshold, largest first, whose core above ``threshold`` is big
    enough, in the lung region and scoring enough.

    Returns each kept candidate with its score.
    """
    labels, boxes = labelled_components(maps.prob >= (post.extent_for(threshold) if post else threshold))
    voxel_ml = float(np.prod(maps.grid.spacing)) / 1000.0
    min_ml = post.min_volume_ml if post else 0.0
    min_region = post.min_fraction_in_lung_region if post and maps.region is not None else 0.0
    min_score = post.min_score if post else 0.0
    out: list[tuple[Candidate, float]] = []
    for label, box in enumerate(boxes, start=1):
        extent = labels[box] == label
        if float(extent.sum()) * voxel_ml < min_ml or len(out) >= MAX_FINDINGS:
            break  # components are sorted by size, and a core is never larger than its extent
        core = extent & (maps.prob[box] >= threshold)
        if float(core.sum()) * voxel_ml < min_ml:
            continue
        if post is not None and post.clip_to_lung_region and maps.region is not None:
            extent = _clipped(extent, core, maps.region[box])
        candidate = _candidate(box, extent, maps, voxel_ml, core)
        score = candidate_score(candidate, post)
        if candidate.in_region >= min_region and score >= min_score:
            out.append((candidate, score))
    return out


def _clipped(extent: NDArray[np.bool_], core: NDArray[np.bool_], region: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The extent inside the lung region; the whole extent when none of its core is (the
    region veto, not the clip, decides about such a candidate)."""
    inside = extent & region
    return inside if (core & region).any() else extent


def _native_box(candidate: Candidate, grid: Grid, volume: Volume, margin: int = 2) -> Box | None:
    """The scan voxels whose centres fall in the candidate's grid box (plus a margin)."""
    lo = np.array([s.start for s in candidate.box], dtype=np.float64) - 1
    hi = np.array([s.stop for s in candidate.box], dtype=np.float64)
    corners = np.array([[z, y, x] for z in (lo[0], hi[0]) for y in (lo[1], hi[1]) for x in (lo[2], hi[2])])
    lps = corners @ grid.affine[:3, :3].T + grid.affine[:3, 3]
    index = volume.lps_to_index(lps)
    start = np.maximum(np.floor(index.min(axis=0)).astype(int) - margin, 0)
    stop = np.minimum(np.ceil(index.max(axis=0)).astype(int) + margin + 1, volume.shape)
    if (stop <= start).any():
        return None
    return (slice(start[0], stop[0]), slice(start[1], stop[1]), slice(start[2], stop[2]))


def _sub_affine(volume: Volume, box: Box) -> NDArray[np.float64]:
    affine = volume.affine.copy()
    affine[:3, 3] = volume.index_to_lps((box[0].start, box[1].start, box[2].start))
    return affine


def native_finding(
    fid: str,
    candidate: Candidate,
    prob: NDArray[np.float32],
    grid: Grid,
    volume: Volume,
    native_prob: NDArray[np.floating],
    threshold: float,
) -> Finding | None:
    """The candidate measured on the scan's grid: its own probability, resampled and thresholded.

    Only this component's probability is carried over (a grown copy of its mask keeps the
    interpolation honest at its edge), so a neighbouring component never leaks into it.
    """
    box = _native_box(candidate, grid, volume)
    if box is None:
        return None
    pad = _padded(candidate.box, prob.shape)
    own = _in_padded(candidate.mask, candidate.box, pad)  # only the padded box: a whole-grid copy per finding adds up
    grown = np.where(own | _dilate(own), prob[pad], np.float32(0.0)).astype(np.float32, copy=False)
    shape = (box[0].stop - box[0].start, box[1].stop - box[1].start, box[2].stop - box[2].start)
    local_grid = grid.crop((pad[0].start, pad[1].start, pad[2].start), grown.shape)
    values = from_grid(grown, local_grid, _sub_affine(volume, box), shape)
    mask = values >= threshold
    if not mask.any():
        return None
    finding = _measured(fid, mask, box, volume, native_prob)
    inside = values[mask]  # float32: the float16 display map rounds 0.9999 up to 1.0
    return replace(finding, mean_prob=float(inside.mean()), max_prob=float(inside.max()))


def _dilate(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Grow by one voxel along each axis (6-connected)."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def native_probability(prob: NDArray[np.float32], grid: Grid, volume: Volume, slab: int = 32) -> NDArray[np.float16]:
    """The probability map on the scan's grid as float16, resampled a slab of slices at a time.

    A float32 map of a 500-slice scan would cost as much memory as the scan itself; slabs keep
    the working copy to ``slab`` slices.
    """
    out = np.empty(volume.shape, dtype=np.float16)
    for z0 in range(0, volume.shape[0], slab):
        z1 = min(volume.shape[0], z0 + slab)
        box = (slice(z0, z1), slice(0, volume.shape[1]), slice(0, volume.shape[2]))
        rows = _grid_rows(grid, volume, box)
        part = grid.crop((rows.start, 0, 0), (rows.stop - rows.start, grid.shape[1], grid.shape[2]))
        out[z0:z1] = from_grid(prob[rows], part, _sub_affine(volume, box), (z1 - z0, volume.shape[1], volume.shape[2]))
    return out


def _grid_rows(grid: Grid, volume: Volume, box: Box) -> slice:
    """The model-grid slices a block of scan voxels is interpolated from (one slice of margin)."""
    corners = np.array(
        [
            [z, y, x]
            for z in (box[0].start, box[0].stop - 1)
            for y in (0, volume.shape[1] - 1)
            for x in (0, volume.shape[2] - 1)
        ],
        dtype=np.float64,
    )
    lps_z = volume.index_to_lps(corners)[:, 2]
    index = (lps_z - grid.origin_lps[2]) / grid.spacing[0]
    lo = min(max(0, int(np.floor(index.min())) - 1), grid.shape[0] - 1)
    hi = min(grid.shape[0], int(np.ceil(index.max())) + 2)
    return slice(lo, max(hi, lo + 1))


def _measured(
    fid: str, mask: NDArray[np.bool_], box: Box, volume: Volume, native_prob: NDArray[np.floating]
) -> Finding:
    idx = np.argwhere(mask)
    lo = [int(v) for v in idx.min(axis=0)]
    hi = [int(v) + 1 for v in idx.max(axis=0)]
    tight = (
        slice(int(box[0].start) + lo[0], int(box[0].start) + hi[0]),
        slice(int(box[1].start) + lo[1], int(box[1].start) + hi[1]),
        slice(int(box[2].start) + lo[2], int(box[2].start) + hi[2]),
    )
    crop = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    return measure(fid, crop, tight, volume, native_prob)
