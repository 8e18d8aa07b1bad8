"""RECIST axes as lines: synthetic ellipses whose axes are known, on plain and rotated, oblique grids."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core.recist import RecistAxes
from meddiag_desktop.inference.findings import recist, recist_axes


def ellipse(shape: tuple[int, int], centre: tuple[float, float], semi: tuple[float, float], angle: float) -> np.ndarray:
    """Pixels inside an ellipse with semi-axes ``semi`` (rows along the first after rotating by ``angle``)."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    dy, dx = y - centre[0], x - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    a, b = c * dy + s * dx, -s * dy + c * dx
    return np.asarray((a / semi[0]) ** 2 + (b / semi[1]) ** 2 <= 1.0)


def axial_affine(pixel: float = 0.7, slice_mm: float = 5.0, flip_x: bool = False, turn_deg: float = 0.0) -> np.ndarray:
    """An axial grid, columns towards patient left (or right), optionally turned in the axial plane."""
    affine = np.eye(4)
    affine[:3, :3] = 0.0
    affine[0, 2] = -pixel if flip_x else pixel
    affine[1, 1], affine[2, 0] = pixel, slice_mm
    t = np.deg2rad(turn_deg)
    affine[:3, :3] = (
        np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]]) @ (affine[:3, :3])
    )
    affine[:3, 3] = (-120.0, -90.0, 300.0)
    return affine


def line_length(line: tuple[tuple[float, float, float], ...], affine: np.ndarray) -> float:
    lps = np.asarray(line) @ affine[:3, :3].T
    return float(np.linalg.norm(lps[1] - lps[0]))


def direction(line: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    d = np.asarray(line[1]) - np.asarray(line[0])
    return d[1:] / np.linalg.norm(d[1:])


def test_an_axis_aligned_ellipse_has_its_axes_where_it_was_drawn() -> None:
    mask = np.zeros((3, 60, 80), dtype=bool)
    mask[1] = ellipse((60, 80), (30, 40), (10, 25), 0.0)  # long along columns: 51 px, short 21 px
    mask[0] = mask[2] = ellipse((60, 80), (30, 40), (5, 12), 0.0)
    affine = axial_affine()
    axes = recist(mask, (7, 0, 0), affine)
    assert isinstance(axes, RecistAxes) and axes.slice_index == 8  # the widest slice, in volume indices
    assert axes.long_mm == pytest.approx(51 * 0.7) and axes.short_mm == pytest.approx(21 * 0.7)
    assert sorted(round(p[2], 6) for p in axes.long_axis) == [14.5, 65.5]  # outer pixel edges of columns 15..65
    assert all(p[1] == pytest.approx(30.0) for p in axes.long_axis)
    assert sorted(round(p[1], 6) for p in axes.short_axis) == [19.5, 40.5]
    assert all(p[2] == pytest.approx(40.0) for p in axes.short_axis)
    assert line_length(axes.long_axis, affine) == pytest.approx(axes.long_mm)  # the line is as long as its label
    assert line_length(axes.short_axis, affine) == pytest.approx(axes.short_mm)
    assert recist_axes(mask, (7, 0, 0), affine) == (axes.long_mm, axes.short_mm)


@pytest.mark.parametrize("angle_deg", [20.0, 45.0, 110.0])
@pytest.mark.parametrize(("flip_x", "turn_deg"), [(False, 0.0), (True, 0.0), (False, 25.0)])
def test_a_rotated_ellipse_gives_perpendicular_axes_along_its_own(
    angle_deg: float, flip_x: bool, turn_deg: float
) -> None:
    angle = np.deg2rad(angle_deg)
    mask = ellipse((120, 120), (60.0, 58.0), (40, 15), angle)[None]
    affine = axial_affine(pixel=0.8, flip_x=flip_x, turn_deg=turn_deg)
    axes = recist(mask, (0, 10, 20), affine)
    assert axes is not None
    true_long = np.array([np.cos(angle), np.sin(angle)])  # (row, col) of the ellipse's first semi-axis
    assert abs(direction(axes.long_axis) @ true_long) > np.cos(np.deg2rad(3.0))
    assert abs(direction(axes.short_axis) @ true_long) < np.sin(np.deg2rad(3.0))  # perpendicular to the long one
    assert axes.long_mm == pytest.approx(81 * 0.8, abs=1.5 * 0.8)  # 2 x 40 px between centres, plus one pixel
    assert axes.short_mm == pytest.approx(31 * 0.8, abs=1.5 * 0.8)
    centre = np.array([60.0 + 10, 58.0 + 20])
    middles = [(np.asarray(line[0]) + np.asarray(line[1]))[1:] / 2 for line in (axes.long_axis, axes.short_axis)]
    assert np.linalg.norm(middles[0] - centre) < 1.0  # the long axis is centred on the ellipse
    assert np.linalg.norm(middles[1] - centre) < 5.0  # the widest chord across it, near the centre (flat there)
    lps_long, lps_short = axes.lps(affine)
    assert np.linalg.norm(lps_long[1] - lps_long[0]) == pytest.approx(axes.long_mm)
    assert lps_short[0][2] == pytest.approx(300.0)  # on slice 0 of the volume


def test_a_single_pixel_measures_one_pixel_and_an_empty_mask_none() -> None:
    mask = np.zeros((2, 5, 5), dtype=bool)
    affine = axial_affine(pixel=0.9)
    assert recist(mask, (0, 0, 0), affine) is None
    assert recist_axes(mask, (0, 0, 0), affine) == pytest.approx((0.9, 0.9))
    mask[1, 2, 3] = True
    axes = recist(mask, (0, 0, 0), affine)
    assert axes is not None and axes.slice_index == 1 and (axes.long_mm, axes.short_mm) == pytest.approx((0.9, 0.9))
    assert line_length(axes.long_axis, affine) == pytest.approx(0.9)
    assert line_length(axes.short_axis, affine) == pytest.approx(0.9)
