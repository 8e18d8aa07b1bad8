"""Thick slab / MIP for display (issue 11): the vectorised projection against a brute-force loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from meddiag_desktop.core.slab import SlabMode, slab_half_count, slab_label, slab_project


def _brute_force(array: np.ndarray, axis: int, index: int, half: int, mode: SlabMode) -> np.ndarray:
    """One output pixel at a time, one slice at a time, with plain Python."""
    moved = np.moveaxis(array, axis, 0)
    rows, cols = moved.shape[1:]
    out = np.zeros((rows, cols), dtype=np.float64)
    for r, c in itertools.product(range(rows), range(cols)):
        values = [float(moved[k, r, c]) for k in range(index - half, index + half + 1) if 0 <= k < moved.shape[0]]
        out[r, c] = max(values) if mode is SlabMode.MIP else sum(values) / len(values)
    return out


@pytest.mark.parametrize("mode", [SlabMode.MIP, SlabMode.MEAN])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize(("index", "half"), [(4, 2), (0, 3), (8, 3), (5, 0)])
def test_projection_matches_brute_force(mode: SlabMode, axis: int, index: int, half: int) -> None:
    rng = np.random.default_rng(7)
    array = rng.integers(-1024, 3000, size=(9, 9, 9)).astype(np.int16)
    got = slab_project(array, axis, index, half, mode)
    assert got.dtype == np.float32
    assert got.shape == tuple(n for a, n in enumerate(array.shape) if a != axis)
    np.testing.assert_allclose(got, _brute_force(array, axis, index, half, mode), rtol=1e-6, atol=1e-3)


def test_off_is_the_plane_itself() -> None:
    array = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3)
    np.testing.assert_array_equal(slab_project(array, 1, 2, 5, SlabMode.OFF), array[:, 2, :])


def test_half_count_covers_about_the_thickness() -> None:
    assert slab_half_count(10.0, 5.0) == 1  # 3 slices of the 5 mm demo
    assert slab_half_count(5.0, 5.0) == 0
    assert slab_half_count(20.0, 5.0) == 2  # 5 slices (25 mm of voxels, centres within 20 mm)
    assert slab_half_count(10.0, 0.7) == 7  # 15 columns of 0.7 mm
    assert slab_half_count(10.0, 0.0) == 0


def test_label() -> None:
    assert slab_label(SlabMode.MIP, 10.0) == "MIP 10 mm"
    assert slab_label(SlabMode.MEAN, 15.0) == "Mean 15 mm"
    assert slab_label(SlabMode.OFF, 10.0) == ""
