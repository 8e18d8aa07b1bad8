"""Stacking frames: sorting, gaps, tilt, duplicates, mixed orientation — on synthetic geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meddiag_desktop.core.geometry import FrameGeometry, build_stacks
from meddiag_desktop.core.volume import Volume, WarningKind

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def axial_frames(zs: list[float], orientation: tuple[float, ...] = AXIAL) -> list[FrameGeometry]:
    return [
        FrameGeometry(key=i, rows=4, columns=4, position=(-10.0, -20.0, z), orientation=orientation,
                      pixel_spacing=(0.5, 0.7), order_hint=len(zs) - i)
        for i, z in enumerate(zs)
    ]  # fmt: skip


def kinds(stack: object) -> set[WarningKind]:
    return {w.kind for w in stack.warnings}  # type: ignore[attr-defined]


def test_sorted_by_position_not_by_order_hint() -> None:
    [stack] = build_stacks(axial_frames([30.0, 10.0, 20.0, 0.0]))
    assert stack.keys == (3, 1, 2, 0)
    assert np.allclose(stack.affine[:3, 0], [0, 0, 10])
    assert np.allclose(stack.affine[:3, 1], [0, 0.5, 0])  # down a row: column cosine x row spacing
    assert np.allclose(stack.affine[:3, 2], [0.7, 0, 0])
    assert np.allclose(stack.affine[:3, 3], [-10, -20, 0])
    assert stack.warnings == ()


def test_gap_is_reported_with_slice_numbers_and_positions_kept() -> None:
    [stack] = build_stacks(axial_frames([0.0, 5.0, 10.0, 20.0, 25.0]))
    [warning] = stack.warnings
    assert warning.kind is WarningKind.UNEVEN_SPACING
    assert "10.00 mm between slices 3 and 4" in warning.message
    assert np.allclose(stack.affine[:3, 0], [0, 0, 5])  # the typical step, never an average
    assert stack.slice_positions is not None
    assert np.allclose(stack.slice_positions[:, 2], [0, 5, 10, 20, 25])


def test_gantry_tilt_keeps_sheared_geometry() -> None:
    tilt = math.radians(18.5)
    frames = [FrameGeometry(i, 4, 4, (0.0, -i * 5 * math.tan(tilt), i * 5.0), AXIAL, (1.0, 1.0)) for i in range(6)]
    [stack] = build_stacks(frames)
    assert kinds(stack) == {WarningKind.GANTRY_TILT}
    assert "18.5°" in stack.warnings[0].message
    volume = Volume(np.zeros((6, 4, 4), np.float32), stack.affine)
    assert volume.is_sheared
    assert np.allclose(volume.index_to_lps((5, 0, 0)), frames[5].position)


def test_repeated_positions_become_separate_stacks() -> None:
    frames = axial_frames([0.0, 5.0, 10.0, 0.0, 5.0, 10.0])
    stacks = build_stacks(frames)
    assert len(stacks) == 2
    assert all(kinds(s) == {WarningKind.MULTIPLE_STACKS} for s in stacks)
    assert sorted(k for s in stacks for k in s.keys) == list(range(6))


def test_mixed_orientations_are_split() -> None:
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    frames = axial_frames([0.0, 5.0, 10.0]) + [
        FrameGeometry(10 + i, 4, 4, (float(i), 0.0, 0.0), sagittal, (1.0, 1.0)) for i in range(2)
    ]
    stacks = build_stacks(frames)
    assert [len(s.keys) for s in stacks] == [3, 2]
    assert all(WarningKind.MIXED_ORIENTATION in kinds(s) for s in stacks)


def test_missing_positions_fall_back_to_instance_order_with_warning() -> None:
    frames = [FrameGeometry(i, 4, 4, None, None, None, order_hint=3 - i) for i in range(3)]
    [stack] = build_stacks(frames)
    assert stack.keys == (2, 1, 0)
    assert kinds(stack) == {WarningKind.MISSING_POSITION}


def test_oblique_series_sorted_along_normal() -> None:
    c, s = math.cos(0.3), math.sin(0.3)
    oblique = (1.0, 0.0, 0.0, 0.0, c, s)
    normal = np.cross(oblique[:3], oblique[3:])
    frames = [FrameGeometry(i, 4, 4, tuple(normal * d), oblique, (1.0, 1.0)) for i, d in enumerate([3.0, 1.0, 2.0])]
    [stack] = build_stacks(frames)  # type: ignore[arg-type]
    assert stack.keys == (1, 2, 0)
    assert stack.warnings == ()


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((3, 4, 4))])
def test_volume_rejects_bad_shapes(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="Volume"):
        Volume(bad, np.eye(3) if bad.ndim == 3 else np.eye(4))


def test_index_lps_round_trip() -> None:
    [stack] = build_stacks(axial_frames([0.0, 2.5, 5.0]))
    volume = Volume(np.zeros((3, 4, 4), np.float32), stack.affine)
    points = np.array([[0, 0, 0], [2, 3, 1.5]])
    assert np.allclose(volume.lps_to_index(volume.index_to_lps(points)), points)
    assert volume.spacing == pytest.approx((2.5, 0.5, 0.7))
