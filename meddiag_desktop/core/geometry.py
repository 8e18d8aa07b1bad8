"""Stacking 2D frames into volumes: sort, split, and check geometry (PS3.3 C.7.6.2).

Frames are sorted by Image Position (Patient) projected on the slice normal, never by
file name or Instance Number. Every irregularity becomes a ``GeometryWarning`` in plain
words; nothing is silently resampled or averaged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.volume import GeometryWarning, WarningKind, affine_from_dicom

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

SPACING_TOLERANCE = 0.01  # 1 % deviation from the typical step counts as a gap
TILT_TOLERANCE_DEG = 0.01
DUPLICATE_TOLERANCE_MM = 1e-3
MIN_PLANE_SINE = 1e-3  # row and column directions closer than ~0.06 degrees do not define a plane


@dataclass(frozen=True)
class FrameGeometry:
    """What one 2D frame says about where it is."""

    key: int  # caller's handle for the frame
    rows: int
    columns: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    order_hint: int = 0  # instance/frame number, used only when positions are missing
    thickness: float | None = None


@dataclass(frozen=True)
class StackGeometry:
    """An ordered stack of frames and the affine that maps its indices to LPS."""

    keys: tuple[int, ...]
    affine: NDArray[np.float64]
    warnings: tuple[GeometryWarning, ...]
    slice_positions: NDArray[np.float64] | None  # set only when spacing is uneven


def build_stacks(frames: Sequence[FrameGeometry]) -> list[StackGeometry]:
    """Group frames into geometrically consistent stacks, each sorted along its normal."""
    if not frames:
        return []
    if not all(is_placeable(f) for f in frames):
        return _unpositioned_stacks(frames)
    groups = _group_by_plane(frames)
    stacks: list[StackGeometry] = []
    shared: list[GeometryWarning] = []
    if len(groups) > 1:
        shared.append(_mixed_warning(groups))
    for group in groups:
        for part, extra in _split_duplicates(group):
            stacks.append(_sorted_stack(part, (*shared, *extra)))
    return stacks


def is_placeable(frame: FrameGeometry) -> bool:
    """True when position and orientation can place the frame (PS3.3 C.7.6.2.1.1).

    Both must be present and finite, and the row and column direction cosines must span a
    plane: NaN/inf positions or collinear (or zero) direction vectors give no slice normal.
    """
    if frame.position is None or frame.orientation is None or len(frame.orientation) != 6:
        return False
    values = np.asarray((*frame.position, *frame.orientation), dtype=np.float64)
    if not np.all(np.isfinite(values)):
        return False
    row, column = values[3:6], values[6:9]
    lengths = float(np.linalg.norm(row)) * float(np.linalg.norm(column))
    return lengths > 0 and float(np.linalg.norm(np.cross(row, column))) / lengths > MIN_PLANE_SINE


def _unpositioned_stacks(frames: Sequence[FrameGeometry]) -> list[StackGeometry]:
    """Frames without geometry: one stack per matrix size, in instance order."""
    by_size: dict[tuple[int, int], list[FrameGeometry]] = defaultdict(list)
    for frame in frames:
        by_size[(frame.rows, frame.columns)].append(frame)
    stacks = [_unpositioned_stack(group) for group in by_size.values()]
    if len(stacks) > 1:
        note = GeometryWarning(
            WarningKind.MIXED_MATRIX,
            f"This series mixes {len(stacks)} image sizes; each size is shown as its own volume.",
        )
        stacks = [StackGeometry(s.keys, s.affine, (*s.warnings, note), None) for s in stacks]
    return stacks


def _unpositioned_stack(frames: Sequence[FrameGeometry]) -> StackGeometry:
    ordered = sorted(frames, key=lambda f: f.order_hint)
    first = ordered[0]
    spacing = first.pixel_spacing or (1.0, 1.0)
    affine = affine_from_dicom((0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0), spacing, np.array([0.0, 0.0, 1.0]))
    warnings: tuple[GeometryWarning, ...] = ()
    if len(frames) > 1:
        warnings = (
            GeometryWarning(
                WarningKind.MISSING_POSITION,
                f"{sum(not is_placeable(f) for f in frames)} of {len(frames)} images have no usable "
                "patient position or orientation (missing, not a number, or row and column directions "
                "that are parallel); they are shown in instance order and distances between slices are unknown.",
            ),
        )
    return StackGeometry(tuple(f.key for f in ordered), affine, warnings, None)


def _plane_key(frame: FrameGeometry) -> tuple[object, ...]:
    assert frame.orientation is not None
    return (tuple(round(v, 3) for v in frame.orientation), frame.rows, frame.columns)


def _group_by_plane(frames: Sequence[FrameGeometry]) -> list[list[FrameGeometry]]:
    groups: dict[tuple[object, ...], list[FrameGeometry]] = defaultdict(list)
    for frame in frames:
        groups[_plane_key(frame)].append(frame)
    return sorted(groups.values(), key=len, reverse=True)


def _mixed_warning(groups: list[list[FrameGeometry]]) -> GeometryWarning:
    sizes = ", ".join(str(len(g)) for g in groups)
    return GeometryWarning(
        WarningKind.MIXED_ORIENTATION,
        f"This series mixes {len(groups)} image orientations or matrix sizes ({sizes} images); "
        "each is shown as its own volume.",
    )


def normal_of(orientation: Sequence[float]) -> NDArray[np.float64]:
    """Slice normal: row cosine x column cosine (PS3.3 C.7.6.2.1.1)."""
    iop = np.asarray(orientation, dtype=np.float64)
    normal = np.cross(iop[:3], iop[3:])
    return normal / np.linalg.norm(normal)


def _distance(frame: FrameGeometry, normal: NDArray[np.float64]) -> float:
    return float(np.dot(np.asarray(frame.position), normal))


def _split_duplicates(group: list[FrameGeometry]) -> list[tuple[list[FrameGeometry], tuple[GeometryWarning, ...]]]:
    """Frames sharing a position are split into separate stacks by their occurrence."""
    buckets: dict[tuple[float, float, float], list[FrameGeometry]] = defaultdict(list)
    for frame in sorted(group, key=lambda f: (f.order_hint, f.key)):
        assert frame.position is not None
        buckets[tuple(round(p / DUPLICATE_TOLERANCE_MM) * DUPLICATE_TOLERANCE_MM for p in frame.position)].append(frame)  # type: ignore[index]
    depth = max(len(b) for b in buckets.values())
    if depth == 1:
        return [(group, ())]
    parts = [[b[i] for b in buckets.values() if len(b) > i] for i in range(depth)]
    uniform = all(len(b) == depth for b in buckets.values())
    if uniform:
        message = (
            f"This series holds {depth} images at every position (e.g. echoes, phases or time points); "
            f"it is split into {depth} volumes."
        )
        kind = WarningKind.MULTIPLE_STACKS
    else:
        repeated = sum(1 for b in buckets.values() if len(b) > 1)
        message = (
            f"{repeated} slice positions occur more than once; the repeated images are shown as "
            "separate volumes rather than dropped."
        )
        kind = WarningKind.DUPLICATE_POSITION
    return [(part, (GeometryWarning(kind, message),)) for part in parts]


def _sorted_stack(frames: list[FrameGeometry], inherited: tuple[GeometryWarning, ...]) -> StackGeometry:
    first = frames[0]
    assert first.orientation is not None
    normal = normal_of(first.orientation)
    ordered = sorted(frames, key=lambda f: _distance(f, normal))
    positions = np.array([f.position for f in ordered], dtype=np.float64)
    spacing = first.pixel_spacing or (1.0, 1.0)
    warnings = list(inherited)
    if first.pixel_spacing is None:
        warnings.append(
            GeometryWarning(WarningKind.MISSING_POSITION, "Pixel spacing is missing; measurements assume 1 mm pixels.")
        )
    if len(ordered) == 1:
        step = normal * (first.thickness or 1.0)
        affine = affine_from_dicom(positions[0], first.orientation, spacing, step)
        return StackGeometry((first.key,), affine, tuple(warnings), None)
    step, uneven = _slice_step(positions, normal, warnings)
    _check_tilt(step, normal, warnings)
    affine = affine_from_dicom(positions[0], first.orientation, spacing, step)
    return StackGeometry(tuple(f.key for f in ordered), affine, tuple(warnings), positions if uneven else None)


def _slice_step(
    positions: NDArray[np.float64], normal: NDArray[np.float64], warnings: list[GeometryWarning]
) -> tuple[NDArray[np.float64], bool]:
    distances = positions @ normal
    gaps = np.diff(distances)
    typical = float(np.median(gaps))
    deviant = np.flatnonzero(np.abs(gaps - typical) > SPACING_TOLERANCE * abs(typical))
    travel = positions[-1] - positions[0]
    if deviant.size == 0:
        return travel / (len(positions) - 1), False
    warnings.append(_gap_warning(gaps, deviant, typical))
    direction = travel / np.linalg.norm(travel)
    return direction * typical / float(np.dot(direction, normal)), True


def _gap_warning(gaps: NDArray[np.float64], deviant: NDArray[np.intp], typical: float) -> GeometryWarning:
    described = [f"{gaps[i]:.2f} mm between slices {i + 1} and {i + 2}" for i in deviant[:4]]
    more = f" and {deviant.size - 4} more" if deviant.size > 4 else ""
    return GeometryWarning(
        WarningKind.UNEVEN_SPACING,
        f"Uneven slice spacing (usually {typical:.2f} mm): {'; '.join(described)}{more}. "
        "Slices are shown at their true positions, not resampled; 3D views and volumes are approximate.",
    )


def _check_tilt(step: NDArray[np.float64], normal: NDArray[np.float64], warnings: list[GeometryWarning]) -> None:
    cosine = abs(float(np.dot(step, normal))) / float(np.linalg.norm(step))
    angle = math.degrees(math.acos(min(1.0, cosine)))
    if angle > TILT_TOLERANCE_DEG:
        warnings.append(
            GeometryWarning(
                WarningKind.GANTRY_TILT,
                f"Gantry tilt of {angle:.1f}°: slices are not perpendicular to the scan direction. "
                "The volume keeps the true (sheared) geometry; it is not resampled.",
            )
        )
